"""A seek far past what is computed takes its turns: it computes a batch, then waits in line
again, so it never holds the compute pool's slow thread for the whole run up to its step.
Another user's seek that needs a little computing is answered meanwhile — asserted by order
of completion against a seeker in a process of its own, not by time."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import textwrap

import httpx
import pytest
from websockets.sync.client import connect

from tests.support import ServerProcess

LONG_STEPS = 300_000  # at H 256, seconds of compute up to its last step

SEEKER = textwrap.dedent("""
    import json, sys
    from websockets.sync.client import connect
    url, t = sys.argv[1], int(sys.argv[2])
    with connect(url, open_timeout=60, max_size=2**24) as ws:
        ws.send(json.dumps({"seek": t}))
        print("asked", flush=True)
        while json.loads(ws.recv(timeout=600)).get("t") != t:
            pass
        print("frame", flush=True)  # (the test is over before)
""")


def _text(steps: int, seed: int) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice("abcdefghij") for _ in range(steps))


def _frame_of(ws, t: int) -> dict:
    while True:
        message = json.loads(ws.recv(timeout=120))
        if message.get("t") == t:
            return message


@pytest.mark.slow
def test_a_far_seek_does_not_hold_up_another_users_seek(tmp_path):
    # two compute threads: one kept for cheap work, one shared by the slow lanes
    with ServerProcess(tmp_path / "data", env={"GATESCOPE_COMPUTE_THREADS": "2"}) as server:
        long = httpx.post(server.url + "/api/sessions", timeout=300, json={
            "cell": "lstm", "hidden_size": 256, "seed": 0,
            "sequence": {"text": _text(LONG_STEPS, 0)}})
        assert long.status_code == 201, long.text[:300]
        stream = f"ws://127.0.0.1:{server.port}/api/sessions/{{}}/stream"
        seeker = subprocess.Popen(
            [sys.executable, "-c", SEEKER, stream.format(long.json()["id"]), str(LONG_STEPS - 1)],
            stdout=subprocess.PIPE, text=True)
        try:
            assert seeker.stdout.readline().strip() == "asked"
            victim = {"X-Gatescope-Tab": "victim-tab-0001"}
            # made now, so that the rest of its trace (after the first window) is not computed
            # in the background: that lane waits behind the far seek
            small = httpx.post(server.url + "/api/sessions", timeout=300, headers=victim, json={
                "cell": "lstm", "hidden_size": 8, "seed": 1,
                "sequence": {"text": _text(3000, 1)}})
            assert small.status_code == 201, small.text[:300]
            url = stream.format(small.json()["id"]) + "?tab=victim-tab-0001"
            with connect(url, open_timeout=60) as ws:
                ws.send(json.dumps({"seek": 2999}))
                assert _frame_of(ws, 2999)["steps"] == 3000
            assert seeker.poll() is None  # the far seek is still being computed
        finally:
            seeker.kill()
