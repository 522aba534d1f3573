"""The app factory itself refuses to serve off loopback without a token (as Jupyter does),
whatever launched it: `uvicorn app:create_app --factory` with GATESCOPE_HOST=0.0.0.0 too."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.core.factory import TokenRequired, create_app
from app.core.settings import Settings
from tests.support import free_port

ROOT = Path(__file__).resolve().parents[3]


def test_off_loopback_without_a_token_is_refused(tmp_path):
    with pytest.raises(TokenRequired, match="GATESCOPE_TOKEN"):
        create_app(Settings(host="0.0.0.0", data_dir=tmp_path))


def test_off_loopback_with_a_token_requires_it(tmp_path):
    app = create_app(Settings(host="0.0.0.0", token="s3cret-s3cret-s3cret",
                              data_dir=tmp_path, allowed_hosts=("testserver",)))
    with TestClient(app) as client:
        assert client.get("/api/cells").status_code in (401, 403)
        assert client.get("/api/cells?token=s3cret-s3cret-s3cret").status_code == 200


def test_saying_so_serves_without_a_token(tmp_path):
    app = create_app(Settings(host="0.0.0.0", allow_no_token=True, data_dir=tmp_path,
                              allowed_hosts=("testserver",)))
    with TestClient(app) as client:
        assert client.get("/api/cells").status_code == 200


def test_uvicorn_factory_off_loopback_does_not_start(tmp_path):
    env = {**os.environ, "GATESCOPE_HOST": "0.0.0.0", "GATESCOPE_DATA_DIR": str(tmp_path)}
    env.pop("GATESCOPE_TOKEN", None)
    env.pop("GATESCOPE_ALLOW_NO_TOKEN", None)
    done = subprocess.run([sys.executable, "-m", "uvicorn", "app:create_app", "--factory",
                           "--port", str(free_port())], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "without a token" in done.stderr and "GATESCOPE_TOKEN" in done.stderr
