"""Dependencies as `Annotated` aliases: what a route needs, taken from `app.state`.

The shared things are put on `app.state` by the lifespan in app/core/factory.py; routes never
reach for module globals. The dependencies are `async`: FastAPI runs plain functions on its
thread pool, and a thread hop per dependency costs more than reading an attribute.
"""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import Depends, Path
from starlette.requests import HTTPConnection

from app.core.settings import Settings
from app.sessions.cache import ByteLRU
from app.sessions.config import SessionConfig
from app.sessions.datadir import Store
from app.sessions.service import SessionService
from app.stream.socket import StreamStats
from app.training.jobs import TrainingJobs


async def get_settings(connection: HTTPConnection) -> Settings:
    return connection.app.state.settings


async def get_store(connection: HTTPConnection) -> Store:
    return connection.app.state.store


async def get_sessions(connection: HTTPConnection) -> SessionService:
    return connection.app.state.sessions


async def get_stream_stats(connection: HTTPConnection) -> StreamStats:
    return connection.app.state.streams


async def get_frame_cache(connection: HTTPConnection) -> ByteLRU[bytes]:
    return connection.app.state.frame_cache


async def get_training(connection: HTTPConnection) -> TrainingJobs:
    return connection.app.state.training


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[Store, Depends(get_store)]
SessionsDep = Annotated[SessionService, Depends(get_sessions)]
StreamStatsDep = Annotated[StreamStats, Depends(get_stream_stats)]
FrameCacheDep = Annotated[ByteLRU[bytes], Depends(get_frame_cache)]
TrainingDep = Annotated[TrainingJobs, Depends(get_training)]


async def get_session_config(session_id: Annotated[str, Path(description="a session id")],
                             sessions: SessionsDep) -> SessionConfig:
    """The stored config of the session in the path, or 404 (parsed configs come from the
    cache on the event loop; a file read goes to a thread)."""
    return sessions.get_cached(session_id) or await anyio.to_thread.run_sync(sessions.get,
                                                                            session_id)


SessionConfigDep = Annotated[SessionConfig, Depends(get_session_config)]
