"""Real uvicorn processes on loopback: shared data directory, workers, a stalled client."""

from __future__ import annotations

import json

import httpx
import numpy as np
import psutil
import pytest
from websockets.sync.client import connect

from tests.support import (
    COUNTER_TEXT,
    ServerProcess,
    counter_trace,
    started_together,
    wait_until,
)

pytestmark = pytest.mark.slow


def ws_url(server: ServerProcess, session_id: str) -> str:
    return f"ws://127.0.0.1:{server.port}/api/sessions/{session_id}/stream"


def test_two_processes_serve_one_session(tmp_path):
    data = tmp_path / "data"
    with started_together(ServerProcess(data), ServerProcess(data)) as (a, b):
        created = httpx.post(a.url + "/api/sessions",
                             json={"preset": "counter", "sequence": {"text": COUNTER_TEXT}})
        assert created.status_code == 201
        session_id = created.json()["id"]
        assert httpx.get(f"{b.url}/api/sessions/{session_id}").json() == created.json()
        pids = {httpx.get(s.url + "/api/health").json()["pid"] for s in (a, b)}
        assert len(pids) == 2

        with connect(ws_url(a, session_id)) as ws:
            ws.send(json.dumps({"seek": 3}))
            frame = json.loads(ws.recv(timeout=10))
            assert (frame["t"], frame["steps"]) == (3, len(COUNTER_TEXT))
            grown = httpx.post(f"{b.url}/api/sessions/{session_id}/append", json={"text": "(("})
            assert grown.json()["steps"] == len(COUNTER_TEXT) + 2
            ws.send(json.dumps({"seek": len(COUNTER_TEXT) + 1}))  # A sees B's append
            frame = json.loads(ws.recv(timeout=10))
        expected = counter_trace(COUNTER_TEXT + "((")
        assert frame["steps"] == len(COUNTER_TEXT) + 2
        for name in expected.names:
            got = np.array(frame["signals"][name], np.float32)
            assert np.array_equal(got, expected[name][frame["t"]]), name
        trace = httpx.get(f"{a.url}/api/sessions/{session_id}/trace").json()
        assert np.array_equal(np.array(trace["signals"]["c"], np.float32), expected["c"])


def test_uvicorn_workers_share_sessions(tmp_path):
    with ServerProcess(tmp_path / "data", "--workers", "2") as server:
        ids = []
        for i in range(10):  # fresh connections: the kernel hands them to either worker
            with httpx.Client(base_url=server.url) as client:
                ids.append(client.post("/api/sessions", json={
                    "hidden_size": 2, "sequence": {"text": f"ab{i}"}}).json()["id"])
        served_by: dict[int, set[str]] = {}
        for attempt in range(200):
            session_id = ids[attempt % len(ids)]
            with httpx.Client(base_url=server.url) as client:  # one connection, one worker
                pid = client.get("/api/health").json()["pid"]
                assert client.get(f"/api/sessions/{session_id}/trace").status_code == 200
            served_by.setdefault(pid, set()).add(session_id)
            if len(served_by) == 2 and attempt >= 2 * len(ids):
                break
        assert len(served_by) == 2  # both workers answered, each from the shared directory
        workers = psutil.Process(server.process.pid).children(recursive=True)
        assert {w.pid for w in workers} >= set(served_by)


def health_when(server, holds, what: str) -> dict:
    """The server's /api/health once `holds(health)` is true."""
    def health():
        body = httpx.get(server.url + "/api/health").json()
        return body if holds(body) else None
    return wait_until(health, what)


def test_a_stalled_client_does_not_grow_server_memory(tmp_path):
    with ServerProcess(tmp_path / "data") as server:
        values = np.random.default_rng(0).standard_normal((4000, 8)).tolist()
        created = httpx.post(server.url + "/api/sessions", timeout=60, json={
            "cell": "lstm", "hidden_size": 256, "sequence": {"values": values}})
        session_id = created.json()["id"]
        process = psutil.Process(server.process.pid)
        with connect(ws_url(server, session_id), max_queue=1, close_timeout=1) as ws:
            ws.send(json.dumps({"seek": 0}))
            ws.recv(timeout=10)
            rss_before = process.memory_info().rss
            tasks = httpx.get(server.url + "/api/health").json()["tasks"]  # no player yet
            ws.send(json.dumps({"play": 1000}))  # ~70 KB frames at 1000/s, never read
            # The play is over when its player task has ended: every frame of the 4000 steps
            # was made for a client that read none of them.
            health = health_when(server, lambda h: h["frames_dropped"] > 0 and h["tasks"] == tasks,
                                 "the play to reach the last step")
            rss_after = process.memory_info().rss
            assert health["frames_dropped"] > 0  # the bounded queue let frames go
            assert rss_after - rss_before < 40 * 2**20, (rss_before, rss_after)
        health = health_when(server, lambda h: (h["tasks"], h["connections"]) == (0, 0),
                             "the stream task and its connection gone")
        assert (health["tasks"], health["connections"]) == (0, 0)
