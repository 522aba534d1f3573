"""Real-browser fixtures: one real uvicorn server (a subprocess on a free loopback port,
with a temporary data directory) and one Chromium for the whole session.

Set GATESCOPE_BROWSER_URL to test a server that is already running instead.
Screenshots go to $GATESCOPE_ARTIFACTS or tests/page/artifacts/ (git-ignored).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.support import ServerProcess, is_up, wait_until

# Playwright's 5 s default for `expect` is what an upload or a first trace takes on a busy
# 2-core machine; a passing check returns as soon as it holds, so only a failure waits longer.
expect.set_options(timeout=15_000)

ROOT = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": "/usr/bin/chromium",
        "args": [
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--no-first-run",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1500, "height": 1100}}


@pytest.fixture(scope="session")
def server_url(tmp_path_factory):
    external = os.environ.get("GATESCOPE_BROWSER_URL")
    if external:
        wait_until(lambda: is_up(external.rstrip("/")), f"the server at {external}")
        yield external.rstrip("/")
        return
    with ServerProcess(tmp_path_factory.mktemp("gatescope-data")) as server:
        yield server.url


@pytest.fixture(scope="session")
def base_url(server_url):
    """pytest-playwright resolves page.goto("/...") against this."""
    return server_url


@pytest.fixture(scope="session")
def api(server_url):
    """GET/POST JSON against the server: api("GET", "/api/cells")."""

    def call(method: str, path: str, body: dict | None = None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            server_url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"} if data else {},
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    return call


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    path = Path(os.environ.get("GATESCOPE_ARTIFACTS") or Path(__file__).parent / "artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def errors(page):
    """JavaScript errors of the page (pageerror + console errors); asserted empty after the test."""
    seen: list[str] = []
    page.on("pageerror", lambda exc: seen.append(f"pageerror: {exc}"))
    page.on(
        "console", lambda msg: seen.append(f"console: {msg.text}") if msg.type == "error" else None
    )
    yield seen
    assert seen == [], "JavaScript errors:\n" + "\n".join(seen)


@pytest.fixture
def js_errors(page):
    """As `errors`, but a refused request the test makes on purpose (a 404, a
    422: the browser logs it as a console error) is not one."""
    seen: list[str] = []
    page.on("pageerror", lambda exc: seen.append(f"pageerror: {exc}"))
    page.on("console", lambda msg: seen.append(f"console: {msg.text}")
            if msg.type == "error" and not msg.text.startswith("Failed to load resource")
            else None)
    yield seen
    assert seen == [], "JavaScript errors:\n" + "\n".join(seen)
