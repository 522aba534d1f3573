"""The app factory: `create_app(settings)`; shared things go on `app.state` in the lifespan.

Run with `gatescope serve` (app/core/cli.py), or `uvicorn app:create_app --factory`
(settings then come from GATESCOPE_* environment variables).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.api import pages
from app.api.errors import install_error_handlers
from app.api.middleware import (
    BodySizeLimit,
    CreationRate,
    CrossSiteWrites,
    HostCheck,
    JsonNumberLimit,
    SecurityHeaders,
    TokenGate,
    allowed_hosts,
)
from app.api.routes import api_router
from app.core.allocator import keep_freed_memory_for_reuse
from app.core.clients import ClientOf
from app.core.departures import WatchDeparture
from app.core.settings import Settings
from app.sessions.cache import ByteLRU
from app.sessions.datadir import Store
from app.sessions.service import SessionService
from app.stream.socket import StreamStats
from app.training.jobs import TrainingJobs
from cells.formats import budgets

DESCRIPTION = """\
The gatescope API: recurrent cells stepped through your sequence, every gate of every step.

Create a session (`POST /api/sessions`), then read its trace (`GET .../trace`) or open the
WebSocket `/api/sessions/{session_id}/stream` and send `{"seek": t}`, `{"step": ±1}`,
`{"play": steps_per_second}` or `{"pause": true}`; frames come back as
`{"t", "seq", "steps", "playing", "signals": {name: [numbers]}}` (or, with
`?format=binary` on the WebSocket URL, binary messages: a little-endian uint32 n, an n-byte
JSON head `{"t", "seq", "steps", "playing", "dtype", "signals": [[name, length], ...]}`,
then the values as little-endian float32/float64, starting at a multiple of 8). Errors are
`{"detail": "<field>: <problem>", "field": "<field>"}` with a 4xx status.
"""


class TokenRequired(RuntimeError):
    """Off loopback without a token: the app is not built (Jupyter's rule, whatever the
    launcher: `gatescope serve`, `uvicorn --factory`, a notebook)."""


def require_token_off_loopback(settings: Settings) -> None:
    if settings.on_loopback or settings.token or settings.allow_no_token:
        return
    raise TokenRequired(
        f"gatescope: refusing to serve {settings.host} (reachable from other machines) "
        f"without a token: set GATESCOPE_TOKEN to a secret clients give in the URL "
        f"(`gatescope serve` makes one and prints it), or GATESCOPE_ALLOW_NO_TOKEN=1 to "
        f"serve anyone who can reach the port")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    require_token_off_loopback(settings)
    budgets.use(settings.file_budgets())  # every reader in this process checks these

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        keep_freed_memory_for_reuse()
        store = Store(settings.data_dir)  # DataDirUnusable: the server does not start
        store.clean()
        app.state.store = store
        app.state.sessions = SessionService(settings, store)
        app.state.streams = StreamStats()
        app.state.frame_cache = ByteLRU(settings.frame_cache_bytes, len)
        app.state.training = TrainingJobs(settings, store, app.state.sessions)
        try:
            yield
        finally:
            app.state.training.close()
            app.state.sessions.close()

    app = FastAPI(title="gatescope", version="0.1.0", description=DESCRIPTION,
                  lifespan=lifespan, redoc_url=None)
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(api_router, prefix="/api")
    app.include_router(pages.router)
    pages.mount_static(app)
    # Added later = further out. From the outside in: security headers (on every answer,
    # the refusals below included), the host check, the token, cross-site writes, the
    # creation rate, the body size, the count of JSON numbers.
    app.add_middleware(WatchDeparture)  # innermost: work for a client that left is stopped
    app.add_middleware(ClientOf)  # the client each request's work is queued for
    app.add_middleware(JsonNumberLimit, limit=settings.max_json_numbers)
    app.add_middleware(BodySizeLimit, max_body_bytes=settings.max_body_bytes,
                       max_upload_bytes=settings.max_upload_bytes)
    if settings.rate_limit_loopback or not settings.on_loopback:
        app.add_middleware(CreationRate, per_minute=settings.max_creates_per_minute)
    app.add_middleware(CrossSiteWrites, allowed_origins=settings.allowed_origins)
    if settings.token:
        app.add_middleware(TokenGate, token=settings.token)
    app.add_middleware(HostCheck, allowed=allowed_hosts(settings.host, settings.allowed_hosts))
    app.add_middleware(SecurityHeaders, frame_ancestors=settings.frame_ancestors)
    return app
