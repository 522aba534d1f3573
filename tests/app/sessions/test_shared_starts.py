"""Workers share a long trace's segment start states through the data directory: a worker
that has not computed a session reads a step far into it by computing that step's segment
only, with the same numbers as the worker that ran every step. Two apps on one data
directory stand for two worker processes."""

from __future__ import annotations

import random
import time

STEPS = 30_000  # at H 64, a few segments


def _text(steps: int) -> str:
    rng = random.Random(3)
    return "".join(rng.choice("abcdefghij") for _ in range(steps))


def _last(client, session_id: str) -> dict:
    answer = client.get(f"/api/sessions/{session_id}/trace",
                        params={"start": STEPS - 3, "stop": STEPS})
    assert answer.status_code == 200, answer.text
    return answer.json()["signals"]


def test_a_second_worker_starts_from_the_first_ones_states(make_client, settings):
    first, second = make_client(), make_client()
    made = first.post("/api/sessions", json={"cell": "lstm", "hidden_size": 64, "seed": 4,
                                             "sequence": {"text": _text(STEPS)}})
    assert made.status_code == 201, made.text
    session_id = made.json()["id"]
    ran = _last(first, session_id)  # every step run here; its start states are kept
    service = second.app.state.sessions
    assert len(service.segments) == 0
    read = _last(second, session_id)
    assert read == ran  # bit for bit: the same states, the same segment computed
    trace = next(iter(service.traces.values()))
    assert trace.segment_steps < STEPS and trace.done
    assert len(service.segments) == 1  # only the segment of the steps asked for
    saved = list((settings.data_dir / "sessions").glob(f"{session_id}.starts-*.npy"))
    assert len(saved) == 1
    first.app.state.store.delete_session(session_id)
    assert not saved[0].exists()  # deleted with its session


def test_states_of_another_content_are_not_read(make_client, settings):
    first, second = make_client(), make_client()
    made = first.post("/api/sessions", json={"cell": "lstm", "hidden_size": 64, "seed": 4,
                                             "sequence": {"text": _text(STEPS)}})
    session_id = made.json()["id"]
    _last(first, session_id)
    saved = next((settings.data_dir / "sessions").glob(f"{session_id}.starts-*.npy"))
    saved.write_bytes(b"not an array")  # damaged: the second worker computes for itself
    ran = _last(first, session_id)
    assert _last(second, session_id) == ran
    assert len(second.app.state.sessions.segments) > 1  # it ran the steps before itself


def test_a_worker_midway_takes_the_states_when_they_come(make_client):
    # the second computes in the background only while asked (idle 0 s: not at all here)
    first, second = make_client(), make_client(compute_idle_seconds=0.0)
    made = first.post("/api/sessions", json={"cell": "lstm", "hidden_size": 64, "seed": 5,
                                             "sequence": {"text": _text(STEPS)}})
    session_id = made.json()["id"]
    early = second.get(f"/api/sessions/{session_id}/trace", params={"start": 0, "stop": 3})
    assert early.status_code == 200  # its own trace, begun before any states were kept
    trace = next(iter(second.app.state.sessions.traces.values()))
    computed = trace.computed
    ran = _last(first, session_id)
    time.sleep(1.1)  # a worker looks for kept states at most once a second
    assert _last(second, session_id) == ran
    assert trace.done and len(second.app.state.sessions.segments) <= 2  # not every segment
    assert computed < trace.segment_steps  # it had only begun
