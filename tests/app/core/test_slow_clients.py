"""Slow clients: half-open requests are cut off after the header timeout, and each client
address may hold only so many connections (a real server process on loopback)."""

from __future__ import annotations

import socket

import httpx
import pytest

from tests.support import ServerProcess, wait_until


def half_open(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(b"GET /api/cells HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")  # never ends
    return sock


def closed_by_server(sock: socket.socket, wait: float) -> bool:
    sock.settimeout(wait)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


@pytest.fixture
def server(tmp_path):
    env = {"GATESCOPE_HEADER_TIMEOUT": "1", "GATESCOPE_MAX_CONNECTIONS_PER_CLIENT": "12"}
    with ServerProcess(tmp_path / "data", env=env) as running:
        yield running


@pytest.mark.slow
def test_half_open_requests_are_cut_off(server):
    socks = [half_open(server.port) for _ in range(8)]
    # Nothing but the header timeout (1 s here) ends a request whose headers never end; the
    # wait for the server's close is long so that a busy machine cannot fail it.
    assert all(closed_by_server(s, 60) for s in socks)
    for s in socks:
        s.close()
    assert httpx.get(server.url + "/api/cells", timeout=5).status_code == 200


@pytest.mark.slow
def test_connections_per_client_are_capped(server):
    held = [half_open(server.port) for _ in range(12)]
    extra = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    assert closed_by_server(extra, 0.5)  # closed at once, long before the header timeout
    extra.close()
    for s in held:
        s.close()
    # Once the server has seen them go, a new connection is served again.
    assert wait_until(lambda: served(server.url + "/api/cells") == 200,
                      "a connection served after the held ones closed")


def served(url: str) -> int | None:
    """The status of a GET, or None when the server closed the connection unanswered."""
    try:
        return httpx.get(url, timeout=5).status_code
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.ConnectError):
        return None
