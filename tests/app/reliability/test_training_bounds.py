"""Training jobs bounded before they run: their cost estimated at submit (updates, memory,
the session they will open) and refused with what to shrink; one active job per client (a
page's tab counts as a client); a worker under an address-space limit fails alone; a cancel
at any moment reaps its worker and stays `cancelled`; progress sockets are capped and get
their backlog in one message. Real servers on loopback; clients are other processes or
sockets of their own."""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path

import httpx
import psutil
import pytest
from websockets.sync.client import connect

from tests.support import ServerProcess

TEXT = "the cat sat on the mat; the bat ate the rat. " * 6
SMALL = {"text": TEXT, "cell": "gru", "hidden_size": 8, "steps": 25, "seq_len": 12, "batch": 4}
LONG = {"text": TEXT, "hidden_size": 48, "steps": 20_000, "seq_len": 16, "batch": 4}


def wait(url: str, job: str, states: tuple[str, ...], min_step: int = 0,
         timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = httpx.get(f"{url}/api/train/{job}", timeout=30).json()
        if body["state"] in states and body["step"] >= min_step:
            return body
        time.sleep(0.05)
    raise AssertionError(f"job {job} did not reach {states}: {body}")


def tab(name: str) -> dict:
    return {"X-Gatescope-Tab": f"tab-{name}-0123456789"}


def pipes(server) -> int:
    """How many pipes the server holds (a training worker's are its only ones)."""
    fds = Path(f"/proc/{server.process.pid}/fd")
    return sum(1 for fd in fds.iterdir() if _link(fd).startswith("pipe:"))


def _link(fd: Path) -> str:
    try:
        return os.readlink(fd)
    except FileNotFoundError:  # closed between the listing and the read
        return ""


def workers(server) -> list[psutil.Process]:
    return psutil.Process(server.process.pid).children(recursive=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    env = {"GATESCOPE_MAX_TRAIN_RUNNING": "1", "GATESCOPE_MAX_TRAIN_QUEUED": "8",
           "GATESCOPE_MAX_PROGRESS_SOCKETS_PER_JOB": "3"}
    with ServerProcess(tmp_path_factory.mktemp("data"), env=env) as running:
        yield running


@pytest.mark.slow
def test_costly_jobs_are_refused_at_submit_with_what_to_shrink(server):
    many = "".join(chr(0x4E00 + k) for k in range(4000))  # 4,000 distinct characters
    text = (many * 50)[:200_000]
    huge = {"text": text, "hidden_size": 512, "layers": 4, "batch": 100, "seq_len": 2000,
            "steps": 100}
    before = len(workers(server))
    answer = httpx.post(server.url + "/api/train", json=huge, timeout=60)
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["field"] == "batch" and "setting max_train_bytes" in body["detail"]
    assert "smaller batch" in body["detail"]
    # Cheap to train, but the session it would open on its 200k characters is not.
    session_too_big = {**huge, "batch": 2, "seq_len": 16}
    answer = httpx.post(server.url + "/api/train", json=session_too_big, timeout=60)
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["field"] == "text" and "the session it opens" in body["detail"]
    assert "setting max_session_operations" in body["detail"]
    assert len(workers(server)) == before  # no worker was started for either


@pytest.mark.slow
def test_one_active_job_per_client_and_tabs_are_clients(server):
    first = httpx.post(server.url + "/api/train", json=LONG, headers=tab("a"), timeout=30)
    assert first.status_code == 202, first.text
    again = httpx.post(server.url + "/api/train", json=LONG, headers=tab("a"), timeout=30)
    assert again.status_code == 429, again.text
    assert "one client" in again.json()["detail"]
    other = httpx.post(server.url + "/api/train", json=SMALL, headers=tab("b"), timeout=30)
    assert other.status_code == 202, other.text  # another tab behind the same address
    for job in (first.json()["job"], other.json()["job"]):
        httpx.delete(f"{server.url}/api/train/{job}", timeout=30)
        assert wait(server.url, job, ("cancelled",))["state"] == "cancelled"


@pytest.mark.slow
def test_a_cancel_at_any_moment_reaps_the_worker_and_stays_cancelled(server):
    jobs = []
    for k in range(6):  # cancelled at once, while queued, starting or running
        started = httpx.post(server.url + "/api/train", json=LONG, headers=tab(f"c{k}"),
                             timeout=30)
        assert started.status_code == 202, started.text
        job = started.json()["job"]
        if k % 2:
            wait(server.url, job, ("running",), min_step=1)
        cancelled = httpx.delete(f"{server.url}/api/train/{job}", timeout=30)
        assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
        jobs.append(job)
    deadline = time.monotonic() + 60
    while workers(server) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert workers(server) == []  # every worker reaped: no zombies, no live children
    # pipes, not every descriptor: a socket of a request just answered may still be closing
    held = pipes(server)
    again = httpx.post(server.url + "/api/train", json=LONG, headers=tab("d"), timeout=30)
    job = again.json()["job"]
    wait(server.url, job, ("running",), min_step=1)
    # The server's one runner (GATESCOPE_MAX_TRAIN_RUNNING=1) takes jobs in turn: with this
    # one running it is done with every cancelled one, so whatever could have overwritten
    # their state has run.
    for cancelled in jobs:
        body = httpx.get(f"{server.url}/api/train/{cancelled}", timeout=30).json()
        assert body["state"] == "cancelled" and body["session"] is None, body
    httpx.delete(f"{server.url}/api/train/{job}", timeout=30)
    deadline = time.monotonic() + 60
    while workers(server) and time.monotonic() < deadline:
        time.sleep(0.1)
    while pipes(server) > held and time.monotonic() < deadline:
        time.sleep(0.1)
    assert pipes(server) <= held  # its pipes closed


@pytest.mark.slow
def test_progress_sockets_are_capped_per_job_and_get_the_backlog_at_once(server):
    running = httpx.post(server.url + "/api/train", json=LONG, headers=tab("q"), timeout=30)
    job = running.json()["job"]
    wait(server.url, job, ("running",), min_step=50)
    url = f"ws://127.0.0.1:{server.port}/api/train/{job}/progress"
    with contextlib.ExitStack() as stack:
        held = [stack.enter_context(connect(url, open_timeout=30)) for _ in range(3)]
        first = json.loads(held[0].recv(timeout=30))
        assert first["state"] == "running"
        backlog = json.loads(held[0].recv(timeout=30))
        assert len(backlog["losses"]) >= 50  # every step before it connected, one message
        assert [s for s, _ in backlog["losses"]] == list(range(1, len(backlog["losses"]) + 1))
        with connect(url, open_timeout=30) as fourth:
            refusal = json.loads(fourth.recv(timeout=30))
            assert "the most it takes (3)" in refusal["error"]
    httpx.delete(f"{server.url}/api/train/{job}", timeout=30)
    wait(server.url, job, ("cancelled",))


@pytest.mark.slow
def test_a_worker_over_its_address_space_fails_alone(tmp_path):
    env = {"GATESCOPE_MAX_TRAIN_ADDRESS_SPACE": str(400 * 2**20),
           "GATESCOPE_MAX_TRAIN_BYTES": str(64 * 2**30)}
    greedy = {"text": TEXT * 40, "hidden_size": 512, "layers": 2, "batch": 64,
              "seq_len": 256, "steps": 5}
    with ServerProcess(tmp_path / "data", env=env) as server:
        job = httpx.post(server.url + "/api/train", json=greedy, timeout=30).json()["job"]
        body = wait(server.url, job, ("failed", "done"))
        assert body["state"] == "failed", body
        assert "memory limit" in body["error"] and "max_train_address_space" in body["error"]
        assert httpx.get(server.url + "/api/health", timeout=30).status_code == 200
