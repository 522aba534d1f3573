"""A fair share of compute: cheap requests (a session record, a window of a trace, a small
create) are answered while heavy ones (sensitivity over a long window at H 512) are
queued — asserted by order of completion against an attacker in a process of its own."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import httpx
import numpy as np
import pytest

from tests.support import COUNTER_TEXT, ServerProcess

HEAVY = 8

ATTACKER = textwrap.dedent("""
    import sys, threading, httpx
    url, count = sys.argv[1], int(sys.argv[2])
    lock = threading.Lock()
    def one(k):
        answer = httpx.get(url, params={"t": 4000 - k, "unit": k, "window": 2048}, timeout=600)
        with lock:
            print("done", answer.status_code, flush=True)
    threads = [threading.Thread(target=one, args=(k,)) for k in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
""")


@pytest.mark.slow
def test_cheap_requests_are_answered_while_heavy_ones_wait(tmp_path):
    env = {"GATESCOPE_COMPUTE_THREADS": "2"}
    with ServerProcess(tmp_path / "data", env=env) as server:
        rows = np.random.default_rng(0).normal(size=(4200, 4)).tolist()
        made = httpx.post(server.url + "/api/sessions", timeout=300, json={
            "cell": "lstm", "hidden_size": 512, "sequence": {"values": rows}})
        assert made.status_code == 201, made.text
        session = made.json()["id"]
        attacker = subprocess.Popen(
            [sys.executable, "-c", ATTACKER,
             f"{server.url}/api/sessions/{session}/sensitivity", str(HEAVY)],
            stdout=subprocess.PIPE, text=True)
        try:
            assert attacker.stdout.readline().split() == ["done", "200"]  # the rest queued
            victim = {"X-Gatescope-Tab": "victim-tab-0001"}
            record = httpx.get(f"{server.url}/api/sessions/{session}", headers=victim,
                               timeout=300)
            window = httpx.get(f"{server.url}/api/sessions/{session}/trace",
                               params={"start": 0, "stop": 50}, headers=victim, timeout=300)
            small = httpx.post(server.url + "/api/sessions", headers=victim, timeout=300,
                               json={"preset": "counter", "sequence": {"text": COUNTER_TEXT}})
            assert (record.status_code, window.status_code, small.status_code) == (200, 200, 201)
            assert attacker.poll() is None  # heavy work still queued when the victim is done
            rest = attacker.stdout.read().split("\n")
            finished = [line for line in rest if line]
            assert len(finished) == HEAVY - 1 and all(f == "done 200" for f in finished)
        finally:
            attacker.kill()
            attacker.wait()
