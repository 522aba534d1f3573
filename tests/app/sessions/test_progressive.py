"""Bounded compute: a long session answers after its first window and computes the rest
in the background on a pool of its own, stops when nobody looks, keeps text as indices
and never recomputes from step 0; JSON bodies and creations per minute are bounded."""

from __future__ import annotations

import json
import threading

import numpy as np

import cells
from app.sessions import compute
from app.sessions.traces import SharedTrace
from tests.support import assert_error, create_session, wait_until


def random_text(steps, alphabet="abcdefghij", seed=0):
    rng = np.random.default_rng(seed)
    return "".join(rng.choice(list(alphabet), steps))


def test_a_long_session_answers_after_its_first_window(make_client):
    client = make_client(first_window_steps=1024)
    text = random_text(200_000)
    s = create_session(client, cell="lstm", hidden_size=16, seed=1, sequence={"text": text})
    trace = client.app.state.sessions.cached_trace(client.app.state.sessions.get(s["id"]))
    assert trace.computed < s["steps"]  # answered before the whole trace was computed
    with client.websocket_connect(f"/api/sessions/{s['id']}/stream") as ws:
        ws.send_json({"seek": 0})
        assert ws.receive_json()["t"] == 0
        ws.send_json({"seek": 199_999})  # computed on demand
        assert ws.receive_json()["t"] == 199_999
    assert wait_until(lambda: trace.done, "the rest computed in the background")


def test_windows_across_segments_are_the_engines_bit_for_bit(make_client):
    client = make_client()
    text = random_text(3000, seed=2)
    s = create_session(client, cell="gru", hidden_size=512, seed=3, sequence={"text": text})
    service = client.app.state.sessions
    trace = service.cached_trace(service.get(s["id"]))
    assert trace.segment_steps < 3000  # H=512: more than one segment
    vocabulary = cells.text.derive_vocabulary(text)
    cell = cells.create("gru", input_size=len(vocabulary), hidden_size=512, seed=3)
    expected = cell.run(cells.text.one_hot(text, vocabulary))
    got = client.get(f"/api/sessions/{s['id']}/trace",
                     params={"start": 1000, "stop": 2100, "names": "h,h_prev,z"}).json()
    for name in ("h", "h_prev", "z"):
        assert np.array_equal(np.array(got["signals"][name], np.float32),
                              expected[name][1000:2100]), name


def test_text_is_held_as_indices_and_reads_recompute_from_their_segment(make_client,
                                                                        monkeypatch):
    client = make_client()
    s = create_session(client, cell="lstm", hidden_size=256, seed=0,
                       sequence={"text": random_text(20_000, seed=4)})
    service = client.app.state.sessions
    trace = service.cached_trace(service.get(s["id"]))
    assert trace.inputs.indices.dtype == np.int32 and trace.inputs.values is None
    assert trace.inputs.nbytes == 4 * 20_000  # not 20,000 x 10 one-hot numbers
    assert wait_until(lambda: trace.done, "the whole trace computed")
    service.segments.clear()  # every computed row is gone; the segment starts stay
    lengths = []
    real_run = cells.Cell.run
    monkeypatch.setattr(cells.Cell, "run",
                        lambda self, xs, **kw: lengths.append(len(xs)) or real_run(self, xs, **kw))
    client.get(f"/api/sessions/{s['id']}/trace", params={"start": 19_990, "stop": 19_995,
                                                         "names": "h"})
    assert lengths and max(lengths) <= trace.segment_steps < 20_000


def test_computing_stops_when_nobody_looks_and_resumes(make_client, monkeypatch):
    # Every background batch is counted as it starts and ends: computing has stopped when
    # the trace has no job queued and every batch that began has returned.
    jobs = {"begun": 0, "ended": 0}
    real_job = compute.background_job

    def counted(trace, *args):
        jobs["begun"] += 1
        try:
            return real_job(trace, *args)
        finally:
            jobs["ended"] += 1

    monkeypatch.setattr(compute, "background_job", counted)
    client = make_client(compute_idle_seconds=0.05, first_window_steps=1024)
    s = create_session(client, cell="lstm", hidden_size=64, seed=0,
                       sequence={"text": random_text(300_000, seed=5)})
    service = client.app.state.sessions
    trace = service.cached_trace(service.get(s["id"]))
    assert wait_until(lambda: not trace.background and jobs["begun"] == jobs["ended"] > 0,
                      "the background batches to stop")
    stopped_at = trace.computed
    assert not trace.background and jobs["begun"] == jobs["ended"]  # nothing left to run
    assert trace.computed == stopped_at < 300_000
    client.get(f"/api/sessions/{s['id']}/trace", params={"start": 299_000, "stop": 299_001})
    assert trace.computed >= 299_001


def test_traces_are_computed_on_the_compute_pool(make_client, monkeypatch):
    client = make_client()
    threads = set()
    real = SharedTrace.window

    def recording(self, *args, **kwargs):
        threads.add(threading.current_thread().name)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(SharedTrace, "window", recording)
    s = create_session(client, cell="lstm", hidden_size=4, sequence={"text": "abcabc"})
    client.get(f"/api/sessions/{s['id']}/trace")
    with client.websocket_connect(f"/api/sessions/{s['id']}/stream") as ws:
        client.app.state.sessions.segments.clear()  # the frame must be computed again
        ws.send_json({"seek": 5})
        assert ws.receive_json()["t"] == 5
    assert threads and all(name.startswith("gatescope-compute") for name in threads), threads


def test_json_bodies_are_bounded_before_parsing(make_client):
    client = make_client(max_json_numbers=100_000)
    row = "[" + ",".join(["0.5"] * 200_000) + "]"
    body = '{"cell": "lstm", "hidden_size": 2, "sequence": {"values": [' + row + "]}}"
    response = client.post("/api/sessions", content=body,
                           headers={"content-type": "application/json"})
    body = assert_error(response, 413)
    assert "100000" in body["detail"]
    ok = {"cell": "lstm", "hidden_size": 2, "sequence": {"values": [[0.5] * 1000]}}
    assert client.post("/api/sessions", json=ok).status_code == 201


def test_creations_per_minute_are_capped_per_client(make_client):
    client = make_client(rate_limit_loopback=True, max_creates_per_minute=3)
    body = {"preset": "counter", "sequence": {"text": "()"}}
    assert [client.post("/api/sessions", json=body).status_code for _ in range(3)] == [201] * 3
    refused = client.post("/api/sessions", json=body)
    assert refused.status_code == 429 and refused.headers["retry-after"] == "60"
    assert "minute" in refused.json()["detail"]
    assert client.get("/api/cells").status_code == 200  # reading is not capped


def test_loopback_servers_do_not_cap_creations(make_client):
    client = make_client(max_creates_per_minute=1)
    body = {"preset": "counter", "sequence": {"text": "()"}}
    assert [client.post("/api/sessions", json=body).status_code for _ in range(3)] == [201] * 3


def test_a_json_body_of_text_with_commas_is_not_numbers(client):
    text = json.dumps({"cell": "lstm", "hidden_size": 2, "sequence": {"text": "a,b," * 10}})
    assert client.post("/api/sessions", content=text,
                       headers={"content-type": "application/json"}).status_code == 201
