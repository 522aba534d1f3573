"""Error messages are sentences for a person, still naming the field."""

from __future__ import annotations

import json

import pytest

from tests.support import assert_error

SEED = {"cell": "lstm", "hidden_size": 2, "sequence": {"text": "ab"}}


@pytest.mark.parametrize(("body", "field", "sentence"), [
    ({**SEED, "sequence": {"values": []}}, "sequence.values", "needs at least 1 item"),
    ({**SEED, "seed": 2**64}, "seed", "must be at most 2^63 - 1"),
    ({**SEED, "hidden_size": 0}, "hidden_size", "must be at least 1"),
    ({**SEED, "hidden_size": "many"}, "hidden_size", "must be a whole number"),
    ({**SEED, "hidden_size": 2.5}, "hidden_size", "must be a whole number"),
    ({**SEED, "sequence": {"values": [["x"]]}}, "sequence.values[0][0]", "must be a number"),
    ({**SEED, "dtype": "float16"}, "dtype", "must be one of 'float32' or 'float64'"),
    ({**SEED, "sequence": {"text": ""}}, "sequence.text", "must not be empty"),
    ({k: v for k, v in SEED.items() if k != "sequence"}, "sequence", "is required"),
    ({**SEED, "weights_id": "xyz"}, "weights_id", "is not in the expected form"),
])
def test_messages_are_sentences(client, body, field, sentence):
    detail = assert_error(client.post("/api/sessions", json=body), 422, field)["detail"]
    assert sentence in detail, detail
    for pydantic_words in ("should have at least", "after validation", "less than or equal",
                           "Input should", "9223372036854775807"):
        assert pydantic_words not in detail, detail


def test_websocket_errors_share_the_formatter(client):
    session = client.post("/api/sessions", json={"preset": "counter",
                                                 "sequence": {"text": "()"}}).json()
    with client.websocket_connect(f"/api/sessions/{session['id']}/stream") as ws:
        ws.send_text(json.dumps({"seek": -1}))
        reply = ws.receive_json()
        assert reply == {"error": "seek: must be at least 0", "field": "seek"}
        ws.send_text("{")
        reply = ws.receive_json()
        assert reply["field"] == "message" and "is not JSON" in reply["error"]
        ws.send_json({"seek": 99})
        assert ws.receive_json()["field"] == "seek"
