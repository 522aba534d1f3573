"""Checks shared by the per-item lists a person writes (interventions, weight edits): an
integer, a finite number, and, in a whole model, which cell an item names by `layer` and
`direction`. Each takes `fail(message, field)`, which returns the exception its caller
raises (a plain ValueError for interventions, a WeightEditError naming the field for
weight edits), so every list keeps its own error type and wording around the shared checks.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np

Fail = Callable[[str, str], Exception]


def plain(message: str, field: str) -> Exception:
    """`fail` for callers that raise a plain ValueError."""
    return ValueError(message)


def integer(value, where: str, field: str, fail: Fail = plain) -> int:
    """`value` as an int (a bool is not one); else `fail("{where} must be an integer ...")`."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise fail(f"{where} must be an integer, got {value!r}", field)
    return int(value)


def finite_number(value, where: str, fail: Fail = plain) -> float:
    """`value` as a finite float (a bool is not a number); `where` names it, e.g.
    "interventions[2].value"."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise fail(f"{where} must be a number, got {value!r}", "value")
    value = float(value)
    if not math.isfinite(value):
        raise fail(f"{where} must be finite, got {value}", "value")
    return value


def model_cell(model, item: Mapping, where: str, fields: tuple, fail: Fail = plain, *,
               whole: str = "item", layer_note: str = "",
               projected: str) -> tuple[int, str, object, dict]:
    """The cell of a whole model (cells.Model) that `item` names: (layer, direction, cell,
    the item's other fields). `layer` defaults to 0 and `direction` to "forward"; `fields`
    are the item's allowed fields; `whole` is the field `fail` gets for a fault of the item
    as a whole (not an object, unknown fields); `layer_note` is added inside the layer error's
    parentheses; `projected` ends the error for a projected LSTM's cell, which has no
    canonical params ("its signals cannot be held yet")."""
    if not isinstance(item, Mapping):
        raise fail(f"{where} must be an object with {', '.join(fields)}", whole)
    unknown = sorted(set(item) - set(fields))
    if unknown:
        raise fail(f"{where} has unknown field(s) {unknown}; fields: {', '.join(fields)}",
                   whole)
    layer = item.get("layer", 0)
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) \
            or not 0 <= layer < model.layers:
        raise fail(f"{where}.layer: {layer!r} is not one of 0..{model.layers - 1} (the model "
                   f"has {model.layers} layer{'s' if model.layers != 1 else ''}{layer_note})",
                   "layer")
    layer = int(layer)
    direction = item.get("direction", "forward")
    runs = model.stack[layer].cells
    if direction not in runs:
        raise fail(f"{where}.direction: {direction!r} is not one of {', '.join(runs)} for "
                   f"layer {layer}", "direction")
    cell = runs[direction]
    if not hasattr(cell, "spec"):  # an LSTM with a projection: its own small cell
        raise fail(f"{where}: layer {layer} {direction} is a {type(cell).__name__} (an LSTM "
                   f"with proj_size); {projected}", "layer")
    rest = {k: v for k, v in item.items() if k not in ("layer", "direction")}
    return layer, direction, cell, rest
