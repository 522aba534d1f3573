"""Damaged state: a damaged session is a JSON error naming it (others unaffected); an
unusable data directory is refused at start; every error, 500 included, carries the
security headers."""

from __future__ import annotations

import json

import pytest
from starlette.websockets import WebSocketDisconnect

from app.api.middleware import CONTENT_SECURITY_POLICY
from app.core.factory import create_app
from app.sessions.datadir import DataDirUnusable
from tests.support import COUNTER_TEXT, create_session


def truncate(settings, session_id):
    path = settings.data_dir / "sessions" / f"{session_id}.json"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_a_truncated_config_is_a_json_error_naming_the_session(make_client, settings):
    client = make_client()
    damaged = create_session(client, preset="counter", sequence={"text": COUNTER_TEXT})
    healthy = create_session(client, cell="gru", hidden_size=2, sequence={"text": "abc"})
    truncate(settings, damaged["id"])
    fresh = make_client()  # a restarted server: nothing cached
    for path in (f"/api/sessions/{damaged['id']}", f"/api/sessions/{damaged['id']}/trace"):
        response = fresh.get(path)
        assert response.status_code == 500
        body = response.json()
        assert damaged["id"] in body["detail"] and "damaged" in body["detail"]
        assert body["field"] == "session_id"
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    with fresh.websocket_connect(f"/api/sessions/{damaged['id']}/stream") as ws:
        message = ws.receive_json()
        assert damaged["id"] in message["error"] and "damaged" in message["error"]
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 1011
    assert fresh.get(f"/api/sessions/{healthy['id']}").status_code == 200
    assert fresh.get(f"/api/sessions/{healthy['id']}/trace").status_code == 200


def test_damaged_numbers_file(make_client, settings):
    client = make_client()
    s = create_session(client, cell="lstm", hidden_size=2, sequence={"values": [[1.0], [2.0]]})
    config = json.loads((settings.data_dir / "sessions" / f"{s['id']}.json").read_text())
    (settings.data_dir / "sessions" / config["values_file"]).write_bytes(b"\x93NUMPY junk")
    response = make_client().get(f"/api/sessions/{s['id']}/trace")
    assert response.status_code == 500 and s["id"] in response.json()["detail"]


@pytest.mark.parametrize("kind", ["a file in the way", "under a file"])
def test_an_unusable_data_dir_is_refused_at_start(tmp_path, settings, kind):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    data_dir = blocker if kind == "a file in the way" else blocker / "data"
    app = create_app(settings.replace(data_dir=data_dir))
    from fastapi.testclient import TestClient

    with pytest.raises(DataDirUnusable, match="not usable"), TestClient(app):
        pass


def test_an_unexpected_failure_is_a_500_with_the_security_headers(make_client, monkeypatch):
    from app.sessions.service import SessionService

    client = make_client()
    session = create_session(client, preset="counter", sequence={"text": "()"})

    def broken(self, config):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(SessionService, "record", broken)  # the record is made at create
    from fastapi.testclient import TestClient

    quiet = TestClient(client.app, raise_server_exceptions=False)
    response = quiet.get(f"/api/sessions/{session['id']}")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert "disk on fire" not in response.text  # details go to the log, not to the client
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"
