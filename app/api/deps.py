"""Dependencies as `Annotated` aliases: what a route needs, taken from `app.state`.

The shared things are put on `app.state` by the lifespan in app/core/factory.py; routes never
reach for module globals. The dependencies are `async`: FastAPI runs plain functions on its
thread pool, and a thread hop per dependency costs more than reading an attribute.
"""

from __future__ import annotations

import inspect
from typing import Annotated, Literal

import anyio
from fastapi import Depends, Form, Path, Query
from pydantic import AfterValidator, WithJsonSchema
from pydantic_core import PydanticCustomError
from starlette.requests import HTTPConnection

from app.core.settings import Settings
from app.sessions.cache import ByteLRU
from app.sessions.config import SessionConfig
from app.sessions.datadir import Store
from app.sessions.kinds import every_option
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


def _option_type(values: list):
    """The parameter type of an option: bool for a switch, else exactly its values (whole
    numbers read from the text of a query or form first: Literal[1, 2] alone takes no "2")."""
    if all(isinstance(v, bool) for v in values):
        return bool | None
    if all(isinstance(v, int) for v in values):
        def one_of(value: int) -> int:
            if value not in values:
                raise PydanticCustomError(
                    "literal_error", "must be one of {expected}",
                    {"expected": f"{', '.join(map(str, values[:-1]))} or {values[-1]}"})
            return value

        return Annotated[int, AfterValidator(one_of),
                         WithJsonSchema({"type": "integer", "enum": list(values)})] | None
    if any(isinstance(v, int) for v in values):  # words and whole numbers ("auto" or 48)
        def word_or_number(value: str) -> str | int:
            chosen = int(value) if value.isdigit() else value
            if chosen not in values:
                raise PydanticCustomError(
                    "literal_error", "must be one of {expected}",
                    {"expected": f"{', '.join(map(str, values[:-1]))} or {values[-1]}"})
            return chosen

        return Annotated[str, AfterValidator(word_or_number),
                         WithJsonSchema({"enum": list(values)})] | None
    return Literal[tuple(values)] | None


def kind_options(source) -> object:
    """A dependency that reads every kind option (cells.kind_info, over all kinds) from the
    query string (`source` = Query) or a form (Form), as one optional parameter each:
    {name: value} of those given. A new kind's option becomes a parameter by itself."""
    async def read(**given) -> dict:
        return {name: value for name, value in given.items() if value is not None}

    read.__signature__ = inspect.Signature([
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[
            _option_type(option["values"]),
            source(description=f"option of {', '.join(option['kinds'])} cells")])
        for name, option in every_option().items()], return_annotation=dict)
    return read


QueryKindOptions = Annotated[dict, Depends(kind_options(Query))]
FormKindOptions = Annotated[dict, Depends(kind_options(Form))]
