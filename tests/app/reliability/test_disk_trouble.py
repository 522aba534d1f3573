"""Clear words when the disk fails: a full or read-only data directory answers writes with
507 / 503 naming the directory and the cause, reads keep working, and nothing half-written
stays behind. The data directory is a small tmpfs of its own (mounting needs root; the test
is skipped where the machine does not allow it)."""

from __future__ import annotations

import contextlib
import errno
import json
import subprocess

import httpx
import numpy as np
import pytest

import cells
from tests.support import COUNTER_TEXT, ServerProcess


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(path) -> None:
    """Write zeros until the file system says it is full."""
    with open(path, "wb", buffering=0) as out:
        for size in (65536, 512):  # then the last partial page
            with contextlib.suppress(OSError):
                while out.write(b"\0" * size):
                    pass
    with pytest.raises(OSError) as full:
        with open(path.parent / "probe", "wb", buffering=0) as probe:
            probe.write(b"x" * 4096)
    assert full.value.errno == errno.ENOSPC


def leftovers(data) -> list[str]:
    """Partial writes and numbers no config names."""
    named = set()
    for config in (data / "sessions").glob("*.json"):
        values_file = json.loads(config.read_bytes()).get("values_file")
        if values_file:
            named.add(values_file)
    parts = [p.name for p in (data / "tmp").rglob("*") if p.is_file()]
    orphans = [p.name for p in (data / "sessions").glob("*.npy") if p.name not in named]
    return parts + orphans


def upload(url: str, folder, vocabulary: list[str]) -> httpx.Response:
    cell = cells.create("lstm", input_size=len(vocabulary), hidden_size=3, seed=1)
    path = folder / "cell.npz"
    cells.save(cell, path)
    files = {"file": ("cell.npz", path.read_bytes()),
             "vocabulary": ("vocab.json", json.dumps(vocabulary).encode())}
    return httpx.post(url + "/api/weights", files=files, timeout=60)


@pytest.mark.slow
def test_full_then_read_only_data_directory(small_disk, tmp_path):
    data = small_disk / "data"
    rows = np.random.default_rng(0).normal(size=(2000, 3)).tolist()
    with ServerProcess(data) as server:
        before = httpx.post(server.url + "/api/sessions", timeout=60,
                            json={"preset": "counter", "sequence": {"text": COUNTER_TEXT}})
        assert before.status_code == 201, before.text
        session = before.json()["id"]

        fill(small_disk / "filler")
        for body in ({"cell": "lstm", "input_size": 3, "hidden_size": 4,
                      "sequence": {"values": rows}},
                     {"preset": "counter", "sequence": {"text": COUNTER_TEXT}}):
            refused = httpx.post(server.url + "/api/sessions", json=body, timeout=60)
            assert refused.status_code == 507, refused.text
            detail = refused.json()["detail"]
            assert str(data.resolve()) in detail and "the disk is full" in detail
        refused = upload(server.url, tmp_path, list("ab()"))
        assert refused.status_code == 507, refused.text
        assert "the disk is full" in refused.json()["detail"]
        # reads keep working
        assert httpx.get(f"{server.url}/api/sessions/{session}", timeout=30).status_code == 200
        trace = httpx.get(f"{server.url}/api/sessions/{session}/trace?start=0&stop=5",
                          timeout=30)
        assert trace.status_code == 200, trace.text
        assert leftovers(data) == []
        assert len(list((data / "sessions").glob("*.json"))) == 1

        (small_disk / "filler").unlink()
        subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
        refused = httpx.post(server.url + "/api/sessions", timeout=60,
                             json={"preset": "counter", "sequence": {"text": "((x))"}})
        assert refused.status_code == 503, refused.text
        assert "read-only" in refused.json()["detail"]
        assert str(data.resolve()) in refused.json()["detail"]
        appended = httpx.post(f"{server.url}/api/sessions/{session}/append", timeout=60,
                              json={"text": "(("})
        assert appended.status_code == 503, appended.text
        assert httpx.get(f"{server.url}/api/sessions/{session}", timeout=30).status_code == 200

        subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
        again = httpx.post(server.url + "/api/sessions", timeout=60,
                           json={"preset": "counter", "sequence": {"text": "((x))"}})
        assert again.status_code == 201, again.text  # the disk back, the server is too
