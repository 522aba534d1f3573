"""Who a request is from: its address and, where the page says, its browser tab.

A classroom behind one NAT shares one address; the page sends a per-tab id (the
`X-Gatescope-Tab` header on fetches, the `tab` query parameter on WebSockets), so fair
shares and per-client caps (compute queues, training jobs, progress sockets) count tabs,
not the whole room. The id is not a credential: without one, or with a malformed one, the
client is its address alone. Limits that guard the machine itself (connections per address,
the creation rate) stay per address, since a tab id costs nothing to make up.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from urllib.parse import parse_qs

TAB_HEADER = "x-gatescope-tab"
TAB_QUERY = "tab"
_TAB_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
# The client of the request being served: set for each request and WebSocket by
# `ClientOf`, read where work is queued (the compute pool's per-client turns). Threads the
# request hands work to (anyio's to_thread) inherit it.
current_client: ContextVar[str] = ContextVar("gatescope_client", default="")


def client_address(scope) -> str:
    return (scope.get("client") or ("?", 0))[0]


def tab_id(scope) -> str | None:
    for name, value in scope.get("headers") or ():
        if name == TAB_HEADER.encode():
            text = value.decode("latin-1")
            return text if _TAB_ID.fullmatch(text) else None
    query = scope.get("query_string") or b""
    if TAB_QUERY.encode() in query:
        found = parse_qs(query.decode("latin-1")).get(TAB_QUERY)
        if found and _TAB_ID.fullmatch(found[0]):
            return found[0]
    return None


def client_key(scope) -> str:
    """`address` or `address#tab`: the unit of fair shares and per-client caps."""
    address = client_address(scope)
    tab = tab_id(scope)
    return f"{address}#{tab}" if tab else address


class ClientOf:
    """ASGI middleware: `current_client` is the request's client while it is served."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        token = current_client.set(client_key(scope))
        try:
            await self.app(scope, receive, send)
        finally:
            current_client.reset(token)
