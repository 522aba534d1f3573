"""gatescope's cell engine: recurrent cells in NumPy that record every gate of every step.

    import cells
    cell = cells.create("lstm", input_size=3, hidden_size=5, seed=0)
    trace = cell.run(xs)          # xs (T, I)
    trace["f"]                    # (T, H) forget gate
    g = trace.backward({"h": dh})  # g.params, g.xs, g.h0, g.c0
    trace.sensitivity(t, unit)    # how much h_t[unit] depends on each earlier step
"""

from __future__ import annotations

from os import PathLike

from . import presets, text
from .cell import Cell, create
from .gradients import Gradients
from .interventions import Intervention, check_interventions
from .kinds import KINDS, describe, kind_info
from .signals import STAGES, Signal
from .trace import Trace
from .weight_edits import WeightEdit, check_weight_edits, param_layout

__all__ = ["KINDS", "STAGES", "Cell", "Gradients", "Intervention", "Signal", "Trace",
           "WeightEdit", "check_interventions", "check_weight_edits", "create", "describe",
           "kind_info", "load", "param_layout", "presets", "save", "text"]


def load(path: str | PathLike, kind: str | None = None, layer: int = 0, dtype=None,
         **options) -> Cell:
    """A cell from a weights file: .safetensors, .npz, .onnx or Keras .weights.h5.

    `kind` may name a compatible kind (e.g. one of the prototype LSTMs for LSTM-shaped weights);
    options given here win over those the file implies.
    """
    from .weights_io import read_weights, warn_if_partial  # format libraries load when needed

    if kind is None and not options:  # an xlstm model: the cell inside one of its blocks
        from pathlib import Path

        from .models.xlstm_files import load_xlstm_cell

        inside = load_xlstm_cell(Path(path), layer, dtype)
        if inside is not None:
            return inside
    loaded = read_weights(path, kind=kind, layer=layer)
    warn_if_partial(path, loaded, layer)
    merged = {**loaded.options, **options}
    dt = dtype or next(iter(loaded.params.values())).dtype.name
    return create(loaded.kind, params=loaded.params, dtype=dt, **merged)


def save(cell: Cell, path: str | PathLike) -> None:
    """Write the cell's canonical parameters to .safetensors or .npz (exact round trip)."""
    from .weights_io import write_weights

    write_weights(path, cell.kind, cell.params, cell.options)


# Whole models (an encoder, layers × directions of cells, a head) build on everything above.
from .models import (  # noqa: E402
    Model,
    ModelTrace,
    convert_model,
    from_torch,
    load_model,
    save_model,
)
from .weights_io import DequantizedWarning, LeftOutWarning  # noqa: E402

__all__ += ["DequantizedWarning", "LeftOutWarning", "Model", "ModelTrace", "convert_model",
            "from_torch", "load_model", "save_model"]

# Training (NumPy only) builds on the models.
from .training import TrainResult, char_model, train  # noqa: E402

__all__ += ["TrainResult", "char_model", "train"]
