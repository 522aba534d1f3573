"""load_model's way to the xlstm library's models: a model folder (config.json beside
model.safetensors, cells.weights_io.model_folder) or a bare state-dict file holding an
xLSTMLMModel, xLSTMBlockStack or mLSTMLayer, read as a cells.Model whose layers are the
library's blocks around their cells (cells.formats.xlstm_models); anything else is left to
the other readers."""

from __future__ import annotations

from pathlib import Path

from ..formats.budgets import check_file
from ..formats.executable_files import refuse_executable
from ..formats.tensor_files import open_tensor_file
from ..weights_io import model_folder


def load_xlstm(path: Path, dtype=None, vocabulary=None):
    """The Model of an xlstm model at `path` (a folder, its config.json or a weights
    file), or None when `path` holds something else. Without a config.json the feed-forward's
    activation is taken to be the library's default, GELU."""
    from ..formats.xlstm_models import build_xlstm, is_xlstm_config, is_xlstm_state_dict

    try:
        weights, config = model_folder(path)
    except ValueError:  # not a model folder: the other readers say why
        return None
    if weights.suffix.lower() not in (".safetensors", ".npz") or not weights.is_file():
        return None
    config = config or {}
    inner = config.get("model")  # the xlstm repository's experiment files nest it there
    if isinstance(inner, dict) and is_xlstm_config(inner):
        config = inner
    label = weights.name if weights == path else f"{path.name}/{weights.name}"
    check_file(weights, label)  # the checks every model file passes, in the same order
    refuse_executable(weights, label)
    with open_tensor_file(weights, label) as tensors:
        if not (is_xlstm_config(config) or is_xlstm_state_dict(tensors.names)):
            return None
        arrays = {name: tensors.get(name) for name in tensors.names}
    if "token_embedding.weight" in arrays:  # text through the model's own vocabulary: the
        from .build import vocabulary_of  # one given, or a tokenizer.json / vocab file beside

        vocabulary = vocabulary_of(label, vocabulary, path)[0]
    return build_xlstm(config, arrays, label, dtype, vocabulary)


def load_xlstm_cell(path: Path, layer: int = 0, dtype=None):
    """The recurrent cell of block `layer` of an xlstm model at `path` (of its only layer
    for a bare mLSTMLayer), or None when `path` holds no xlstm model. The cell reads what
    the block hands it (an mLSTM cell [SiLU(conv(x_m)), x_m], an sLSTM cell
    [SiLU(conv(x̂)), x̂]); the rest of the block is left out, and a notice says so."""
    import warnings

    from ..formats.after_lstm import ReferenceModuleNotice

    model = load_xlstm(path, dtype=dtype)
    if model is None:
        return None
    if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer < model.layers:
        kinds = ", ".join(stacked.block.kind for stacked in model.stack)
        raise ValueError(f"{path.name}: layer {layer!r} is not one of 0..{model.layers - 1} "
                         f"(its blocks: {kinds})")
    block, cell = model.stack[layer].block, model.cell(layer)
    around = [p for p in block.parts if p != "cell_input"]
    warnings.warn(f"{path.name}: block {layer} ({block.kind}) read as its cell alone, which "
                  f"reads the block's {cell.input_size}-wide cell_input; the parts around "
                  f"it ({', '.join(around)}) are left out: cells.load_model reads the whole "
                  "model", ReferenceModuleNotice, stacklevel=3)
    return cell
