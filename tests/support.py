"""Helpers shared by the tests: free ports, a server launcher, sessions, error checks."""

from __future__ import annotations

import json
import socket

import cells

COUNTER_TEXT = "count (the (nested) brackets) ((ok)) done"


def create_session(client, **body) -> dict:
    response = client.post("/api/sessions", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def upload_model(client, path, vocabulary: list[str]) -> dict:
    """POST a weights file with its vocabulary (as vocab.json) to /api/weights; the record."""
    files = {"file": (path.name, path.read_bytes()),
             "vocabulary": ("vocab.json", json.dumps(vocabulary).encode())}
    response = client.post("/api/weights", files=files)
    assert response.status_code == 201, response.text
    return response.json()


def counter_trace(text: str = COUNTER_TEXT) -> cells.Trace:
    """The counter preset run directly by the engine: what the API must reproduce."""
    preset = cells.presets.get("counter")
    return preset.cell.run(preset.encode(text))


def assert_error(response, status: int, field: str | None = None, *fragments: str) -> dict:
    """A 4xx JSON error naming `field` and containing each fragment."""
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body["detail"], str), body
    if field is not None:
        assert body["field"] == field, body
        assert body["detail"].startswith(field), body
    for fragment in fragments:
        assert fragment in body["detail"], body
    return body


def wait_until(condition, what: str, timeout: float = 60.0):
    """Wait for an event: poll `condition()` until it is truthy and return its value. The
    timeout only ends a test whose event never comes; it measures nothing, so it is long."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:g} s for {what}; it did not happen")
        time.sleep(0.02)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """`python -m app serve` in a subprocess on a free loopback port (ended on exit)."""

    def __init__(self, data_dir, *args: str, env: dict | None = None):
        self.data_dir, self.args, self.env = data_dir, args, env or {}
        self._retries = 0
        self._start()

    def _start(self) -> None:
        import os
        import subprocess
        import sys
        from pathlib import Path

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        root = Path(__file__).resolve().parents[1]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--port", str(self.port),
             "--data-dir", str(self.data_dir), "--log-level", "warning", *self.args],
            cwd=root, env={**os.environ, **self.env},
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def __enter__(self) -> ServerProcess:
        import time

        import httpx

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                error = self.process.stderr.read().decode()
                if "address already in use" in error.lower() and self._retries < 3:
                    self._retries += 1  # another process took the free port meanwhile
                    self._start()
                    continue
                raise RuntimeError(f"server exited: {error}")
            try:
                if httpx.get(self.url + "/api/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.__exit__()
        raise RuntimeError("server did not start in 60 s")

    def __exit__(self, *exc) -> None:
        import subprocess

        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stderr.close()


# Tolerances of the conformance checks (float64 / float32 against independent references).
TOLERANCE = {"float64": 1e-10, "float32": 1e-5}


def peak_rss_bytes(pid: int) -> int:
    """The peak resident memory of a process so far (VmHWM), in bytes."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/<pid>/status")


def rss_bytes(pid: int) -> int:
    import psutil

    return psutil.Process(pid).memory_info().rss
