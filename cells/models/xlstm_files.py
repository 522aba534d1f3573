"""load_model's way to the xlstm library's models: a model folder (config.json beside
model.safetensors, cells.weights_io.model_folder) or a bare state-dict file holding an
xLSTMLMModel, xLSTMBlockStack or mLSTMLayer, read as a BlockModel
(cells.formats.xlstm_models); anything else is left to the other readers."""

from __future__ import annotations

from pathlib import Path

from ..formats.budgets import check_file
from ..formats.executable_files import refuse_executable
from ..formats.tensor_files import open_tensor_file
from ..weights_io import model_folder


def load_xlstm(path: Path, dtype=None, vocabulary=None):
    """The BlockModel of an xlstm model at `path` (a folder, its config.json or a weights
    file), or None when `path` holds something else. Without a config.json the feed-forward's
    activation is taken to be the library's default, GELU."""
    from ..formats.xlstm_models import build_xlstm, is_xlstm_config, is_xlstm_state_dict

    weights, config = model_folder(path)
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
    model = build_xlstm(config, arrays, label, dtype)
    if vocabulary is not None:
        if not isinstance(vocabulary, (str, list, tuple)):
            raise ValueError(f"{label}: give an xlstm model's vocabulary as its tokens (a str "
                             "of characters or a list of strings)")
        tokens = list(vocabulary)
        if model.embedding is None or len(tokens) != len(model.embedding):
            has = "no embedding" if model.embedding is None else f"{len(model.embedding)} rows"
            raise ValueError(f"{label}: the vocabulary has {len(tokens)} tokens; the model's "
                             f"embedding has {has}")
        model.vocabulary = tuple(tokens)
    return model
