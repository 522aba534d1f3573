"""Schemathesis over the OpenAPI schema: generated requests never get a 5xx.

Bounded: a few examples per operation, so the whole run stays well under two minutes.
"""

from __future__ import annotations

import tempfile
import warnings

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from app.core.factory import create_app
from app.core.settings import Settings

warnings.filterwarnings("ignore", message=r"Using `httpx` with `starlette\.testclient`")

_DATA = tempfile.TemporaryDirectory(prefix="gatescope-schemathesis-")
# Small limits keep generated sessions cheap (a 1024 x 4096 cell per example would be slow).
APP = create_app(Settings(data_dir=_DATA.name, allowed_hosts=("testserver",),
                          max_hidden_size=64, max_input_size=64,
                          max_steps=2000, max_body_bytes=1 << 20, max_upload_bytes=1 << 20))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case):
    case.call_and_validate(checks=[not_a_server_error])
