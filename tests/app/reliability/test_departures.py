"""Work for a client that has gone is stopped: a window far past what is computed, asked by a
client that then closes its connection, is computed only to the batch under way — asserted
on the steps the server has computed (its /api/health counters), not on time — while a
client that stays gets its window."""

from __future__ import annotations

import random
import socket

import httpx

from tests.support import ServerProcess, wait_until

STEPS = 200_000


def test_a_departed_clients_window_stops_at_the_next_batch(tmp_path):
    # no background computing: only what requests ask for is computed
    env = {"GATESCOPE_COMPUTE_IDLE_SECONDS": "0.001"}
    with ServerProcess(tmp_path / "data", env=env) as server:
        text = "".join(random.Random(0).choice("abcdefghij") for _ in range(STEPS))
        made = httpx.post(server.url + "/api/sessions", timeout=300, json={
            "cell": "lstm", "hidden_size": 256, "seed": 0, "sequence": {"text": text}})
        assert made.status_code == 201, made.text
        session = made.json()["id"]

        def health() -> dict:
            return httpx.get(server.url + "/api/health", timeout=60).json()

        before = health()
        assert before["computed_steps"] < STEPS // 10 and before["abandoned"] == 0
        with socket.create_connection(("127.0.0.1", server.port)) as raw:
            raw.sendall(f"GET /api/sessions/{session}/trace?start={STEPS - 1}&stop={STEPS}"
                        f"&names=h HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n".encode())
            wait_until(lambda: health()["computed_steps"] > before["computed_steps"],
                       "the window's computing to start")
        # the client has gone: its task stops at its next batch and says so
        wait_until(lambda: health()["abandoned"] == 1, "the departed client's work to stop")
        stopped = health()["computed_steps"]
        assert stopped < STEPS // 2, stopped
        assert health()["computed_steps"] == stopped  # nothing goes on computing it

        # a client that stays is answered, from where the departed one's work stopped
        stop = stopped + 8192
        window = httpx.get(f"{server.url}/api/sessions/{session}/trace", timeout=300,
                           params={"start": stop - 1, "stop": stop, "names": "h"})
        assert window.status_code == 200, window.text
        assert len(window.json()["signals"]["h"]) == 1
        after = health()
        assert after["computed_steps"] >= stop and after["abandoned"] == 1
