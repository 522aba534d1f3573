"""Sessions: create, read, read the trace (JSON or CSV), append."""

from __future__ import annotations

from typing import Annotated, Literal

import anyio
from fastapi import APIRouter, Body, Query, Response
from pydantic import BaseModel

from app.api.deps import SessionConfigDep, SessionsDep
from app.schemas import (
    ErrorPublic,
    HiddenAttentionPublic,
    SensitivityPublic,
    SessionAppend,
    SessionCreate,
    SessionPublic,
    StateOf,
    TraceWindow,
    WeightPublic,
)
from app.stream import wire

router = APIRouter(prefix="/sessions", tags=["sessions"])

ERRORS = {404: {"model": ErrorPublic, "description": "no such session"},
          413: {"model": ErrorPublic, "description": "request body over the limit"},
          422: {"model": ErrorPublic, "description": "a field is wrong; `field` names it"}}


def rendered(model: type[BaseModel], body: dict, status_code: int = 200) -> Response:
    """`body` checked against `model` and written as JSON on the thread that made it.
    Returned as a dict, FastAPI would do both on the event loop, where a big record (a
    long text and its grapheme clusters, a sensitivity over a long window) holds up every
    other client's request."""
    return Response(model.model_validate(body).model_dump_json(), status_code=status_code,
                    media_type="application/json")


def _session_record(sessions, config) -> Response:
    return Response(sessions.record(config), media_type="application/json")


@router.post("", status_code=201, response_model=SessionPublic, responses=ERRORS)
def create_session(body: SessionCreate, sessions: SessionsDep) -> Response:
    """Create a session: a cell with weights (preset, seed or uploaded) and a sequence
    (`{"text"}`, `{"values"}` or `{"csv"}`). The trace is computed before the answer."""
    return Response(sessions.record(sessions.create(body)), status_code=201,
                    media_type="application/json")


@router.get("/{session_id}", response_model=SessionPublic, responses=ERRORS)
async def read_session(config: SessionConfigDep, sessions: SessionsDep) -> Response:
    """The session as created: cell, options used, sizes, the weights (seed, preset or the
    upload's record) and the sequence as given, so a page can show the form of it."""
    # made and written on a thread: it grows with the session (a text's clusters, the
    # parallel check of minGRU and minLSTM, a numbers file to read)
    return await anyio.to_thread.run_sync(_session_record, sessions, config)


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
    format: Annotated[Literal["json", "csv", "npz"], Query()] = "json",
    layer: Annotated[int, Query(ge=0, description="which recurrent layer (0 reads the input)")]
    = 0,
    direction: Annotated[str, Query(description="forward, or backward (its step k reads "
                                                "time T-1-k)")] = "forward",
    tokens: Annotated[bool | None, Query(description="CSV of a text session: a `token` "
                                         "column after t (default: when no names are "
                                         "given, as the page's export asks)")] = None,
) -> Response:
    """Signals for steps [start, stop): JSON `{"start", "stop", "signals": {name: [[...]]}}`,
    CSV with a `t` column and one `name[unit]` column per number, or NPZ (NumPy's archive,
    no pickles): one array per signal, (stop - start, n) in the session's dtype, and `t`.
    A model's `layer` and `direction` pick the cell; `names=logits,probs` add the head's
    outputs (rows by time), and in a residual language model `block.norm`, `block.cell_out`,
    ... the rows of the block around that layer's cell (its `blocks[layer].names`)."""
    wanted = [n.strip() for n in names.split(",") if n.strip()] if names else None
    start, stop, wanted, window = sessions.window(config, start, stop, wanted, layer,
                                                  direction)
    if format in ("csv", "npz"):
        with_tokens = tokens if tokens is not None else names is None
        told = sessions.tokens(config, start, stop, direction) if with_tokens else None
        body = (wire.window_csv(start, window, wanted, told) if format == "csv"
                else wire.window_npz(start, window, wanted))
        return Response(body, media_type="text/csv" if format == "csv"
                        else "application/octet-stream",
                        headers={"Content-Disposition":
                                 f'attachment; filename="gatescope-{config.id}.{format}"'})
    return Response(wire.window_json(start, stop, window, wanted), media_type="application/json")


@router.post("/{session_id}/append", response_model=SessionPublic, responses=ERRORS)
def append_to_session(session_id: str, body: Annotated[SessionAppend, Body()],
                      sessions: SessionsDep) -> Response:
    """Add steps at the end (`{"text": "a"}`, `{"values": [[...]]}` or `{"csv": "..."}`);
    the trace is extended, not recomputed."""
    return rendered(SessionPublic, sessions.public(sessions.append(session_id, body)))


@router.get("/{session_id}/sensitivity", response_model=SensitivityPublic, responses=ERRORS)
def read_sensitivity(
    config: SessionConfigDep,
    sessions: SessionsDep,
    t: Annotated[int, Query(description="the step whose state is differentiated")],
    unit: Annotated[int, Query(description="the unit of that state")] = 0,
    of: Annotated[StateOf, Query(description="h, or c where the kind has it")] = "h",
    window: Annotated[int | None, Query(description="steps covered, ending at t "
                                                    "(default and limit: the server's)")] = None,
    layer: Annotated[int, Query(ge=0, description="a model's layer")] = 0,
    direction: Annotated[str, Query(description="a model's direction")] = "forward",
) -> Response:
    """How much each earlier step still matters to `of`_t[unit]: the norms
    ‖∂ of_t[unit] / ∂ x_s‖₂, ‖∂ of_t[unit] / ∂ h_s‖₂ and ‖∂ of_t[unit] / ∂ c_s‖₂ for s from
    `start` = max(0, t − window + 1) to t (Written Memories, r2rt 2016: vanishing
    sensitivity). Computed on the compute pool."""
    return rendered(SensitivityPublic,
                    sessions.sensitivity(config, t, unit, of, window, layer, direction))


@router.get("/{session_id}/hidden-attention", response_model=HiddenAttentionPublic,
            responses=ERRORS)
def read_hidden_attention(
    config: SessionConfigDep,
    sessions: SessionsDep,
    t: Annotated[int, Query(description="the last step: rows t′ from start to t")],
    channel: Annotated[int, Query(description="the channel of the Mamba cell (0 … E − 1)")]
    = 0,
    window: Annotated[int | None, Query(description="steps covered, ending at t (default "
                                                    "and limit: the server's)")] = None,
    layer: Annotated[int, Query(ge=0, description="a model's layer")] = 0,
    direction: Annotated[str, Query(description="a model's direction")] = "forward",
) -> dict:
    """A Mamba cell's hidden attention: the exact linear weight of each x_conv_s[channel]
    in y_t′[channel] for s ≤ t′ in [max(0, t − window + 1), t], under the run's Δ, B and C
    (Ali, Zimerman and Wolf 2024). Computed on the compute pool."""
    return sessions.hidden_attention(config, channel, t, window, layer, direction)


@router.get("/{session_id}/weight", response_model=WeightPublic, responses=ERRORS)
def read_weight(
    config: SessionConfigDep,
    sessions: SessionsDep,
    param: Annotated[str, Query(description="a parameter of the cell (the session's "
                                            "`params`), e.g. weight_hh")],
    row: Annotated[int, Query(description="the row (gate block × hidden_size + unit)")],
    col: Annotated[int | None, Query(description="the column; none for a 1-D parameter")]
    = None,
    layer: Annotated[int, Query(ge=0, description="a model's layer")] = 0,
    direction: Annotated[str, Query(description="a model's direction")] = "forward",
) -> dict:
    """One weight of the session's cell: `value` as the session runs it (after its
    `weight_edits`) and `original`, before them; in a model, of the cell at `layer` and
    `direction` (that cell's `params` say its parameters)."""
    return sessions.weight(config, param, row, col, layer, direction)


@router.get("/{session_id}/difference", response_model=TraceWindow, responses=ERRORS)
def read_difference(
    config: SessionConfigDep,
    sessions: SessionsDep,
    other: Annotated[str, Query(alias="from", description="the session subtracted (the "
                                                          "original run of a what-if)")],
    start: Annotated[int | None, Query(ge=0)] = None,
    stop: Annotated[int | None, Query(ge=0)] = None,
    names: Annotated[str | None, Query(description="comma-separated signal names")] = "h",
    layer: Annotated[int, Query(ge=0, description="a model's layer")] = 0,
    direction: Annotated[str, Query(description="a model's direction")] = "forward",
) -> Response:
    """This session's signals minus those of session `from` for steps [start, stop), in
    float64 (e.g. h_new − h_orig of a what-if): `{"start", "stop", "signals"}` as the
    trace; in a model, of the cell at `layer` and `direction`."""
    wanted = [n.strip() for n in names.split(",") if n.strip()] if names else None
    start, stop, diff = sessions.difference(config, sessions.get(other), start, stop, wanted,
                                            layer, direction)
    return Response(wire.window_json(start, stop, diff, list(diff)),
                    media_type="application/json")
