"""A server under a memory limit (RLIMIT_AS on its process): a request that needs more
memory than the server has left gets a clear 503 saying so, and the server goes on serving
everyone else — the request's allocations are given back, nothing is killed."""

from __future__ import annotations

import httpx

from tests.support import COUNTER_TEXT, ServerProcess, assert_error

# The server's address space at rest is about 0.6 GiB (Python, NumPy, FastAPI, a few
# threads); the limit leaves room for ordinary work, not for a cell of hidden size 6,000
# (its recurrent weights alone are 4·6000² numbers, over 1 GiB as float64).
LIMIT = 1536 * 2**20


def test_a_request_over_the_memory_left_gets_503_and_the_server_serves_on(tmp_path):
    env = {"GATESCOPE_MAX_HIDDEN_SIZE": "8192",  # let the request through to the memory
           "MALLOC_ARENA_MAX": "2"}  # glibc's per-thread arenas reserve address space
    with ServerProcess(tmp_path / "data", env=env, address_space=LIMIT) as server:
        big = httpx.post(server.url + "/api/sessions", timeout=300, json={
            "cell": "lstm", "hidden_size": 6000, "seed": 0, "sequence": {"text": "ab"}})
        assert_error(big, 503, None, "not enough memory", "smaller hidden_size")
        assert server.process.poll() is None  # still running
        for _ in range(3):  # and serving others, again and again
            small = httpx.post(server.url + "/api/sessions", timeout=300, json={
                "preset": "counter", "sequence": {"text": COUNTER_TEXT}})
            assert small.status_code == 201, small.text
            record = httpx.get(f"{server.url}/api/sessions/{small.json()['id']}", timeout=60)
            assert record.status_code == 200 and record.json()["steps"] == len(COUNTER_TEXT)
        again = httpx.post(server.url + "/api/sessions", timeout=300, json={
            "cell": "lstm", "hidden_size": 6000, "seed": 0, "sequence": {"text": "ab"}})
        assert_error(again, 503, None, "not enough memory")
