"""Bad ids and options are 4xx, never 500; ids are checked before any file system use."""

from __future__ import annotations

import pytest
from starlette.websockets import WebSocketDisconnect

from tests.support import assert_error

SEED = {"cell": "lstm", "hidden_size": 2, "sequence": {"text": "ab"}}
BAD_IDS = ["%00", "a%00bcdefghijklmnopqrstuvwxyz", "x" * 300, "..x", "%2E%2E%2Fx" * 3,
           "ÄÖÜäöüßÄÖÜäöüßÄÖÜ"]


@pytest.mark.parametrize("options", [
    {"seed": "x"}, {"hidden_size": 3}, {"reset_after": True}, {"nonlinearity": "relu"},
    {"": True}, {"x" * 500: True},
])
def test_options_the_kind_lacks(client, options):
    body = assert_error(client.post("/api/sessions", json={**SEED, "options": options}), 422,
                        "options")
    assert "has no option" in body["detail"] and "lstm" in body["detail"]
    assert len(body["detail"]) < 300


@pytest.mark.parametrize(("cell", "options", "fragment"), [
    ("gru", {"reset_after": "yes"}, "true, false"),
    ("rnn", {"nonlinearity": True}, '"tanh", "relu"'),
])
def test_option_values_the_kind_lacks(client, cell, options, fragment):
    body = assert_error(client.post("/api/sessions", json={**SEED, "cell": cell,
                                                           "options": options}), 422, "options")
    assert fragment in body["detail"], body


@pytest.mark.parametrize("session_id", BAD_IDS)
def test_bad_ids_are_404_and_touch_nothing(client, settings, session_id):
    before = sorted(p.name for p in settings.data_dir.rglob("*"))
    assert_error(client.get(f"/api/sessions/{session_id}"), 404)
    assert_error(client.get(f"/api/sessions/{session_id}/trace"), 404)
    assert_error(client.post(f"/api/sessions/{session_id}/append", json={"text": "a"}), 404)
    with pytest.raises(WebSocketDisconnect), \
            client.websocket_connect(f"/api/sessions/{session_id}/stream") as ws:
        ws.receive_json()
        ws.receive_json()
    assert sorted(p.name for p in settings.data_dir.rglob("*")) == before


def test_appending_to_an_unknown_id_leaves_no_lock_file(client, settings):
    for session_id in ("AAAAAAAAAAAAAAAAAAAAAA", "..x", "abc"):
        assert_error(client.post(f"/api/sessions/{session_id}/append", json={"text": "a"}),
                     404, "session_id")
    assert list((settings.data_dir / "locks").iterdir()) == []


@pytest.mark.parametrize("weights_id", ["%00", "x" * 300, "0" * 64, "../" + "0" * 61])
def test_bad_weights_ids(client, weights_id):
    assert_error(client.get(f"/api/weights/{weights_id}"), 404)
