"""Off loopback a token is required: in the URL once, then in a cookie (as Jupyter does)."""

from __future__ import annotations

import pytest
from starlette.websockets import WebSocketDisconnect

from app.api.middleware import TOKEN_COOKIE
from tests.support import assert_error

TOKEN = "tok-" + "x" * 28


@pytest.fixture
def guarded(make_client):
    return make_client(host="0.0.0.0", token=TOKEN)


def test_without_the_token_nothing_is_served(guarded):
    guarded.cookies.clear()
    for path in ("/", "/api/cells", "/api/presets", "/static/css/app.css", "/docs"):
        body = assert_error(guarded.get(path), 403)
        assert "token" in body["detail"]
    assert_error(guarded.get("/api/cells", params={"token": "wrong"}), 403)
    assert_error(guarded.get("/api/cells", headers={"authorization": "token wrong"}), 403)
    assert_error(guarded.post("/api/sessions", json={"preset": "counter",
                                                     "sequence": {"text": "()"}}), 403)
    assert guarded.get("/api/health").status_code == 200  # liveness needs no token


def test_the_url_token_becomes_a_cookie(guarded):
    first = guarded.get("/", params={"token": TOKEN})
    assert first.status_code == 200
    cookie = first.headers["set-cookie"]
    assert cookie.startswith(f"{TOKEN_COOKIE}={TOKEN}") and "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert guarded.get("/api/cells").status_code == 200  # the cookie is enough now
    created = guarded.post("/api/sessions", json={"preset": "counter",
                                                  "sequence": {"text": "()"}})
    assert created.status_code == 201, created.text
    with guarded.websocket_connect(f"/api/sessions/{created.json()['id']}/stream") as ws:
        ws.send_json({"seek": 1})
        assert ws.receive_json()["t"] == 1


def test_header_token_and_websocket_refusal(guarded):
    guarded.cookies.clear()
    assert guarded.get("/api/cells", headers={"authorization": f"token {TOKEN}"}).status_code \
        == 200
    assert guarded.get("/api/cells", headers={"authorization": f"Bearer {TOKEN}"}).status_code \
        == 200
    with pytest.raises(WebSocketDisconnect) as closed, \
            guarded.websocket_connect("/api/sessions/AAAAAAAAAAAAAAAAAAAAAA/stream") as ws:
        ws.receive_json()
    assert closed.value.code == 1008
