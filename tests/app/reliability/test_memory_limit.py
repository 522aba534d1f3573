"""A server under a memory limit (RLIMIT_AS on its process): a request that needs more
memory than the server has left gets a clear 503 saying so, and the server goes on serving
everyone else — the request's allocations are given back, nothing is killed."""

from __future__ import annotations

import httpx

from tests.support import (
    COUNTER_TEXT,
    LIMITED_ENV,
    SERVER_ADDRESS_SPACE,
    ServerProcess,
    assert_error,
)

# The limit leaves room for ordinary work, not for a cell of hidden size 8,192: its
# recurrent weights alone are 4·8192² numbers, 1 GiB as float32, and are copied to run.
HIDDEN = 8192


def test_a_request_over_the_memory_left_gets_503_and_the_server_serves_on(tmp_path):
    env = {**LIMITED_ENV, "GATESCOPE_MAX_HIDDEN_SIZE": str(HIDDEN)}  # to the memory
    with ServerProcess(tmp_path / "data", env=env, address_space=SERVER_ADDRESS_SPACE) as server:
        big = httpx.post(server.url + "/api/sessions", timeout=300, json={
            "cell": "lstm", "hidden_size": HIDDEN, "seed": 0, "sequence": {"text": "ab"}})
        assert_error(big, 503, None, "not enough memory", "smaller hidden_size")
        assert server.process.poll() is None  # still running
        for _ in range(3):  # and serving others, again and again
            small = httpx.post(server.url + "/api/sessions", timeout=300, json={
                "preset": "counter", "sequence": {"text": COUNTER_TEXT}})
            assert small.status_code == 201, small.text
            record = httpx.get(f"{server.url}/api/sessions/{small.json()['id']}", timeout=60)
            assert record.status_code == 200 and record.json()["steps"] == len(COUNTER_TEXT)
        again = httpx.post(server.url + "/api/sessions", timeout=300, json={
            "cell": "lstm", "hidden_size": HIDDEN, "seed": 0, "sequence": {"text": "ab"}})
        assert_error(again, 503, None, "not enough memory")
