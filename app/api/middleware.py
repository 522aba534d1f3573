"""Pure-ASGI middleware: the host check, the token, cross-site writes, request size and
number limits, the per-client creation rate, and security headers.

Sizes are enforced before a body is read: a declared Content-Length over the limit is
answered with 413 at once, and a body without one (chunked) is counted as it streams in and
cut off with 413 as soon as it passes the limit. Multipart uploads get the upload limit,
everything else the (smaller) body limit.
"""

from __future__ import annotations

import hmac
import json
import time
from collections import OrderedDict, deque
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.origins import same_origin

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
    """Loopback names and the bound address, plus `extra`; any host when bound to all
    interfaces and no names are given (the token guards such a server)."""
    if bind_host in ("0.0.0.0", "::", "") and not extra:
        return frozenset({"*"})
    return frozenset({"localhost", "127.0.0.1", "::1", host_name(bind_host),
                      *(host_name(h) if h != "*" else "*" for h in extra)})


def page_policy(frame_ancestors: tuple[str, ...] = ()) -> str:
    """The page's CSP; `frame_ancestors` (Settings.frame_ancestors) may frame it."""
    if not frame_ancestors:
        return CONTENT_SECURITY_POLICY
    return CONTENT_SECURITY_POLICY.replace("frame-ancestors 'none'",
                                           "frame-ancestors " + " ".join(frame_ancestors))


def security_headers(path: str, frame_ancestors: tuple[str, ...] = ()) -> dict[str, str]:
    """The headers every HTTP response carries (errors and 500s included)."""
    headers = {
        "content-security-policy": DOCS_POLICY if path in DOCS_PATHS
        else page_policy(frame_ancestors),
        "x-content-type-options": "nosniff",
        "referrer-policy": "same-origin",
    }
    if not frame_ancestors:  # X-Frame-Options has no list of origins: CSP says it then
        headers["x-frame-options"] = "DENY"
    return headers


class SecurityHeaders:
    """CSP and friends on every HTTP response that does not set its own CSP."""

    def __init__(self, app: ASGIApp, frame_ancestors: tuple[str, ...] = ()):
        self.app = app
        self.frame_ancestors = tuple(frame_ancestors)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wanted = [(k.encode(), v.encode())
                  for k, v in security_headers(scope["path"], self.frame_ancestors).items()]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in wanted:
                    if name not in present:
                        headers.append((name, value))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class CrossSiteWrites:
    """Refuse state-changing requests sent by another site's page (403).

    A multipart form or a text/plain POST is a "simple" request: a browser sends it from any
    page without asking first, with the user's cookies. Browsers say where it came from in
    `Origin` and `Sec-Fetch-Site`; a request with neither is not from a browser page.
    """

    def __init__(self, app: ASGIApp, allowed_origins: tuple[str, ...]):
        self.app = app
        self.allowed_origins = allowed_origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WRITE_METHODS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        site = headers.get(b"sec-fetch-site", b"").decode("latin-1").lower()
        origin = headers.get(b"origin")
        refused = site == "cross-site"
        if origin is not None and not refused:
            host = headers.get(b"host", b"").decode("latin-1")
            refused = not same_origin(origin.decode("latin-1"), host,
                                      scope.get("scheme") == "https", self.allowed_origins)
        if refused:
            await _send_error(send, 403, "requests that change data must come from this "
                                         "server's own page, not from another site")
            return
        await self.app(scope, receive, send)


TOKEN_COOKIE = "gatescope_token"
OPEN_PATHS = ("/api/health",)  # liveness probes need no token


class TokenGate:
    """Off loopback, every request carries the server's token (as Jupyter does).

    The token comes as `?token=` (the start-up URL), an `Authorization: token <t>` (or
    Bearer) header, or the cookie set on the first visit with `?token=`.
    """

    def __init__(self, app: ASGIApp, token: str):
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        from_query = (query.get("token") or [""])[0]
        candidates = [from_query]
        authorization = headers.get(b"authorization", b"").decode("latin-1").split(None, 1)
        if len(authorization) == 2 and authorization[0].lower() in ("token", "bearer"):
            candidates.append(authorization[1].strip())
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get(b"cookie", b"").decode("latin-1"))
        except Exception:  # noqa: BLE001 - a malformed cookie header is simply no token
            pass
        if TOKEN_COOKIE in cookie:
            candidates.append(cookie[TOKEN_COOKIE].value)
        if not any(c and hmac.compare_digest(c.encode(), self.token) for c in candidates):
            if scope["type"] == "http":
                await _send_error(send, 403, "this server needs its token: open the URL it "
                                             "printed at start (…/?token=…)")
            else:
                await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] == "websocket" or not from_query:
            await self.app(scope, receive, send)
            return

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                value = (f"{TOKEN_COOKIE}={self.token.decode()}; Path=/; HttpOnly; "
                         "SameSite=Strict")
                message = {**message, "headers": [*message.get("headers", []),
                                                  (b"set-cookie", value.encode())]}
            await send(message)

        await self.app(scope, receive, send_with_cookie)


class JsonNumberLimit:
    """Refuse JSON bodies holding more numbers than `limit`, before they are parsed.

    Parsed, each JSON number becomes a Python float in a list (about 50 bytes with the
    validation copies), so a 16 MB body of numbers would take 400 MB. Separators are
    counted on the raw bytes (the body size limit has bounded them already).
    """

    def __init__(self, app: ASGIApp, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        content_type = dict(scope.get("headers", ())).get(b"content-type", b"").lower()
        if scope["type"] != "http" or not content_type.startswith(b"application/json"):
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        numbers = body.count(b",") + body.count(b"\n") + 1
        if numbers > self.limit:
            await _send_error(send, 413, f"the body holds about {numbers} values, more than "
                                         f"the limit of {self.limit}; send a shorter sequence "
                                         "and add the rest with /append")
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class CreationRate:
    """At most `per_minute` new sessions and uploads per client address (a sliding minute).

    Off on loopback servers by default: a local user and the tests never meet it."""

    PATHS = ("/api/sessions", "/api/weights")

    def __init__(self, app: ASGIApp, per_minute: int, max_clients: int = 10_000):
        self.app = app
        self.per_minute = per_minute
        self.max_clients = max_clients
        self.seen: OrderedDict[str, deque[float]] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in self.PATHS:
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("?", 0))[0]
        now = time.monotonic()
        times = self.seen.pop(client, None) or deque()
        while times and now - times[0] > 60:
            times.popleft()
        self.seen[client] = times  # most recent at the end; the oldest clients are forgotten
        while len(self.seen) > self.max_clients:
            self.seen.popitem(last=False)
        if len(times) >= self.per_minute:
            await _send_error(send, 429, f"more than {self.per_minute} new sessions and "
                                         "uploads in a minute from this address; wait a "
                                         "little and try again",
                              extra=[(b"retry-after", b"60")])
            return
        times.append(now)
        await self.app(scope, receive, send)


async def _send_error(send: Send, status: int, detail: str,
                      extra: list[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps({"detail": detail, "field": None}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close"), *extra]})
    await send({"type": "http.response.body", "body": body})
