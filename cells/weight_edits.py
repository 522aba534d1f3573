"""Weight edits ("what if this one weight were different"): a cell with some entries of its
canonical parameters set to new values.

An edit {"param", "row", "col", "value"} sets params[param][row, col] (or params[param][row]
for a 1-D parameter such as a bias or a peephole, col None) to `value`. Unlike an
intervention, which holds a signal for some steps, an edit changes the cell itself, so it
applies to every step of a run; the two combine (`cell.with_weights(edits).run(xs,
interventions=...)`).

The rows of weight_ih, weight_hh, bias_ih and bias_hh come in gate blocks of H rows, in the
kind's canonical (PyTorch) order (`Spec.gate_letters`: i, f, g, o for the LSTM family; r, z,
n for the GRU); `param_layout` says so as plain data, so a page picks a block and a unit
instead of a raw row number.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .item_checks import finite_number, integer, model_cell
from .kinds import check_options, spec_for
from .params import PEEPHOLES

FIELDS = ("param", "row", "col", "value")
MODEL_FIELDS = FIELDS + ("layer", "direction")  # in a whole model: which cell's weight


@dataclass(frozen=True)
class WeightEdit:
    param: str
    row: int
    col: int | None  # None for a 1-D parameter
    value: float

    def to_dict(self) -> dict:
        return {"param": self.param, "row": self.row, "col": self.col, "value": self.value}


def param_layout(kind: str, input_size: int, hidden_size: int, **options) -> list[dict]:
    """The canonical parameters of a kind with these sizes, as plain data, in the order of
    `cell.params`' checks: [{"name", "shape", "blocks", "columns"}], where `blocks` lists the
    gate letters of the H-row blocks of the rows (None: one row per unit, a peephole) and
    `columns` says what a column indexes ("input", "hidden", or None for a 1-D parameter)."""
    spec = spec_for(kind)
    options = check_options(spec, options)
    if spec.param_layout is not None:  # a kind whose parameters are its own (Mamba)
        return spec.param_layout(input_size, hidden_size, options)
    G, H, I = spec.gates, hidden_size, input_size
    letters = list(spec.gate_letters)
    out = [{"name": "weight_ih", "shape": [G * H, I], "blocks": letters, "columns": "input"},
           {"name": "weight_hh", "shape": [G * H, H], "blocks": letters, "columns": "hidden"},
           {"name": "bias_ih", "shape": [G * H], "blocks": letters, "columns": None},
           {"name": "bias_hh", "shape": [G * H], "blocks": letters, "columns": None}]
    if not spec.recurrent:  # gates of x_t only: no recurrent weights to edit
        out = [p for p in out if p["name"] in ("weight_ih", "bias_ih")]
    if spec.peepholes:
        out += [{"name": name, "shape": [H], "blocks": None, "columns": None}
                for name in PEEPHOLES]
    return out


class WeightEditError(ValueError):
    """A bad edit or weight position; `field` is the field at fault (param, row, col or
    value), for callers that name it to a person."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


def _place(kind: str, layout: dict, name, row, col, where: str) -> tuple[str, int, int | None]:
    """(param, row, col) checked against `layout` (param_layout by name). Messages start
    with the field at fault, prefixed by `where` ("weight_edits[2]." or "")."""
    if not isinstance(name, str) or name not in layout:
        raise WeightEditError(f"{where}param: a {kind} has no parameter {name!r}; "
                              f"its parameters: {', '.join(layout)}", "param")
    shape = layout[name]["shape"]
    shown = f"{name} has shape ({', '.join(map(str, shape))})"
    row = integer(row, f"{where}row:", "row", WeightEditError)
    if not 0 <= row < shape[0]:
        raise WeightEditError(f"{where}row: {row} is outside 0 … {shape[0] - 1} ({shown})",
                              "row")
    if len(shape) == 1:
        if col is not None:
            raise WeightEditError(f"{where}col: {name} is one-dimensional ({shown}); leave "
                                  "col out or null", "col")
        return name, row, None
    if col is None:
        raise WeightEditError(f"{where}col: is required ({shown})", "col")
    col = integer(col, f"{where}col:", "col", WeightEditError)
    if not 0 <= col < shape[1]:
        raise WeightEditError(f"{where}col: {col} is outside 0 … {shape[1] - 1} ({shown})",
                              "col")
    return name, row, col


def _refuse_non_wire(kind: str, place: tuple, hidden_size: int, options: dict,
                     where: str) -> tuple:
    """An entry of weight_hh that is not a wire (between two heads of an sLSTM) is refused."""
    spec = spec_for(kind)
    name, row, col = place
    if name == "weight_hh" and spec.recurrent_mask is not None:
        if not spec.recurrent_mask(check_options(spec, options), hidden_size)[row, col]:
            raise WeightEditError(f"{where}col: weight_hh[{row}, {col}] connects two different "
                                  f"heads of this {kind}, which have no wire between them",
                                  "col")
    return place


def check_position(kind: str, param, row, col, input_size: int, hidden_size: int,
                   **options) -> tuple[str, int, int | None]:
    """One weight's position (param, row, col) checked for a kind at these sizes; a
    WeightEditError names the field at fault."""
    layout = {p["name"]: p for p in param_layout(kind, input_size, hidden_size, **options)}
    return _refuse_non_wire(kind, _place(kind, layout, param, row, col, ""), hidden_size,
                            options, "")


def check_weight_edits(kind: str, edits, input_size: int, hidden_size: int,
                       dtype="float64", **options) -> tuple[WeightEdit, ...]:
    """Edits checked against a kind's parameters at these sizes, in canonical order (by
    parameter, row, column: edits of different weights commute, so one cell has one list).
    `dtype`: the cell's, which the value must fit in. Raises WeightEditError (a ValueError)
    naming the item and field at fault."""
    if edits is None:
        return ()
    _must_be_a_list(edits, FIELDS)
    layout = {p["name"]: p for p in param_layout(kind, input_size, hidden_size, **options)}
    order = list(layout)
    limit = float(np.finfo(np.dtype(dtype)).max)
    seen: dict[tuple, int] = {}
    out = []
    for n, item in enumerate(edits):
        where = f"weight_edits[{n}]"
        if isinstance(item, WeightEdit):
            item = item.to_dict()
        if not isinstance(item, Mapping):
            raise WeightEditError(f"{where} must be an object with {', '.join(FIELDS)}",
                                  "weight_edits")
        unknown = sorted(set(item) - set(FIELDS))
        if unknown:
            raise WeightEditError(f"{where} has unknown field(s) {unknown}; "
                                  f"fields: {', '.join(FIELDS)}", "weight_edits")
        missing = [k for k in ("param", "row", "value") if k not in item]
        if missing:
            raise WeightEditError(f"{where} is missing {', '.join(missing)}", missing[0])
        name, row, col = _refuse_non_wire(
            kind, _place(kind, layout, item["param"], item["row"], item.get("col"), f"{where}."),
            hidden_size, options, f"{where}.")
        value = finite_number(item["value"], f"{where}.value", WeightEditError)
        if abs(value) > limit:
            raise WeightEditError(f"{where}.value {value} does not fit in the cell's "
                                  f"{np.dtype(dtype).name}", "value")
        at = (name, row, col)
        if at in seen:
            cell_at = f"{name}[{row}]" if col is None else f"{name}[{row}, {col}]"
            raise WeightEditError(f"{where} edits {cell_at} again (weight_edits[{seen[at]}] "
                                  "did); give each weight once", "weight_edits")
        seen[at] = n
        out.append(WeightEdit(name, row, col, value))
    out.sort(key=lambda e: (order.index(e.param), e.row, -1 if e.col is None else e.col))
    return tuple(out)


def _must_be_a_list(edits, fields: tuple) -> None:
    if isinstance(edits, (str, bytes, Mapping)) or not isinstance(edits, Sequence):
        raise WeightEditError(f"weight_edits must be a list of {{{', '.join(fields)}}}",
                              "weight_edits")


def apply_weight_edits(params: Mapping[str, np.ndarray],
                       edits: Sequence[WeightEdit]) -> dict[str, np.ndarray]:
    """New parameter arrays with the (checked) edits made; `params` is not changed, and
    arrays no edit touches are shared (they are read-only)."""
    out = dict(params)
    for name in {e.param for e in edits}:
        a = np.array(params[name], copy=True)
        for e in edits:
            if e.param == name:
                a[(e.row,) if e.col is None else (e.row, e.col)] = e.value
        a.setflags(write=False)
        out[name] = a
    return out


NOT_EDITABLE = ("only the recurrent cells' weights can be edited here (not the head's nor "
                "the embedding's)")


def edits_by_part(model, edits) -> dict[tuple, tuple[WeightEdit, ...]]:
    """Edits of a whole model's weights (cells.Model): each item also names the `layer`
    (default 0) and `direction` (default "forward") of the cell whose weight it sets; the
    rest is checked as a single cell's edit against that cell. Returns {(layer, direction):
    (WeightEdit, ...)} in canonical order per cell; raises WeightEditError naming the item
    and field at fault. The head's and the embedding's weights are not editable."""
    if edits is None:
        return {}
    _must_be_a_list(edits, MODEL_FIELDS)
    per_cell: dict[tuple, list] = {}
    for n, item in enumerate(edits):
        layer, direction, _, rest = model_cell(
            model, item, f"weight_edits[{n}]", MODEL_FIELDS, WeightEditError,
            whole="weight_edits", layer_note=f"; {NOT_EDITABLE}",
            projected="its weights cannot be edited yet")
        per_cell.setdefault((layer, direction), []).append((n, rest))
    out = {}
    for (layer, direction), items in per_cell.items():
        cell = model.stack[layer].cells[direction]
        try:
            checked = check_weight_edits(cell.kind, [rest for _, rest in items],
                                         cell.input_size, cell.hidden_size, cell.dtype,
                                         **dict(cell.options))
        except WeightEditError as exc:  # name the item as the caller numbered it
            message = str(exc)
            for k, (n, _) in reversed(list(enumerate(items))):
                message = message.replace(f"weight_edits[{k}]", f"weight_edits[@{n}]")
            message = message.replace("weight_edits[@", "weight_edits[")
            if exc.field == "param":
                message += f" ({NOT_EDITABLE})"
            raise WeightEditError(message, exc.field) from exc
        out[(layer, direction)] = checked
    return out
