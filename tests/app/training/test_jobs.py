"""Training jobs through the API: start, progress over a real WebSocket, cancel, bounds,
the wall-time cap, a restart, and the trained session's trace against the engine."""

from __future__ import annotations

import json
import signal

import httpx
import numpy as np
import psutil
import pytest
from websockets.sync.client import connect

import cells
from tests.support import TOLERANCE, ServerProcess, assert_error, wait_until

TEXT = "the cat sat on the mat; the bat ate the rat. " * 6
SMALL = {"text": TEXT, "cell": "gru", "hidden_size": 8, "layers": 2, "steps": 25, "seq_len": 12,
         "batch": 4, "lr": 0.02, "seed": 5}
LONG = {"text": TEXT, "hidden_size": 48, "steps": 20_000, "seq_len": 16, "batch": 4}


def _wait(client, job: str, states: tuple[str, ...], timeout: float = 60.0,
          min_step: int = 0) -> dict:
    """The job's status once it is in one of `states`, at `min_step` or later."""
    def reached():
        body = client.get(f"/api/train/{job}").json()
        return body if body["state"] in states and body["step"] >= min_step else None
    return wait_until(reached, f"job {job} to reach {states} at step {min_step}+", timeout)


def test_a_job_streams_its_steps_and_becomes_a_session_the_engine_agrees_with(tmp_path):
    with ServerProcess(tmp_path / "data") as server:
        accepted = httpx.post(server.url + "/api/train", json=SMALL, timeout=30)
        assert accepted.status_code == 202, accepted.text
        job = accepted.json()["job"]
        frames = []
        with connect(f"ws://127.0.0.1:{server.port}/api/train/{job}/progress",
                     open_timeout=30) as socket:
            for message in socket:
                frames.append(json.loads(message))
        batches = [f for f in frames if "state" not in f]
        # each message carries the steps done since the last one; step and loss the newest
        assert all(f["losses"][-1] == [f["step"], f["loss"]] for f in batches)
        steps = [{"step": s, "loss": loss} for f in batches for s, loss in f["losses"]]
        states = [f for f in frames if "state" in f]
        assert [f["step"] for f in steps] == list(range(1, 26))
        assert all(np.isfinite(f["loss"]) for f in steps)
        assert states[0]["state"] in ("queued", "running")
        final = states[-1]
        assert final["state"] == "done" and final["step"] == 25 and final["session"]
        assert final["loss"] == steps[-1]["loss"]
        status = httpx.get(f"{server.url}/api/train/{job}").json()
        assert status == final
        session = httpx.get(f"{server.url}/api/sessions/{final['session']}").json()
        traces = [httpx.get(f"{server.url}/api/sessions/{final['session']}/trace",
                            params={"layer": layer}, timeout=30).json() for layer in (0, 1)]
    # The same training in the engine, run here: its layer 0 on the text is the session.
    vocabulary = cells.text.derive_vocabulary(TEXT)
    model = cells.char_model("gru", vocabulary, hidden_size=8, layers=2, seed=5)
    result = cells.train(model, TEXT, steps=25, seq_len=12, batch=4, lr=0.02, seed=5)
    assert [loss for _, loss in result.losses] == [f["loss"] for f in steps]
    # a session of the whole model: both layers and the softmax head over the vocabulary
    assert session["layers"] == 2 and session["directions"] == ["forward"]
    assert session["head"]["kind"] == "softmax"
    assert session["head"]["labels"] == list(vocabulary)
    run = result.model.run(TEXT)
    for layer, trace in enumerate(traces):
        expected = run.layer(layer, "forward")
        for name in ("z", "r", "n", "h"):
            np.testing.assert_allclose(np.array(trace["signals"][name]), expected[name],
                                       atol=TOLERANCE["float32"], rtol=0)


def test_cancel_keeps_nothing_and_a_finished_job_cannot_be_cancelled(make_client):
    client = make_client()
    job = client.post("/api/train", json=LONG).json()["job"]
    _wait(client, job, ("running",), min_step=1)
    cancelled = client.delete(f"/api/train/{job}")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    body = _wait(client, job, ("cancelled",))
    assert body["session"] is None
    assert_error(client.delete(f"/api/train/{job}"), 409, "job", "already cancelled")
    assert_error(client.get("/api/train/not-a-job"), 404, "job")


def test_bounds_are_refused_by_name(make_client):
    client = make_client(max_train_steps=100, max_train_text=500, max_train_hidden_size=16,
                         max_train_running=1, max_train_queued=1, max_train_jobs_per_client=3)
    assert_error(client.post("/api/train", json={**SMALL, "steps": 101}), 422, "steps",
                 "limit of 100")
    assert_error(client.post("/api/train", json={**SMALL, "text": "ab" * 251}), 422, "text",
                 "502 characters", "limit of 500")
    assert_error(client.post("/api/train", json={**SMALL, "hidden_size": 17}), 422,
                 "hidden_size")
    assert_error(client.post("/api/train", json={**SMALL, "text": "aaaa"}), 422, "text",
                 "2 different characters")
    assert_error(client.post("/api/train", json={**SMALL, "cell": "nope"}), 422, "cell")
    assert_error(client.post("/api/train", json={**SMALL, "lr": 0}), 422, "lr")
    assert_error(client.post("/api/train", json={**SMALL, "text": "abcd", "batch": 4}), 422,
                 "batch", "at least 5 characters")
    # One runs, one waits; the third is refused (429), not queued without bound.
    busy = {**SMALL, "steps": 100, "hidden_size": 16}
    first = client.post("/api/train", json=busy).json()["job"]
    second = client.post("/api/train", json=busy).json()["job"]
    assert client.get(f"/api/train/{second}").json()["state"] == "queued"
    assert_error(client.post("/api/train", json=busy), 429, None, "training jobs")
    for job in (second, first):
        client.delete(f"/api/train/{job}")
    assert client.get(f"/api/train/{second}").json()["state"] == "cancelled"


def test_the_wall_time_cap_stops_a_job_and_keeps_what_it_learned(make_client):
    client = make_client(max_train_seconds=1.5)
    job = client.post("/api/train", json=LONG).json()["job"]  # nobody watches it
    body = _wait(client, job, ("done", "failed", "cancelled"), timeout=60)
    assert body["state"] == "done", body
    assert 0 < body["step"] < LONG["steps"]
    assert "wall-time cap" in body["error"]
    assert client.get(f"/api/sessions/{body['session']}").status_code == 200


def test_cross_site_pages_cannot_start_or_cancel(make_client):
    client = make_client()
    evil = {"Origin": "http://evil.example"}
    assert client.post("/api/train", json=SMALL, headers=evil).status_code == 403
    assert client.delete("/api/train/AAAAAAAAAAAAAAAAAAAAAA", headers=evil).status_code == 403


@pytest.mark.slow
def test_a_restart_marks_running_jobs_failed_and_leaves_no_partial_weights(tmp_path):
    data = tmp_path / "data"
    with ServerProcess(data) as server:
        job = httpx.post(server.url + "/api/train", json=LONG, timeout=30).json()["job"]
        _wait(httpx.Client(base_url=server.url), job, ("running",), min_step=1)
        workers = psutil.Process(server.process.pid).children(recursive=True)
        assert workers, "the job runs in a process of its own"
        server.process.send_signal(signal.SIGKILL)  # a crash: no shutdown code runs
        server.process.wait()
        gone, alive = psutil.wait_procs(workers, timeout=30)
        assert not alive  # the worker noticed its server left and stopped
    assert not list((data / "tmp").glob("train-*.safetensors"))
    with ServerProcess(data) as server:
        body = httpx.get(f"{server.url}/api/train/{job}").json()
        assert body["state"] == "failed" and "server stopped" in body["error"]
        assert body["session"] is None
        assert not list((data / "tmp").glob("train-*"))
        assert not list((data / "weights").glob("*.safetensors"))
