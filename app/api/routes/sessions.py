"""Sessions: create, read, read the trace (JSON or CSV), append."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Query, Response

from app.api.deps import SessionConfigDep, SessionsDep
from app.api.schemas import ErrorPublic, SessionAppend, SessionCreate, SessionPublic, TraceWindow
from app.sessions.service import SessionService
from app.stream import wire

router = APIRouter(prefix="/sessions", tags=["sessions"])

ERRORS = {404: {"model": ErrorPublic, "description": "no such session"},
          413: {"model": ErrorPublic, "description": "request body over the limit"},
          422: {"model": ErrorPublic, "description": "a field is wrong; `field` names it"}}


@router.post("", status_code=201, response_model=SessionPublic, responses=ERRORS)
def create_session(body: SessionCreate, sessions: SessionsDep) -> dict:
    """Create a session: a cell with weights (preset, seed or uploaded) and a sequence
    (`{"text"}`, `{"values"}` or `{"csv"}`). The trace is computed before the answer."""
    return sessions.public(sessions.create(body))


@router.get("/{session_id}", response_model=SessionPublic, responses=ERRORS)
def read_session(config: SessionConfigDep) -> dict:
    return SessionService.public(config)


@router.get(
    "/{session_id}/trace",
    responses={**ERRORS, 200: {"model": TraceWindow, "content": {"text/csv": {
        "schema": {"type": "string"},
        "example": "t,f[0],f[1]\n0,0.731058598,0.268941432\n"}}}},
    response_class=Response,
)
def read_trace(
    config: SessionConfigDep,
    sessions: SessionsDep,
    start: Annotated[int | None, Query(ge=0, description="first step (default 0)")] = None,
    stop: Annotated[int | None, Query(ge=0, description="end, exclusive (default: all)")] = None,
    names: Annotated[str | None, Query(description="comma-separated signal names")] = None,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Response:
    """Signals for steps [start, stop): JSON `{"start", "stop", "signals": {name: [[...]]}}`,
    or CSV with a `t` column and one `name[unit]` column per number."""
    wanted = [n.strip() for n in names.split(",") if n.strip()] if names else None
    start, stop, wanted, window = sessions.window(config, start, stop, wanted)
    if format == "csv":
        return Response(wire.window_csv(start, window, wanted), media_type="text/csv",
                        headers={"Content-Disposition":
                                 f'attachment; filename="{config["id"]}-{start}-{stop}.csv"'})
    return Response(wire.window_json(start, stop, window, wanted), media_type="application/json")


@router.post("/{session_id}/append", response_model=SessionPublic, responses=ERRORS)
def append_to_session(session_id: str, body: Annotated[SessionAppend, Body()],
                      sessions: SessionsDep) -> dict:
    """Add steps at the end (`{"text": "a"}`, `{"values": [[...]]}` or `{"csv": "..."}`);
    the trace is extended, not recomputed."""
    return sessions.public(sessions.append(session_id, body))
