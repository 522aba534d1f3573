"""No lockout: a connection that becomes a WebSocket gives its per-address slot back, so a
classroom behind one address (300 page loads, each with its stream) is never refused.

The server runs in a process of its own with the default per-address cap (256); the
WebSockets are opened and closed by another process, as a crowd of browsers would."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import httpx
import pytest

from app.core.settings import Settings
from tests.support import COUNTER_TEXT, ServerProcess

SOCKETS = 300

OPENER = textwrap.dedent("""
    import json, sys
    from websockets.sync.client import connect
    url, count = sys.argv[1], int(sys.argv[2])
    framed = 0
    for _ in range(count):
        with connect(url, open_timeout=30) as ws:
            ws.send(json.dumps({"seek": 1}))
            frame = json.loads(ws.recv(timeout=30))
            framed += frame.get("t") == 1
    print(framed)
""")


@pytest.mark.slow
def test_300_websockets_from_one_address_leave_it_served(tmp_path):
    assert SOCKETS > Settings().max_connections_per_client  # the cap would lock it out
    with ServerProcess(tmp_path / "data") as server:
        created = httpx.post(server.url + "/api/sessions", timeout=30,
                             json={"preset": "counter", "sequence": {"text": COUNTER_TEXT}})
        assert created.status_code == 201, created.text
        url = f"ws://127.0.0.1:{server.port}/api/sessions/{created.json()['id']}/stream"
        done = subprocess.run([sys.executable, "-c", OPENER, url, str(SOCKETS)],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert int(done.stdout) == SOCKETS  # every one of them upgraded and got its frame
        # Then the same address is still served: fresh connections, not one kept alive.
        for _ in range(3):
            answer = httpx.get(server.url + f"/api/sessions/{created.json()['id']}",
                               timeout=10, headers={"Connection": "close"})
            assert answer.status_code == 200, answer.text
