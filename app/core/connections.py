"""The HTTP protocol uvicorn runs, with two guards against slow or greedy clients.

- A client that has not finished its request headers within `header_timeout` seconds of
  starting them (or of connecting) is disconnected: half-open sockets cannot pile up.
- At most `max_connections_per_client` open HTTP connections per client address; more are
  closed at once. A WebSocket leaves this count when it upgrades (the stream has its own
  cap, `max_ws_connections`).

A connection counts while its transport is open *and still speaks HTTP through this
protocol*: an upgraded connection hands its transport to the WebSocket protocol, so it stops
counting whichever hook uvicorn called on the way (`handle_upgrade` in older releases,
`handle_websocket_upgrade` today) — a missed hook can no longer lock an address out.

uvicorn is given this class by name (`http="app.core.connections:GuardedHttpProtocol"`),
so every worker process imports it and reads the limits from its GATESCOPE_* environment.
"""

from __future__ import annotations

import logging

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.core.settings import Settings

log = logging.getLogger("gatescope")


class GuardedHttpProtocol(HttpToolsProtocol):
    _limits: tuple[float, int] | None = None  # (header_timeout, max per client), per process
    # Connections per client address, per process; recounted from what is still alive.
    _open: dict[str, set[GuardedHttpProtocol]] = {}

    @classmethod
    def limits(cls) -> tuple[float, int]:
        if cls._limits is None:
            settings = Settings.from_env()
            cls._limits = (settings.header_timeout, settings.max_connections_per_client)
        return cls._limits

    @classmethod
    def open_count(cls, address: str) -> int:
        """Connections from `address` still serving HTTP (the dead and upgraded dropped)."""
        members = cls._open.get(address)
        if not members:
            return 0
        for member in [m for m in members if not m._serving_http()]:
            members.discard(member)
        if not members:
            del cls._open[address]
        return len(members)

    def _serving_http(self) -> bool:
        transport = getattr(self, "transport", None)
        return (transport is not None and not transport.is_closing()
                and transport.get_protocol() is self)

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_timer = None
        self._address = self.client[0] if self.client else "?"
        timeout, most = self.limits()
        if self.open_count(self._address) >= most:
            log.warning("closing a connection from %s: more than %d open", self._address, most)
            transport.close()
            return
        self._open.setdefault(self._address, set()).add(self)
        self._start_header_timer()

    def _start_header_timer(self) -> None:
        self._stop_header_timer()
        self._header_timer = self.loop.call_later(self.limits()[0], self._headers_too_slow)

    def _stop_header_timer(self) -> None:
        timer = getattr(self, "_header_timer", None)
        if timer is not None:
            timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def _release(self) -> None:
        members = self._open.get(getattr(self, "_address", "?"))
        if members is not None:
            members.discard(self)
            if not members:
                del self._open[self._address]

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._start_header_timer()  # each request of a kept-alive connection, afresh

    def on_headers_complete(self) -> None:
        self._stop_header_timer()
        super().on_headers_complete()

    # Both upgrade hooks: uvicorn renamed it; whichever runs, the slot is given back.
    def handle_websocket_upgrade(self) -> None:
        self._stop_header_timer()
        self._release()
        super().handle_websocket_upgrade()

    def handle_upgrade(self) -> None:
        self._stop_header_timer()
        self._release()
        parent = getattr(super(), "handle_upgrade", None)
        if parent is not None:
            parent()
        else:
            super().handle_websocket_upgrade()

    def connection_lost(self, exc) -> None:
        self._stop_header_timer()
        self._release()
        super().connection_lost(exc)
