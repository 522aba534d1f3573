"""Pure-ASGI middleware: request size limits and security headers.

Sizes are enforced before a body is read: a declared Content-Length over the limit is
answered with 413 at once, and a body without one (chunked) is counted as it streams in and
cut off with 413 as soon as it passes the limit. Multipart uploads get the upload limit,
everything else the (smaller) body limit.
"""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# No inline scripts. Plotly sets style attributes, hence 'unsafe-inline' for styles only.
# connect-src 'self' covers the page's own WebSocket (ws: and wss: of the same host).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
# FastAPI's /docs page loads Swagger UI from a CDN and starts it with an inline script.
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "img-src 'self' data: https://fastapi.tiangolo.com; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs", "/docs/oauth2-redirect", "/redoc")


class BodyTooLarge(HTTPException):
    """Raised from `receive` once a body passes its limit; FastAPI answers it with a 413."""

    def __init__(self, limit: int):
        super().__init__(413, f"request body is larger than the limit of {limit} bytes")


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_body_bytes: int, max_upload_bytes: int):
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        content_type = headers.get(b"content-type", b"").lower()
        multipart = content_type.startswith(b"multipart/form-data")
        limit = self.max_upload_bytes if multipart else self.max_body_bytes
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                await _send_error(send, 400, "Content-Length is not a number")
                return
            if length > limit:
                await _send_error(send, 413, f"request body of {length} bytes is larger than "
                                             f"the limit of {limit} bytes")
                return

        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLarge as exc:  # raised where nothing turned it into a response
            if started:
                raise
            await _send_error(send, 413, exc.detail)


class HostCheck:
    """Refuse requests whose Host header is not one of ours (DNS rebinding).

    A page on another site can point its own host name at 127.0.0.1; the browser then
    treats this server as that site, and even the WebSocket's Origin check passes (Origin
    and Host agree). Only a Host we know closes that door. `allowed` holds host names
    without ports; "*" allows any (the server is bound to every interface on purpose).
    """

    def __init__(self, app: ASGIApp, allowed: frozenset[str]):
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or "*" in self.allowed:
            await self.app(scope, receive, send)
            return
        host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
        if host_name(host) in self.allowed:
            await self.app(scope, receive, send)
        elif scope["type"] == "http":
            await _send_error(send, 400, f"Host {host!r} is not served here; set "
                                         "GATESCOPE_ALLOWED_HOSTS to allow it")
        else:
            await send({"type": "websocket.close", "code": 1008})


def host_name(host: str) -> str:
    """'Example.org:8000' -> 'example.org', '[::1]:8000' -> '::1'."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def allowed_hosts(bind_host: str, extra: tuple[str, ...]) -> frozenset[str]:
    """Loopback names and the bound address, plus `extra`; any host when bound to all."""
    if bind_host in ("0.0.0.0", "::", ""):
        return frozenset({"*"})
    return frozenset({"localhost", "127.0.0.1", "::1", host_name(bind_host),
                      *(host_name(h) if h != "*" else "*" for h in extra)})


class SecurityHeaders:
    """CSP and friends on every HTTP response that does not set its own CSP."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = DOCS_POLICY if scope["path"] in DOCS_PATHS else CONTENT_SECURITY_POLICY

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in (
                    (b"content-security-policy", policy.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"),
                    (b"x-frame-options", b"DENY"),
                ):
                    if name not in present:
                        headers.append((name, value))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _send_error(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail, "field": None}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
