"""`gatescope train` as a user runs it: a real subprocess, its file, its Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import cells

ROOT = Path(__file__).resolve().parents[3]
TEXT = ("def count(brackets):\n    depth = 0\n    for ch in brackets:  # walk\n"
        "        depth += {'(': 1, ')': -1}.get(ch, 0)\n    return depth\n") * 12


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "app", "train", *args]


def _params(model: cells.Model) -> dict[str, np.ndarray]:
    out = {}
    for index in range(model.layers):
        for name, value in model.cell(index).params.items():
            out[f"{index}.{name}"] = value
    out["head.weight"], out["head.bias"] = model.head.weight, model.head.bias
    return out


def _assert_same_weights(a: cells.Model, b: cells.Model) -> None:
    pa, pb = _params(a), _params(b)
    assert pa.keys() == pb.keys()
    for name in pa:
        assert pa[name].dtype == pb[name].dtype, name
        assert np.array_equal(pa[name], pb[name]), name  # bit for bit


def test_train_writes_what_cells_train_returns(tmp_path):
    source = tmp_path / "code.txt"
    source.write_text(TEXT, encoding="utf-8")
    out = tmp_path / "model.safetensors"
    done = subprocess.run(
        _command(str(source), "--cell", "gru", "--hidden", "12", "--layers", "2", "--steps",
                 "7", "--seq-len", "16", "--batch", "4", "--lr", "0.01", "--seed", "3",
                 "--out", str(out)),
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "7/7 loss" in done.stderr and "ETA" in done.stderr
    assert f"gatescope open {out} --text" in done.stderr  # how to open it in the page
    loaded = cells.load_model(out)
    expected = cells.train(
        cells.char_model("gru", cells.text.derive_vocabulary(TEXT), hidden_size=12, layers=2,
                         seed=3), TEXT, steps=7, seq_len=16, batch=4, lr=0.01, seed=3)
    _assert_same_weights(loaded, expected.model)
    assert loaded.vocabulary == expected.model.vocabulary
    assert not list(tmp_path.glob(".model.*"))  # no temporary file left behind


def test_sigint_keeps_the_best_weights_in_a_complete_file(tmp_path):
    source = tmp_path / "code.txt"
    source.write_text(TEXT, encoding="utf-8")
    out = tmp_path / "model.safetensors"
    # Off a terminal the bar writes a line at step 1 and then every tenth of the run: Ctrl-C
    # comes once the line of step 200 is read, so training has done at least 200 steps and
    # has 1800 to go (seconds of work) when it is interrupted.
    args = ["--hidden", "24", "--steps", "2000", "--seq-len", "16", "--batch", "4",
            "--lr", "0.01"]
    process = subprocess.Popen(_command(str(source), *args, "--out", str(out)), cwd=ROOT,
                               stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    try:
        first = process.stderr.readline()  # the bar's first line: training has begun
        assert "1/2000" in first, first
        second = process.stderr.readline()
        assert "200/2000" in second, second
        process.send_signal(signal.SIGINT)
        rest = process.stderr.read()
        assert process.wait(timeout=60) == 130, rest
    finally:
        if process.poll() is None:
            process.kill()
    match = re.search(r"stopped at step (\d+) of 2000; kept the best weights \(step (\d+)",
                      rest)
    assert match, rest
    stopped, best_step = int(match[1]), int(match[2])
    assert 1 <= best_step <= stopped < 2000
    assert stopped >= 200  # the steps whose line was read
    loaded = cells.load_model(out)  # complete and loadable
    again = cells.train(cells.char_model("lstm", cells.text.derive_vocabulary(TEXT),
                                         hidden_size=24),
                        TEXT, steps=stopped, seq_len=16, batch=4, lr=0.01, keep_best=True)
    assert again.best_step == best_step
    assert min(again.losses, key=lambda item: item[1])[0] == best_step
    _assert_same_weights(loaded, again.best)


def test_bad_input_is_named(tmp_path):
    binary = tmp_path / "weights.bin"
    binary.write_bytes(b"\xff\xfe\x00\x81" * 10)
    done = subprocess.run(_command(str(binary), "--steps", "1"), cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "not UTF-8 text" in done.stderr
    done = subprocess.run(_command(str(tmp_path / "missing.txt")), cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "no file" in done.stderr


@pytest.mark.parametrize("kind", cells.KINDS)
def test_keep_best_does_not_change_training(kind):
    model = cells.char_model(kind, cells.text.derive_vocabulary(TEXT), hidden_size=6)
    plain = cells.train(model, TEXT, steps=5, seq_len=8, batch=2)
    kept = cells.train(model, TEXT, steps=5, seq_len=8, batch=2, keep_best=True)
    _assert_same_weights(plain.model, kept.model)
    assert plain.losses == kept.losses
    assert plain.best is None and kept.best is not None
