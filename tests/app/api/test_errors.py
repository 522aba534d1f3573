"""Bad input of every kind: a 4xx with {"detail": "<field>: <problem>"} and never a 500."""

from __future__ import annotations

import json

import pytest

from tests.support import COUNTER_TEXT, assert_error, create_session

SEED = {"cell": "lstm", "hidden_size": 2}


def post_raw(client, body: str):
    return client.post("/api/sessions", content=body,
                       headers={"content-type": "application/json"})


@pytest.mark.parametrize(("body", "field", "fragments"), [
    ({**SEED, "sequence": {"values": [[1.0, 2.0], [3.0]]}}, "sequence.values[1]",
     ["1 numbers", "row 0 has 2"]),
    ({**SEED, "sequence": {"values": [[]]}}, "sequence.values[0]", ["at least 1"]),
    ({**SEED, "sequence": {"values": []}}, "sequence.values", []),
    ({**SEED, "sequence": {"values": [[1e39]]}}, "sequence.values[0][0]", ["float32"]),
    ({**SEED, "sequence": {"values": [["a"]]}}, "sequence.values[0][0]", []),
    ({**SEED, "sequence": {"values": [[1.0]]}, "input_size": 3}, "input_size", ["1 numbers"]),
    ({**SEED, "sequence": {"text": ""}}, "sequence.text", []),
    ({**SEED, "sequence": {"text": "ab", "values": [[1.0]]}}, "sequence", ["exactly one"]),
    ({**SEED, "sequence": {}}, "sequence", ["exactly one"]),
    ({**SEED, "sequence": "abc"}, "sequence", []),
    ({**SEED}, "sequence", ["required"]),
    ({**SEED, "sequence": {"text": "abc"}, "input_size": 5}, "input_size", ["3 distinct"]),
    ({"cell": "transformer", "hidden_size": 2, "sequence": {"text": "a"}}, "cell",
     ["'lstm'", "'pseudo_lstm'"]),
    ({"cell": "lstm", "sequence": {"text": "a"}}, "hidden_size", ["required"]),
    ({**SEED, "hidden_size": 0, "sequence": {"text": "a"}}, "hidden_size", []),
    ({**SEED, "hidden_size": 5000, "sequence": {"text": "a"}}, "hidden_size", ["limit of 1024"]),
    ({**SEED, "sequence": {"values": [[0.0] * 5000]}}, "input_size", ["limit of 4096"]),
    ({**SEED, "options": {"reset_after": False}, "sequence": {"text": "a"}}, "options",
     ["reset_after"]),
    ({**SEED, "cell": "rnn", "options": {"nonlinearity": "sigmoid"}, "sequence": {"text": "a"}},
     "options", ["nonlinearity"]),
    ({**SEED, "dtype": "float16", "sequence": {"text": "a"}}, "dtype", []),
    ({**SEED, "seed": -1, "sequence": {"text": "a"}}, "seed", []),
    ({**SEED, "surprise": 1, "sequence": {"text": "a"}}, "surprise", ["Extra"]),
    ({"preset": "counter", "seed": 3, "sequence": {"text": "a"}}, "seed", ["only one"]),
    ({"preset": "nope", "sequence": {"text": "a"}}, "preset", ["unknown preset", "counter"]),
    ({"preset": "counter", "sequence": {"text": "naïve → ok"}}, "sequence.text",
     ["'ï'", "'→'", "counter"]),
    ({"preset": "counter", "cell": "gru", "sequence": {"text": "a"}}, "cell", ["'lstm'"]),
    ({"preset": "counter", "hidden_size": 4, "sequence": {"text": "a"}}, "hidden_size", ["3"]),
    ({"preset": "counter", "sequence": {"values": [[1.0]]}}, "sequence", ["input_size 95"]),
    ({"weights_id": "0" * 64, "sequence": {"text": "a"}}, "weights_id", ["POST /api/weights"]),
    ({"weights_id": "not-a-sha", "sequence": {"text": "a"}}, "weights_id", []),
    ({**SEED, "sequence": {"csv": "a,b\n1,x\n"}}, "sequence.csv",
     ["row 2, column 2", "'x'", "is not a number"]),
    ({**SEED, "sequence": {"csv": "1,2\n3\n"}}, "sequence.csv", ["row 2 has 1 columns"]),
    ({**SEED, "sequence": {"csv": "a,b\n"}}, "sequence.csv", ["no rows"]),
    ({**SEED, "sequence": {"csv": "1,nan\n"}}, "sequence.csv", ["not finite"]),
    ({**SEED, "sequence": {"csv": "1,inf\n"}}, "sequence.csv", ["not finite"]),
    ({**SEED, "sequence": {"csv": "1_0\n"}}, "sequence.csv", ["no rows"]),
    ({**SEED, "sequence": {"csv": "a\n1_0\n"}}, "sequence.csv", ["'1_0' is not a number"]),
    ({**SEED, "sequence": {"csv": "1,\x00\n"}}, "sequence.csv", ["NUL"]),
    ({**SEED, "sequence": {"csv": '"unclosed\n1\n'}}, "sequence.csv", []),
])
def test_bad_session_bodies(client, body, field, fragments):
    assert_error(client.post("/api/sessions", json=body), 422, field, *fragments)


@pytest.mark.parametrize(("raw", "field", "fragment"), [
    ('{"cell": "lstm", "hidden_size": 2, "sequence": {"values": [[NaN]]}}',
     "sequence.values[0][0]", "finite"),
    ('{"cell": "lstm", "hidden_size": 2, "sequence": {"values": [[1.0], [Infinity]]}}',
     "sequence.values[1][0]", "finite"),
    ('{"cell": "lstm", "hidden_size": 2, "sequence": {"values": [[-Infinity]]}}',
     "sequence.values[0][0]", "finite"),
    ('{"cell": "lstm", "hidden_size": 2, "sequence": {"values": [[1e400]]}}',
     "sequence.values[0][0]", "finite"),
    ('{"cell": "lstm", ', None, "JSON"),
    ("[1, 2, 3]", None, ""),
    ("", None, ""),
    ('"just a string"', None, ""),
])
def test_malformed_and_non_finite_json(client, raw, field, fragment):
    body = assert_error(post_raw(client, raw), 422, field, fragment)
    assert body["detail"]


def test_sizes_limits_from_settings(make_client):
    client = make_client(max_steps=8, max_hidden_size=4, max_input_values=20)
    assert_error(client.post("/api/sessions", json={**SEED, "sequence": {"text": "abcdefghi"}}),
                 422, "sequence", "9 steps", "limit is 8")
    assert_error(client.post("/api/sessions", json={**SEED, "hidden_size": 5,
                                                    "sequence": {"text": "a"}}),
                 422, "hidden_size", "limit of 4")
    three_wide = {"values": [[1.0] * 3] * 7}
    assert_error(client.post("/api/sessions", json={**SEED, "sequence": three_wide}),
                 422, "sequence", "7 steps x 3 inputs", "more than 20")
    s = create_session(client, **SEED, sequence={"text": "abcab"})
    assert_error(client.post(f"/api/sessions/{s['id']}/append", json={"text": "aaaa"}), 422,
                 "text", "limit is 8")


def test_trace_window_refusals(make_client):
    client = make_client(max_trace_values=100)
    s = create_session(client, preset="counter", sequence={"text": COUNTER_TEXT})
    url = f"/api/sessions/{s['id']}/trace"
    assert_error(client.get(url, params={"start": 5, "stop": 3}), 422, "stop")
    assert_error(client.get(url, params={"start": 999}), 422, "start")
    assert_error(client.get(url, params={"stop": 999}), 422, "stop")
    assert_error(client.get(url, params={"start": -1}), 422, "start")
    assert_error(client.get(url, params={"names": "f,zz"}), 422, "names", "zz")
    assert_error(client.get(url, params={"format": "xml"}), 422, "format")
    assert_error(client.get(url), 422, "stop", "at most")  # all signals x 41 steps > 100
    assert client.get(url, params={"names": "c", "stop": 30}).status_code == 200


def test_too_many_sessions_evicts_the_oldest(make_client):
    client = make_client(max_sessions=3)
    ids = [create_session(client, **SEED, sequence={"text": f"a{i}"})["id"] for i in range(5)]
    present = [client.get(f"/api/sessions/{i}").status_code for i in ids]
    assert present.count(200) == 3 and present[-1] == 200


def test_error_detail_is_one_line_of_text(client):
    body = client.post("/api/sessions",
                       json={"hidden_size": "many", "sequence": {"text": 5}}).json()
    assert isinstance(body["detail"], str)
    assert "hidden_size" in body["detail"] and "sequence.text" in body["detail"]
    json.dumps(body)
