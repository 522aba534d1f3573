"""API test fixtures: a fresh data directory, an app on it and a TestClient (lifespan run)."""

from __future__ import annotations

import warnings

import pytest

# Starlette's TestClient warns that it will move from httpx to httpx2; the tests only use
# its public API, so the warning says nothing about this code.
warnings.filterwarnings("ignore", message=r"Using `httpx` with `starlette\.testclient`")

from fastapi.testclient import TestClient  # noqa: E402

from app.core.factory import create_app  # noqa: E402
from app.core.settings import Settings  # noqa: E402
from tests.support import COUNTER_TEXT  # noqa: E402


@pytest.fixture
def settings(tmp_path) -> Settings:
    # TestClient sends Host: testserver, which a real server would not know.
    return Settings(data_dir=tmp_path / "data", allowed_hosts=("testserver",))


@pytest.fixture
def make_client(settings):
    """A TestClient on a new app; `make_client(**changes)` changes settings first."""
    opened = []

    def make(**changes) -> TestClient:
        client = TestClient(create_app(settings.replace(**changes)))
        client.__enter__()
        opened.append(client)
        return client

    yield make
    for client in reversed(opened):
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client) -> TestClient:
    return make_client()


@pytest.fixture
def counter_session(client) -> dict:
    response = client.post("/api/sessions",
                           json={"preset": "counter", "sequence": {"text": COUNTER_TEXT}})
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture
def app_state(client):
    """The running app's state (its caches and counters)."""
    return client.app.state
