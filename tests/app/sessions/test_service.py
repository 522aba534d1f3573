"""Sessions: create (preset, seed, text, values, CSV), read, trace (JSON, CSV), append."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

import cells
from app.sessions.traces import SharedTrace
from tests.support import COUNTER_TEXT, assert_error, counter_trace, create_session


def trace_json(client, session_id, **params) -> dict:
    response = client.get(f"/api/sessions/{session_id}/trace", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


def assert_window_equals(signals: dict, expected: cells.Trace, start: int, stop: int) -> None:
    """Every number of the window is the engine's own, bit for bit."""
    assert list(signals) == list(expected.names)
    for name, rows in signals.items():
        got = np.array(rows, dtype=expected.cell.dtype)
        assert np.array_equal(got, expected[name][start:stop]), name


def test_create_from_preset(client, counter_session):
    s = counter_session
    assert s["cell"] == "lstm" and s["input_size"] == 95 and s["hidden_size"] == 3
    assert s["steps"] == len(COUNTER_TEXT)
    assert s["weights"] == {"preset": "counter"}
    assert s["sequence"] == {"text": COUNTER_TEXT}
    assert s["vocabulary"] == cells.presets.get("counter").vocabulary
    assert [x["name"] for x in s["signals"]] == [x.name for x in cells.describe("lstm")]
    assert len(s["id"]) >= 22  # secrets.token_urlsafe(16)
    assert client.get(f"/api/sessions/{s['id']}").json() == s


def test_session_ids_are_unguessable_and_distinct(client):
    ids = {create_session(client, preset="counter", sequence={"text": "()"})["id"]
           for _ in range(5)}
    assert len(ids) == 5
    assert all(len(i) == 22 for i in ids)


def test_trace_equals_the_engine_exactly(client, counter_session):
    body = trace_json(client, counter_session["id"])
    assert (body["start"], body["stop"]) == (0, len(COUNTER_TEXT))
    assert_window_equals(body["signals"], counter_trace(), 0, len(COUNTER_TEXT))


def test_trace_window_and_names(client, counter_session):
    body = trace_json(client, counter_session["id"], start=3, stop=9, names="f,c")
    assert (body["start"], body["stop"]) == (3, 9)
    assert list(body["signals"]) == ["f", "c"]
    expected = counter_trace()
    for name in ("f", "c"):
        assert np.array_equal(np.array(body["signals"][name], np.float32), expected[name][3:9])
    empty = trace_json(client, counter_session["id"], start=4, stop=4)
    assert all(rows == [] for rows in empty["signals"].values())


def test_trace_as_csv(client, counter_session):
    response = client.get(f"/api/sessions/{counter_session['id']}/trace",
                          params={"format": "csv", "start": 2, "stop": 6, "names": "x,c"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["t"] + [f"x[{k}]" for k in range(95)] + ["c[0]", "c[1]", "c[2]"]
    table = np.array(rows[1:], dtype=np.float64)
    assert table[:, 0].tolist() == [2, 3, 4, 5]
    expected = counter_trace()
    assert np.array_equal(table[:, 1:96].astype(np.float32), expected["x"][2:6])
    assert np.array_equal(table[:, 96:].astype(np.float32), expected["c"][2:6])


def test_seeded_cell_with_values(client):
    rng = np.random.default_rng(3)
    values = rng.standard_normal((7, 4)).tolist()
    s = create_session(client, cell="gru", seed=11, hidden_size=5, options={"reset_after": False},
                       sequence={"values": values})
    assert (s["cell"], s["input_size"], s["hidden_size"], s["steps"]) == ("gru", 4, 5, 7)
    assert s["options"] == {"reset_after": False}
    assert s["weights"] == {"seed": 11}
    assert s["vocabulary"] is None
    cell = cells.create("gru", input_size=4, hidden_size=5, seed=11, reset_after=False)
    assert_window_equals(trace_json(client, s["id"])["signals"], cell.run(np.array(values)), 0, 7)


def test_seed_defaults_to_zero_and_cell_to_lstm(client):
    s = create_session(client, hidden_size=2, sequence={"values": [[1.0], [2.0]]})
    assert s["cell"] == "lstm" and s["weights"] == {"seed": 0}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_text_without_preset_derives_its_vocabulary(client, dtype):
    s = create_session(client, cell="rnn", hidden_size=3, seed=2, dtype=dtype,
                       options={"nonlinearity": "relu"}, sequence={"text": "hello"})
    assert s["vocabulary"] == "ehlo" and s["input_size"] == 4 and s["dtype"] == dtype
    cell = cells.create("rnn", input_size=4, hidden_size=3, seed=2, dtype=dtype,
                        nonlinearity="relu")
    expected = cell.run(cells.text.one_hot("hello", "ehlo", dtype=np.dtype(dtype)))
    assert_window_equals(trace_json(client, s["id"])["signals"], expected, 0, 5)


@pytest.mark.parametrize("text", ["a,b\n0.5,1\n-2,3e-1\n", "0.5,1\n-2,3e-1\n",
                                  "\n 0.5 , 1 \r\n\n-2,.3\n"])
def test_csv_sequence_with_and_without_header(client, text):
    s = create_session(client, cell="lstm", hidden_size=2, sequence={"csv": text})
    assert s["input_size"] == 2 and s["steps"] == 2
    # The session keeps the CSV as given (the page shows it); the inputs are its numbers.
    assert s["sequence"] == {"csv": text}
    x = trace_json(client, s["id"], names="x")["signals"]["x"]
    assert np.array_equal(np.array(x, np.float32),
                          np.array([[0.5, 1.0], [-2.0, 0.3]], np.float32))


def test_every_kind_runs_through_the_api(client):
    for kind in cells.KINDS:
        s = create_session(client, cell=kind, hidden_size=3, seed=1,
                           sequence={"values": [[0.1, -0.2], [0.3, 0.4], [-1.0, 2.0]]})
        cell = cells.create(kind, input_size=2, hidden_size=3, seed=1)
        expected = cell.run(np.array([[0.1, -0.2], [0.3, 0.4], [-1.0, 2.0]]))
        assert_window_equals(trace_json(client, s["id"])["signals"], expected, 0, 3)


# -- append -----------------------------------------------------------------------------------
def test_append_text_extends_without_recomputing(client, counter_session, monkeypatch):
    runs, extends = [], []
    original_run, original_extend = cells.Cell.run, SharedTrace.extend
    monkeypatch.setattr(cells.Cell, "run", lambda *a, **k: runs.append(1) or original_run(*a, **k))
    monkeypatch.setattr(SharedTrace, "extend",
                        lambda *a, **k: extends.append(1) or original_extend(*a, **k))
    session_id = counter_session["id"]
    text = COUNTER_TEXT
    for ch in "(x))":
        response = client.post(f"/api/sessions/{session_id}/append", json={"text": ch})
        assert response.status_code == 200, response.text
        text += ch
        assert response.json()["steps"] == len(text)
        assert response.json()["sequence"] == {"text": text}
        assert response.json()["id"] == session_id
    assert (len(runs), len(extends)) == (0, 4)
    assert_window_equals(trace_json(client, session_id)["signals"], counter_trace(text), 0,
                         len(text))
    assert client.get(f"/api/sessions/{session_id}").json()["steps"] == len(text)


def test_append_values_and_csv(client):
    s = create_session(client, cell="peephole_lstm", hidden_size=3, seed=5,
                       sequence={"values": [[1.0, 0.0]]})
    client.post(f"/api/sessions/{s['id']}/append", json={"values": [[0.0, 1.0], [0.5, 0.5]]})
    grown = client.post(f"/api/sessions/{s['id']}/append", json={"csv": "x,y\n-1,2\n"}).json()
    assert grown["steps"] == 4
    xs = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [-1.0, 2.0]])
    cell = cells.create("peephole_lstm", input_size=2, hidden_size=3, seed=5)
    assert_window_equals(trace_json(client, s["id"])["signals"], cell.run(xs), 0, 4)


def test_append_after_the_cache_was_dropped_recomputes(client, app_state, counter_session):
    app_state.sessions.traces.clear()
    client.post(f"/api/sessions/{counter_session['id']}/append", json={"text": ")"})
    body = trace_json(client, counter_session["id"])
    assert_window_equals(body["signals"], counter_trace(COUNTER_TEXT + ")"), 0,
                         len(COUNTER_TEXT) + 1)


def test_append_refusals(client, counter_session):
    sid = counter_session["id"]
    assert_error(client.post(f"/api/sessions/{sid}/append", json={"text": "é€"}), 422, "text",
                 "'é'", "'€'", "counter")
    assert_error(client.post(f"/api/sessions/{sid}/append", json={"values": [[1.0]]}), 422,
                 "values", "text")
    assert_error(client.post("/api/sessions/AAAAAAAAAAAAAAAAAAAAAA/append", json={"text": "a"}),
                 404, "session_id")
    derived = create_session(client, hidden_size=2, sequence={"text": "ab"})
    assert_error(client.post(f"/api/sessions/{derived['id']}/append", json={"text": "abc"}), 422,
                 "text", "'c'", "vocabulary")
    values = create_session(client, hidden_size=2, sequence={"values": [[1.0, 2.0]]})
    assert_error(client.post(f"/api/sessions/{values['id']}/append",
                             json={"values": [[1.0]]}), 422, "values", "input_size is 2")


def test_unknown_session(client):
    assert_error(client.get("/api/sessions/nope"), 404, "session_id")
    assert_error(client.get("/api/sessions/AAAAAAAAAAAAAAAAAAAAAA/trace"), 404, "session_id")
    assert_error(client.get("/api/sessions/..%2F..%2Fetc%2Fpasswd"), 404)


def test_another_process_extends_its_cached_trace_after_an_append(make_client, monkeypatch):
    """Two apps on one data directory stand in for two worker processes."""
    first, second = make_client(), make_client()
    s = create_session(first, preset="counter", sequence={"text": "(("})
    trace_json(second, s["id"])  # the second process now holds the 2-step trace
    first.post(f"/api/sessions/{s['id']}/append", json={"text": "a)"})
    runs = []
    original_run = cells.Cell.run
    monkeypatch.setattr(cells.Cell, "run", lambda *a, **k: runs.append(1) or original_run(*a, **k))
    body = trace_json(second, s["id"])
    assert runs == []  # extended from its own cached prefix, not recomputed
    assert_window_equals(body["signals"], counter_trace("((a)"), 0, 4)
