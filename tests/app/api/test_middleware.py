"""Size limits enforced before a body is read, and the security headers."""

from __future__ import annotations

import asyncio
import json

import pytest
from starlette.websockets import WebSocketDisconnect

from app.api.middleware import CONTENT_SECURITY_POLICY, allowed_hosts, host_name
from tests.support import assert_error


def test_declared_content_length_over_the_limit_is_refused_unread(make_client):
    client = make_client(max_body_bytes=1000)
    reads = []

    def body():  # a generator body is streamed; it must not be consumed at all
        reads.append(1)
        yield b"{" + b" " * 5000 + b"}"

    response = client.post("/api/sessions", content=body(),
                           headers={"content-type": "application/json",
                                    "content-length": "5002"})
    assert_error(response, 413, None, "5002 bytes", "limit of 1000")
    assert reads == []


async def call_asgi(app, path: str, chunks, content_type: bytes):
    """POST a body in chunks without Content-Length; returns (status, body, chunks pulled)."""
    pulled = 0
    remaining = iter(chunks)

    async def receive():
        nonlocal pulled
        chunk = next(remaining, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled += 1
        return {"type": "http.request", "body": chunk, "more_body": True}

    messages = []

    async def send(message):
        messages.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
             "query_string": b"", "server": ("testserver", 80), "client": ("127.0.0.1", 1),
             "headers": [(b"host", b"testserver"), (b"content-type", content_type),
                         (b"transfer-encoding", b"chunked")]}
    await app(scope, receive, send)
    start = next(m for m in messages if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return start["status"], json.loads(body), pulled


def test_chunked_body_over_the_limit_is_cut_off_while_streaming(make_client):
    client = make_client(max_body_bytes=1000)
    status, body, pulled = asyncio.run(call_asgi(client.app, "/api/sessions",
                                                 [b" " * 100] * 100, b"application/json"))
    assert status == 413 and "limit of 1000" in body["detail"]
    assert pulled == 11  # stopped at the chunk that passed the limit, not at the end


def test_chunked_upload_over_the_limit_is_cut_off_while_streaming(make_client):
    client = make_client(max_upload_bytes=10_000)
    boundary = b"gatescopeboundary"
    head = (b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; '
            b'filename="w.npz"\r\nContent-Type: application/octet-stream\r\n\r\n')
    chunks = [head] + [b"x" * 1000] * 1000
    status, body, pulled = asyncio.run(call_asgi(
        client.app, "/api/weights", chunks, b"multipart/form-data; boundary=" + boundary))
    assert status == 413 and "limit of 10000" in body["detail"]
    assert pulled <= 12


def test_body_within_the_limit_passes(make_client):
    client = make_client(max_body_bytes=1000)
    body = json.dumps({"hidden_size": 2, "sequence": {"text": "abc"}})
    assert client.post("/api/sessions", content=body,
                       headers={"content-type": "application/json"}).status_code == 201


def test_uploads_have_their_own_limit(make_client):
    client = make_client(max_body_bytes=100, max_upload_bytes=2000)
    big = {"file": ("w.npz", b"x" * 3000, "application/octet-stream")}
    assert_error(client.post("/api/weights", files=big), 413, None, "limit of 2000")
    small = {"file": ("w.npz", b"x" * 500, "application/octet-stream")}
    assert client.post("/api/weights", files=small).status_code == 422  # read, then refused


def test_bad_content_length(client):
    response = client.post("/api/sessions", content=b"{}",
                           headers={"content-type": "application/json",
                                    "content-length": "lots"})
    assert response.status_code in (400, 422)


def test_security_headers_on_api_and_page(client):
    api = client.get("/api/presets")
    assert api.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY.split("script-src")[1].split(";")[0]
    assert "unsafe-eval" not in CONTENT_SECURITY_POLICY
    assert api.headers["x-content-type-options"] == "nosniff"
    assert api.headers["x-frame-options"] == "DENY"
    page = client.get("/")
    assert page.status_code == 200
    policies = page.headers.get_list("content-security-policy")
    assert len(policies) == 1  # the page's own policy is not doubled
    assert "script-src 'self'" in policies[0] and "unsafe-eval" not in policies[0]


def test_docs_and_openapi(client):
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "cdn.jsdelivr.net" in docs.headers["content-security-policy"]
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    for path in ("/api/cells", "/api/presets", "/api/sessions", "/api/sessions/{session_id}",
                 "/api/sessions/{session_id}/trace", "/api/sessions/{session_id}/append",
                 "/api/weights"):
        assert path in paths, path
    components = schema["components"]["schemas"]
    for model in ("SessionCreate", "SessionPublic", "TraceWindow", "WeightsPublic",
                  "ErrorPublic", "CellsPublic", "PresetsPublic"):
        assert model in components, model
    assert "text/csv" in paths["/api/sessions/{session_id}/trace"]["get"]["responses"]["200"][
        "content"]


def test_unknown_host_is_refused(client, counter_session):
    """DNS rebinding: a foreign name pointed at 127.0.0.1 gets nothing."""
    assert_error(client.get("/api/presets", headers={"host": "evil.example:8000"}), 400, None,
                 "evil.example")
    with pytest.raises(WebSocketDisconnect):
        with client.websocket_connect(f"/api/sessions/{counter_session['id']}/stream",
                                      headers={"host": "evil.example",
                                               "origin": "http://evil.example"}):
            pass
    for host in ("127.0.0.1:8000", "localhost", "LOCALHOST:1", "[::1]:8000", "testserver"):
        assert client.get("/api/presets", headers={"host": host}).status_code == 200, host


def test_allowed_hosts():
    assert allowed_hosts("0.0.0.0", ()) == {"*"}
    assert allowed_hosts("127.0.0.1", ("Box.Lan:80",)) == {"localhost", "127.0.0.1", "::1",
                                                           "box.lan"}
    assert host_name("[::1]:8000") == "::1" and host_name("::1") == "::1"
