"""Durability: files and their folder are flushed before 201; what a crash leaves behind is
cleaned at start; a trace being reused is the one its config describes."""

from __future__ import annotations

import os
import stat
import threading
import time

import numpy as np

import cells
from app.sessions.traces import SharedTrace
from tests.support import create_session


def test_files_and_folders_are_flushed_before_the_answer(client, monkeypatch, settings):
    flushed = []
    real_fsync = os.fsync

    def recording_fsync(fd):
        flushed.append(stat.S_ISDIR(os.fstat(fd).st_mode))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    create_session(client, cell="lstm", hidden_size=2, sequence={"values": [[1.0], [2.0]]})
    # the numbers, the config, and the folder after each rename
    assert flushed.count(False) >= 2 and flushed.count(True) >= 2
    flushed.clear()
    path = settings.data_dir / "w.npz"
    cells.save(cells.create("gru", input_size=1, hidden_size=2), path)
    assert client.post("/api/weights", files={"file": ("w.npz", path.read_bytes())}) \
        .status_code == 201
    assert flushed.count(False) >= 2 and flushed.count(True) >= 1


def test_what_a_crash_leaves_behind_is_cleaned_at_start(make_client, settings):
    first = make_client()
    kept = create_session(first, cell="lstm", hidden_size=2, sequence={"values": [[1.0]]})
    data = settings.data_dir
    old = time.time() - 3600
    leftovers = [data / "tmp" / "x.part", data / "tmp" / "upload-abc" / "w.npz",
                 data / "weights" / ("a" * 64 + ".npz"),  # an upload without its description
                 data / "sessions" / ("B" * 22 + "." + "0" * 16 + ".npy"),  # numbers of nobody
                 data / "locks" / ("C" * 22 + ".lock")]
    young = data / "tmp" / "y.part"  # another live worker's write in progress
    for path in [*leftovers, young]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    for path in [*leftovers, leftovers[1].parent]:
        os.utime(path, (old, old))
    make_client()  # a new server process starts on the directory
    assert [p for p in leftovers if p.exists()] == []
    assert young.exists()
    assert make_client().get(f"/api/sessions/{kept['id']}/trace").status_code == 200


def test_a_shared_parent_trace_serves_one_child_only(make_client, monkeypatch):
    """Two sessions with the same content share one trace; each is appended to in one
    process, and another process reads both at once: only one may take the shared trace
    and extend it, the other must compute its own (before: both extended the same one)."""
    first, second = make_client(), make_client()
    a = create_session(first, preset="counter", sequence={"text": "(("})
    b = create_session(first, preset="counter", sequence={"text": "(("})
    second.get(f"/api/sessions/{a['id']}/trace")  # the second process holds the trace
    first.post(f"/api/sessions/{a['id']}/append", json={"text": "a)"})
    first.post(f"/api/sessions/{b['id']}/append", json={"text": ")))"})
    together = threading.Barrier(2)
    real_extend = SharedTrace.extend

    def slow_extend(self, more):
        try:
            together.wait(timeout=1)  # two threads extending one trace meet here
        except threading.BrokenBarrierError:
            pass
        real_extend(self, more)

    monkeypatch.setattr(SharedTrace, "extend", slow_extend)
    results = {}

    def read(session):
        results[session["id"]] = second.get(f"/api/sessions/{session['id']}/trace").json()

    threads = [threading.Thread(target=read, args=(s,)) for s in (a, b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    preset = cells.presets.get("counter")
    for session, text in ((a, "((a)"), (b, "(()))")):
        expected = preset.cell.run(preset.encode(text))
        got = np.array(results[session["id"]]["signals"]["c"], np.float32)
        assert np.array_equal(got, expected["c"]), session["id"]
