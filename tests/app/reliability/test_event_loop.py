"""Nothing that grows with a session runs on the event loop: while heavy records are being
made (a text of 400,000 graphemes, each an e and a combining accent, whose record lists
every joined step), another user's GET of a small session is answered — asserted by the
order of the answers, not by their times. The server's caches are smaller than one big record,
so each GET of a big session parses its config and makes its record again, as a server
under many sessions does once its caches have turned over."""

from __future__ import annotations

import json
import select
import socket

import httpx

from tests.support import COUNTER_TEXT, ServerProcess

GRAPHEMES = 400_000
HEAVY = 4


def _ask(port: int, path: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
                 .encode())
    return sock


def _answer(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(1 << 16):
        chunks.append(chunk)
    sock.close()
    return b"".join(chunks)


def _answered(sock: socket.socket) -> bool:
    """Whether the server has written anything to this socket yet (without waiting)."""
    readable, _, _ = select.select([sock], [], [], 0)
    return bool(readable)


def test_a_small_get_is_answered_while_big_records_are_made(tmp_path):
    # 2 MB: the small session's config and record are kept, no big one's (~4 MB each)
    with ServerProcess(tmp_path / "data", env={"GATESCOPE_CONFIG_CACHE_BYTES": "2000000"}) \
            as server:
        text = "e\u0301" * GRAPHEMES
        bigs = []
        for seed in range(HEAVY):  # each its own record (a record is made once per content)
            big = httpx.post(server.url + "/api/sessions", timeout=300, content=json.dumps(
                {"cell": "lstm", "hidden_size": 8, "seed": seed, "sequence": {"text": text}},
                ensure_ascii=False).encode(),
                headers={"content-type": "application/json"})
            assert big.status_code == 201, big.text[:300]
            assert len(big.json()["sequence"]["clusters"]) == GRAPHEMES
            bigs.append(big.json()["id"])
        small = httpx.post(server.url + "/api/sessions", timeout=300, json={
            "preset": "counter", "sequence": {"text": COUNTER_TEXT}})
        assert small.status_code == 201

        heavy = [_ask(server.port, f"/api/sessions/{big}") for big in bigs]
        cheap = _answer(_ask(server.port, f"/api/sessions/{small.json()['id']}"))
        pending = [not _answered(sock) for sock in heavy]
        assert cheap.startswith(b"HTTP/1.1 200"), cheap[:200]
        assert json.loads(cheap.split(b"\r\n\r\n", 1)[1])["steps"] == len(COUNTER_TEXT)
        assert any(pending), "every big record was answered before the small one"
        for sock in heavy:  # and the big ones are answered too
            assert _answer(sock).startswith(b"HTTP/1.1 200")
