"""From a notebook or a shell: `gatescope open FILE …` and `app.show(model, sequence)` start
a real local server in the background (or use the running one), make the session and give
its URL; the browser is opened through `webbrowser` (here a $BROWSER script that writes
down what it was asked to open)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

import app
import cells
from tests.support import end_process, free_port, wait_until

ROOT = Path(__file__).resolve().parents[3]
VOCABULARY = list("abc ")
TEXT = "a cab"


class TextModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(3)
        self.emb = torch.nn.Embedding(len(VOCABULARY), 3)
        self.gru = torch.nn.GRU(3, 4, num_layers=2, bidirectional=True)
        self.fc = torch.nn.Linear(8, len(VOCABULARY))


def get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def session_of(url: str) -> dict:
    base, session_id = url.split("/?session=")
    return get(f"{base}/api/sessions/{session_id}")


@pytest.fixture
def servers():
    """pids of the servers a test started; each is ended afterwards."""
    pids: set[int] = set()
    yield pids
    for pid in pids:
        end_process(pid)


def run_open(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", "open", *args], cwd=ROOT,
                          env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=120)


def pid_in(stderr: str) -> int:
    return int(stderr.rsplit("pid ", 1)[1].split(")", 1)[0])


def test_gatescope_open_starts_a_server_then_reuses_it(tmp_path, servers):
    weights = tmp_path / "model.safetensors"
    save_file(TextModel().state_dict(), str(weights))
    vocabulary = tmp_path / "vocab.txt"
    vocabulary.write_text("\n".join(VOCABULARY) + "\n")
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.py"
    browser.write_text("import sys\nopen(sys.argv[2], 'a').write(sys.argv[1] + '\\n')\n")
    port = str(free_port())
    env = {"BROWSER": f"{sys.executable} {browser} %s {opened}"}
    first = run_open(str(weights), "--text", TEXT, "--vocabulary", str(vocabulary), "--port",
                     port, "--data-dir", str(tmp_path / "data"), env=env)
    assert first.returncode == 0, first.stderr
    servers.add(pid_in(first.stderr))
    assert "started in the background" in first.stderr
    url = first.stdout.strip()
    assert url.startswith(f"http://127.0.0.1:{port}/?session=")
    record = session_of(url)
    assert record["layers"] == 2 and record["directions"] == ["forward", "backward"]
    assert record["head"]["labels"] == VOCABULARY and record["steps"] == len(TEXT)
    # the browser was asked to open exactly that URL
    wait_until(lambda: opened.exists() and opened.read_text().strip(), "the browser opened")
    assert opened.read_text().split() == [url]

    cell = cells.create("lstm", input_size=2, hidden_size=3, seed=1)
    cells.save(cell, tmp_path / "cell.safetensors")
    rows = tmp_path / "rows.csv"
    rows.write_text("x,y\n0,1\n1,0\n0.5,0.5\n")
    second = run_open(str(tmp_path / "cell.safetensors"), "--csv", str(rows), "--port", port,
                      "--no-browser", env={})
    assert second.returncode == 0, second.stderr
    assert "already running" in second.stderr and pid_in(second.stderr) in servers
    single = session_of(second.stdout.strip())
    assert single["layers"] == 1 and single["head"] is None and single["steps"] == 3
    assert opened.read_text().split() == [url]  # --no-browser: nothing more was opened


def test_open_names_a_missing_file(tmp_path):
    done = run_open(str(tmp_path / "nope.onnx"), "--text", "a", env={})
    assert done.returncode == 2 and "nope.onnx" in done.stderr


def test_show_takes_a_module_a_model_or_a_path(tmp_path, servers, monkeypatch):
    monkeypatch.setenv("GATESCOPE_NO_BROWSER", "1")
    port = free_port()
    module = TextModel()
    url = app.show(module, TEXT, vocabulary="".join(VOCABULARY), port=port,
                   data_dir=tmp_path / "data", open_browser=True)
    servers.add(get(f"http://127.0.0.1:{port}/api/health")["pid"])
    record = session_of(url)
    assert record["layers"] == 2 and record["head"]["labels"] == VOCABULARY
    # the session's probabilities are torch's own
    base, session_id = url.split("/?session=")
    probs = get(f"{base}/api/sessions/{session_id}/trace?names=probs")["signals"]["probs"]
    ids = torch.tensor([VOCABULARY.index(ch) for ch in TEXT])
    with torch.no_grad():
        y, _ = module.gru(module.emb(ids)[:, None])
        expected = torch.softmax(module.fc(y[:, 0]), -1).numpy()
    np.testing.assert_allclose(probs, expected, rtol=1e-5, atol=1e-6)

    model = cells.from_torch(module, vocabulary="".join(VOCABULARY))
    again = app.show(model, "cab", port=port)
    assert session_of(again)["steps"] == 3
    cell_file = tmp_path / "cell.npz"
    cells.save(cells.create("gru", input_size=2, hidden_size=2, seed=0), cell_file)
    by_path = app.show(cell_file, np.array([[0.0, 1.0], [1.0, 0.0]]), port=port)
    assert session_of(by_path)["cell"] == "gru"
    assert get(f"http://127.0.0.1:{port}/api/health")["pid"] in servers  # one server
