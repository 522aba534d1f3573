"""What a session's numbers say beyond its trace window: the sensitivity of a unit, a
Mamba cell's hidden attention, the difference from another session, and one weight, each
checked against the session's part and the server's limits (SessionService delegates here,
so service.py stays the lifecycle of sessions)."""

from __future__ import annotations

from typing import Protocol

import numpy as np

import cells
from app.core.settings import Settings
from app.errors import ApiError
from app.sessions import models as model_sessions
from app.sessions.compute import ComputePool
from app.sessions.config import SessionConfig


class SessionService(Protocol):
    """What a reading asks of app.sessions.service.SessionService (which delegates here)."""

    settings: Settings
    pool: ComputePool

    def part(self, config: SessionConfig, layer: int, direction: str) -> dict: ...

    def trace(self, config: SessionConfig, layer: int = 0, direction: str = "forward"): ...

    def window(self, config: SessionConfig, start, stop, names, layer: int = 0,
               direction: str = "forward") -> tuple: ...

    def _model(self, config: SessionConfig, field: str) -> cells.Model: ...


def sensitivity(service: SessionService, config: SessionConfig, t: int, unit: int, of: str,
                window: int | None, layer: int = 0, direction: str = "forward") -> dict:
    """`Trace.sensitivity` of the session at (t, unit), computed on the pool; the
    window defaults to and is capped by the settings. In a model, of the cell at
    (layer, direction): t is that cell's step and x what it reads."""
    part = service.part(config, layer, direction)
    steps, H = config.steps, part["hidden_size"]
    if not 0 <= t < steps:
        raise ApiError("t", f"must be in [0, {steps - 1}] for a session of {steps} steps")
    if "E" in (part.get("dims") or {}):  # a Mamba: the unit is a channel (of its y)
        H = part["dims"]["E"]
        if not 0 <= unit < H:
            raise ApiError("unit", f"must be in [0, {H - 1}]: a channel of the {H}")
    elif not 0 <= unit < H:
        raise ApiError("unit", f"must be in [0, {H - 1}] for hidden_size {H}")
    P = part.get("proj_size")
    if P and of == "h" and unit >= P:
        raise ApiError("unit", f"must be in [0, {P - 1}] with of=h: h of layer {layer} "
                               f"{direction} has proj_size {P} values (use of=c for the "
                               f"{H} units of c)")
    names = {s.name for s in model_sessions.signals_of(part)}
    if of not in names:
        raise ApiError("of", f"a {part['kind']} has no cell state c; use of=h")
    limit = service.settings.max_sensitivity_window
    window = service.settings.sensitivity_window if window is None else window
    if not 1 <= window <= limit:
        raise ApiError("window", f"must be in [1, {limit}] (the server's limit)")
    trace = service.trace(config, layer, direction)
    result = service.pool.run(trace.sensitivity, t, unit, of, window, heavy=True)
    return {"start": int(result["start"]), "t": t, "unit": unit, "of": of,
            **{v: None if result[v] is None else [float(a) for a in result[v]]
               for v in ("x", "h", "c")}}


def hidden_attention(service: SessionService, config: SessionConfig, channel: int, t: int,
                     window: int | None, layer: int = 0,
                     direction: str = "forward") -> dict:
    """A Mamba cell's hidden attention at (channel, t) (MambaTrace.hidden_attention),
    computed on the pool; the window defaults to and is capped by the settings."""
    part = service.part(config, layer, direction)
    dims = part.get("dims")
    if part["kind"] != "mamba" or not dims:
        raise ApiError("layer", f"layer {layer} {direction} is a {part['kind']}; hidden "
                                "attention is a Mamba cell's")
    steps, channels = config.steps, dims["E"]
    if not 0 <= t < steps:
        raise ApiError("t", f"must be in [0, {steps - 1}] for a session of {steps} steps")
    if not 0 <= channel < channels:
        raise ApiError("channel", f"must be in [0, {channels - 1}] for {channels} channels")
    limit = service.settings.max_hidden_attention_window
    window = service.settings.hidden_attention_window if window is None else window
    if not 1 <= window <= limit:
        raise ApiError("window", f"must be in [1, {limit}] (the server's limit)")
    trace = service.trace(config, layer, direction)
    result = service.pool.run(trace.hidden_attention, channel, t, window, heavy=True)
    return {"start": int(result["start"]), "t": t, "channel": channel, "layer": layer,
            "direction": direction, "weights": result["weights"].tolist(),
            **{k: result[k].tolist() for k in ("from_state", "x", "y")}}


def difference(service: SessionService, config: SessionConfig, other: SessionConfig,
               start: int | None, stop: int | None, names: list[str] | None, layer: int = 0,
               direction: str = "forward") -> tuple[int, int, dict]:
    """This session's signals minus `other`'s over the same steps (a what-if against its
    original run): both must have the same kind, options and sizes (and the same layers
    and directions), and the steps asked for (both windows are checked against their
    own session). The lengths may differ: a held run and its original grow one after
    the other while text is typed live. In a model, of the part at (layer, direction)
    of both (which must have the same sizes there)."""
    for field in ("cell", "options", "input_size", "hidden_size"):
        if getattr(config, field) != getattr(other, field):
            raise ApiError("from", f"session {other.id!r} differs in {field} "
                                   f"({getattr(other, field)!r} against "
                                   f"{getattr(config, field)!r}); a difference needs "
                                   "the same cell")
    for field in ("layers", "directions"):
        if config.model[field] != other.model[field]:
            raise ApiError("from", f"session {other.id!r} differs in {field} "
                                   f"({other.model[field]!r} against "
                                   f"{config.model[field]!r})")
    mine_part, theirs_part = (service.part(c, layer, direction) for c in (config, other))
    if {k: v for k, v in mine_part.items() if k != "direction"} != \
            {k: v for k, v in theirs_part.items() if k != "direction"}:
        raise ApiError("from", f"session {other.id!r} has another cell at layer {layer} "
                               f"{direction}; a difference needs the same cell there")
    start, stop, names, mine = service.window(config, start, stop, names, layer, direction)
    _, _, _, theirs = service.window(other, start, stop, names, layer, direction)
    return start, stop, {n: (mine[n].astype(np.float64) - theirs[n]) for n in names}


def weight(service: SessionService, config: SessionConfig, param: str, row: int, col: int | None,
           layer: int = 0, direction: str = "forward") -> dict:
    """One weight of the session's part at (layer, direction) as it runs, and before
    the session's edits."""
    part = service.part(config, layer, direction)
    if part.get("proj_size"):
        raise ApiError("layer", f"layer {layer} {direction} is an LSTM with proj_size; its "
                                "weights cannot be read or edited one by one yet")
    try:
        param, row, col = cells.weight_edits.check_position(
            part["kind"], param, row, col, part["input_size"], part["hidden_size"],
            **part["options"])
    except cells.weight_edits.WeightEditError as exc:
        message, prefix = str(exc), f"{exc.field}: "
        raise ApiError(exc.field, message.removeprefix(prefix)) from exc
    at = (row,) if col is None else (row, col)
    cell, base = (service._model(c, "weights").cell(layer, direction)
                  for c in (config, config.replace(weight_edits=())))
    return {"param": param, "row": row, "col": col,
            "value": float(cell.params[param][at]),
            "original": float(base.params[param][at])}
