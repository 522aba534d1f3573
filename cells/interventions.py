"""Interventions ("what if"): hold a gate, candidate or state at a value for chosen units and
steps. Written Memories (r2rt, 2016) reads f = 1, i = 0 as "write it down": c is kept.

An intervention {"signal", "start", "stop", "units", "value"} replaces, for steps
start ≤ s < stop, the named signal at `units` (None = all) by `value` right after the step
computes it, before anything downstream reads it. The trace records the held value;
backward treats it as a constant. In a whole model an item also names its cell's `layer`
and `direction`; the layers above read the held run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .item_checks import finite_number, integer, model_cell
from .kinds import check_options, holdable, spec_for

FIELDS = ("signal", "start", "stop", "units", "value")
MODEL_FIELDS = FIELDS + ("layer", "direction")  # in a whole model: which cell holds it


@dataclass(frozen=True)
class Intervention:
    signal: str
    start: int  # first step held
    stop: int  # first step no longer held
    units: tuple[int, ...] | None  # None: every unit
    value: float

    def to_dict(self) -> dict:
        return {"signal": self.signal, "start": self.start, "stop": self.stop,
                "units": None if self.units is None else list(self.units), "value": self.value}


FIRST = (0, "forward")  # the part a single cell is


def check_interventions(kind: str, interventions, steps: int, hidden_size: int,
                        **options) -> tuple[Intervention, ...]:
    """Interventions checked against a kind (with `options`), a sequence of `steps` steps
    and `hidden_size` units. Raises ValueError naming the item and field at fault."""
    spec = spec_for(kind)
    signals = {s.name: s for s in holdable(spec, check_options(spec, options))}

    def part_of(item: Mapping, where: str):
        return FIRST, kind, signals, hidden_size, item

    return _check_list(interventions, steps, FIELDS, part_of).get(FIRST, ())


def held_by_part(model, interventions, steps: int) -> dict[tuple, tuple]:
    """Interventions in a whole model (cells.Model): each item also names the `layer`
    (default 0) and `direction` (default "forward") of the cell it holds; `start`/`stop` are
    steps of that cell, which for a backward cell read the sequence from the end (step k is
    time T−1−k, as in ModelTrace.layer). Returns {(layer, direction): (Intervention, ...)};
    raises ValueError naming the item and field at fault."""

    def part_of(item: Mapping, where: str):
        layer, direction, cell, rest = model_cell(
            model, item, where, MODEL_FIELDS, projected="its signals cannot be held yet")
        signals = {s.name: s for s in holdable(cell.spec, dict(cell.options))}
        return (layer, direction), cell.kind, signals, cell.hidden_size, rest

    return _check_list(interventions, steps, MODEL_FIELDS, part_of)


def _check_list(interventions, steps: int, fields: tuple, part_of) -> dict[tuple, tuple]:
    """The one checker of a list of interventions: `part_of(item, where)` says which part
    an item holds ((layer, direction), kind, holdable signals, hidden size, its other
    fields) or raises."""
    if interventions is None:
        return {}
    if isinstance(interventions, (str, bytes, Mapping)) or not isinstance(interventions,
                                                                        Sequence):
        raise ValueError(f"interventions must be a list of {{{', '.join(fields)}}}")
    out: dict[tuple, list] = {}
    for n, item in enumerate(interventions):
        where = f"interventions[{n}]"
        if isinstance(item, Intervention):
            item = item.to_dict()
        if not isinstance(item, Mapping):
            raise ValueError(f"{where} must be an object with {', '.join(fields)}")
        key, kind, signals, hidden_size, rest = part_of(item, where)
        out.setdefault(key, []).append(
            _check_item(rest, where, FIELDS, kind, signals, steps, hidden_size))
    return {key: tuple(items) for key, items in out.items()}


def _check_item(item: Mapping, where: str, fields: tuple, kind: str, signals: dict,
                steps: int, hidden_size: int) -> Intervention:
    unknown = sorted(set(item) - set(fields))
    if unknown:
        raise ValueError(f"{where} has unknown field(s) {unknown}; "
                         f"fields: {', '.join(fields)}")
    missing = [k for k in ("signal", "start", "stop", "value") if k not in item]
    if missing:
        raise ValueError(f"{where} is missing {', '.join(missing)}")
    name = item["signal"]
    if name not in signals:
        raise ValueError(f"{where}.signal: {name!r} cannot be held in a {kind}; "
                         f"it can hold {', '.join(signals)}")
    start = integer(item["start"], f"{where}.start", "start")
    stop = integer(item["stop"], f"{where}.stop", "stop")
    if not 0 <= start < stop <= steps:
        raise ValueError(f"{where}: steps [{start}, {stop}) are not a non-empty range "
                         f"inside the sequence of {steps} steps")
    units = item.get("units")
    if units is not None:
        if isinstance(units, (str, bytes)) or not isinstance(units, Sequence) or not units:
            raise ValueError(f"{where}.units must be a non-empty list of unit indices "
                             "or null for all units")
        units = tuple(integer(u, f"{where}.units", "units") for u in units)
        bad = [u for u in units if not 0 <= u < hidden_size]
        if bad:
            raise ValueError(f"{where}.units: {bad} outside 0 … {hidden_size - 1}")
    value = finite_number(item["value"], f"{where}.value")
    low_high = signals[name].range
    if low_high is not None and not low_high[0] <= value <= low_high[1]:
        raise ValueError(f"{where}.value {value} is outside the range of {name}, "
                         f"[{low_high[0]}, {low_high[1]}]")
    return Intervention(name, start, stop, units, value)


def holds_for(interventions: Sequence[Intervention], start: int, stop: int) -> list | None:
    """Per step of [start, stop): None, or {signal: [(units index, value), ...]} in the order
    the interventions were given (a later one wins where two hold the same unit)."""
    rows = None
    for iv in interventions:
        a, b = max(iv.start, start), min(iv.stop, stop)
        if a >= b:
            continue
        if rows is None:
            rows = [None] * (stop - start)
        units = slice(None) if iv.units is None else np.array(iv.units, dtype=np.intp)
        for s in range(a - start, b - start):
            rows[s] = rows[s] or {}
            rows[s].setdefault(iv.signal, []).append((units, iv.value))
    return rows
