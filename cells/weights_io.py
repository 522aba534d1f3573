"""Weight import and export for the cell engine.

`read_weights` maps .safetensors / .npz (PyTorch, gatescope or Keras names), .onnx and Keras
.h5 files onto the canonical PyTorch layout (cells/params.py); `write_weights` writes .safetensors
or .npz that read back bit for bit. Files are parsed, never unpickled. Every refusal is a
ValueError naming the file, the tensor and the shapes.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import numpy as np

from .formats.after_lstm import read_after_lstm, read_after_lstm_model
from .formats.budgets import check_file
from .formats.common import (
    BOTH_DIRECTIONS,
    DEFAULT_OPTIONS,
    FORWARD,
    GATE_BLOCKS,
    PEEPHOLES,
    WEIGHTS,
    LoadedWeights,
    a_kind,
    check_canonical,
    check_options,
    float_tensor,
    one_dtype,
    pick_layer,
)
from .formats.executable_files import refuse_executable
from .formats.model_file import MODEL_KEY, read_model_file
from .formats.model_parts import ModelWeights
from .formats.named import read_named
from .formats.own_params import OWN_PARAMS, checked_arrays, read_own_params
from .formats.residual_lms import read_residual_lm
from .formats.tensor_files import encode_options, open_tensor_file, write_tensor_file
from .kinds import SPECS

__all__ = ["DequantizedWarning", "LeftOutWarning", "LoadedWeights", "PartialLoadWarning",
           "READ_SUFFIXES", "WRITE_SUFFIXES",
           "read_model_weights", "read_weights", "warn_about_load", "warn_if_partial",
           "write_weights"]

NOT_RECURRENT = frozenset(name for name, spec in SPECS.items() if not spec.recurrent)
TENSOR_SUFFIXES = (".safetensors", ".npz")  # named tensors: read by name
HDF5_SUFFIXES = (".h5", ".hdf5")  # Keras (.h5 covers .weights.h5)
READ_SUFFIXES = (*TENSOR_SUFFIXES, ".onnx", *HDF5_SUFFIXES)
MODEL_SUFFIXES = (*READ_SUFFIXES, ".keras")  # a whole model may also be a .keras archive
WRITE_SUFFIXES = TENSOR_SUFFIXES  # what save writes (an exact round trip)
_PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin", ".joblib")
_HINTS = {
    ".keras": " (a .keras file is a zip archive holding a whole model: load it with "
    "cells.load_model, or save the weights with model.save_weights('model.weights.h5'))",
    ".npy": " (save named tensors with np.savez instead)",
}


def read_weights(path: str | os.PathLike, kind: str | None = None, layer: int = 0) -> LoadedWeights:
    """One cell's weights from a file, as `kind` when given (it must have the file's gate blocks).

    `layer` picks a layer: `_lN` in PyTorch state dicts, otherwise the N-th recurrent layer
    or node in the file. Options the file cannot tell (an RNN's nonlinearity in a state dict)
    come back as the defaults; the caller's own options should win over them.
    """
    path = Path(path)
    label = path.name
    if kind is not None and kind not in GATE_BLOCKS:
        raise ValueError(f"unknown kind {kind!r}; known kinds: {', '.join(GATE_BLOCKS)}")
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or layer < 0:
        raise ValueError(f"layer must be a non-negative integer, got {layer!r}")
    loaded = _read(path, label, int(layer))
    return _as_kind(label, loaded, kind)


class PartialLoadWarning(UserWarning):
    """cells.load returned one cell of a file that holds more (layers or directions)."""


class LeftOutWarning(UserWarning):
    """A load left tensors of the file out of the model; the message lists each by name."""


class DequantizedWarning(UserWarning):
    """A quantized model was read as the float model it quantizes: its numbers are the float
    model's, not those of the integer runtime."""


def warn_about_load(weights: ModelWeights, stacklevel: int = 3) -> None:
    """Say what a whole-model load left out or changed (ModelWeights.left_out, .notices)."""
    if weights.left_out:
        warnings.warn(f"{weights.label}: left out {len(weights.left_out)} tensor(s) the model "
                      f"does not use: {', '.join(weights.left_out)}", LeftOutWarning,
                      stacklevel=stacklevel)
    for notice in weights.notices:
        warnings.warn(f"{weights.label}: {notice}", DequantizedWarning, stacklevel=stacklevel)


def warn_if_partial(path: str | os.PathLike, loaded: LoadedWeights, layer: int) -> None:
    """Say so when a file holds more than the one cell cells.load returns."""
    if loaded.layers > 1 or len(loaded.directions) > 1:
        warnings.warn(
            f"{Path(path).name} holds {loaded.layers} layer(s) running "
            f"{' and '.join(loaded.directions)}; cells.load returns layer {layer}, forward. "
            "cells.load_model reads the whole model",
            PartialLoadWarning,
            stacklevel=3,
        )


def write_weights(
    path: str | os.PathLike, kind: str, params: Mapping[str, np.ndarray], options: Mapping
) -> None:
    """Write canonical params with their kind and options (.safetensors metadata or .npz
    members `__kind__`, `__options__`), so `read_weights` gives them back exactly."""
    path = Path(path)
    label = path.name
    if path.suffix.lower() not in WRITE_SUFFIXES:
        raise ValueError(f"{label}: can only write {' or '.join(WRITE_SUFFIXES)} files")
    if kind not in GATE_BLOCKS:
        raise ValueError(f"{label}: unknown kind {kind!r}; known kinds: {', '.join(GATE_BLOCKS)}")
    if kind in OWN_PARAMS:  # not gate blocks: its own names (Mamba)
        write_tensor_file(path, checked_arrays(label, kind, params), kind,
                          encode_options(label, options))
        return
    expected = WEIGHTS + (PEEPHOLES if kind == "peephole_lstm" else ())
    if kind in NOT_RECURRENT:  # gates of x_t only: no weight_hh, bias_hh
        expected = ("weight_ih", "bias_ih")
    absent = [key for key in expected if key not in params]
    extra = sorted(set(params) - set(expected))
    if absent or extra:
        raise ValueError(
            f"{label}: {a_kind(kind)} has params {', '.join(expected)}; "
            f"missing: {', '.join(absent) or 'none'}; unexpected: {', '.join(extra) or 'none'}"
        )
    arrays = one_dtype({key: float_tensor(label, key, params[key]) for key in expected})
    check_canonical(label, kind, arrays)
    write_tensor_file(path, arrays, kind, encode_options(label, options))


MODEL_FOLDER_FILES = ("model.safetensors", "model.npz")
CONFIG_FILE = "config.json"


def model_folder(path: Path) -> tuple[Path, dict | None]:
    """(the weights file, its config.json as data or None) for a model given as a folder
    (config.json beside model.safetensors, as the hubs publish models), as its config.json,
    or as the weights file itself (no config then)."""
    from .formats.budgets import current, load_json

    if path.is_dir():
        folder = path
        found = [folder / name for name in MODEL_FOLDER_FILES if (folder / name).is_file()]
        if not found:
            pickled = sorted(p.name for p in folder.glob("*.bin")) + sorted(
                p.name for p in folder.glob("*.pt*"))
            hint = (f"; {', '.join(pickled)} is a pickle, which gatescope never loads: save the "
                    "state dict with safetensors" if pickled else "")
            raise ValueError(f"{folder.name}: a model folder holds "
                             f"{' or '.join(MODEL_FOLDER_FILES)}; this one does not{hint}")
        weights = found[0]
    elif path.name.lower() == CONFIG_FILE:
        folder = path.parent
        weights = next((folder / n for n in MODEL_FOLDER_FILES if (folder / n).is_file()), None)
        if weights is None:
            raise ValueError(f"{path.name}: no {' or '.join(MODEL_FOLDER_FILES)} beside it")
    else:
        return path, None
    config_path = folder / CONFIG_FILE
    if not config_path.is_file():
        return weights, None
    with open(config_path, "rb") as file:  # no more than the budget (and one byte) is read
        raw = file.read(current().max_json_bytes + 1)
    config = load_json(CONFIG_FILE, "the model's config", raw)
    if not isinstance(config, dict):
        raise ValueError(f"{CONFIG_FILE}: expected a JSON object of the model's settings")
    return weights, config


def read_model_weights(path: str | os.PathLike, branch=None,
                       **names) -> ModelWeights:
    """Every layer, direction, embedding and head a file holds (see cells.load_model).
    `names` name a checkpoint's parts: embedding=, recurrent=, head= (modules), or its
    tensors one by one (weight_ih=, weight_hh=, ...). `branch` ("then" or "else", or
    {If node name: branch} where Ifs nest) picks the branch of an ONNX If chosen by the
    model's inputs."""
    path, config = model_folder(Path(path))
    label = path.name
    check_file(path, label)  # whole-file budgets, before any data is read
    suffix = path.suffix.lower()
    refuse_executable(path, label)
    if branch is not None and suffix != ".onnx":
        raise ValueError(f"{label}: branch={branch!r} only applies to an ONNX model whose If "
                         "node chooses its branch by the model's inputs")
    if suffix in TENSOR_SUFFIXES:
        from .formats.whole_named import read_named_model

        with open_tensor_file(path, label) as tensors:
            if not names and MODEL_KEY not in tensors.metadata:  # by their own tensor names
                found = read_residual_lm(tensors, config)  # minLM, Mamba, xLSTM
                if found is None:
                    found = read_after_lstm_model(tensors)  # minGRU, ..., sLSTM alone
                if found is not None:
                    return found
            return read_named_model(tensors, names)
    if names:
        raise ValueError(f"{label}: part names {sorted(names)} only apply to checkpoints of "
                         "named tensors (.safetensors, .npz)")
    if suffix == ".onnx":
        from .formats.whole_onnx import read_onnx_model

        return read_onnx_model(path, label, branch)
    if suffix == ".keras":
        from .formats.whole_keras import read_keras_archive

        return read_keras_archive(path, label)
    if suffix in HDF5_SUFFIXES:
        from .formats.whole_keras import read_keras_weights_file

        return read_keras_weights_file(path, label)
    _refuse(path, label, "supported: .safetensors, .npz, .onnx, Keras .keras and .weights.h5")


def _read(path: Path, label: str, layer: int) -> LoadedWeights:
    check_file(path, label)  # whole-file budgets, before any data is read
    suffix = path.suffix.lower()
    refuse_executable(path, label)
    if suffix in TENSOR_SUFFIXES:
        with open_tensor_file(path, label) as tensors:
            if MODEL_KEY in tensors.metadata:  # a whole model saved by cells.save_model
                return _model_layer(read_model_file(tensors), layer)
            own = read_own_params(tensors)  # a kind with its own parameter names (Mamba)
            if own is not None:
                pick_layer(label, layer, ["the single cell"], "cells")
                return own
            after = read_after_lstm(tensors, layer)  # minGRU, minLSTM, sLSTM modules
            return after if after is not None else read_named(tensors, layer)
    # onnx and h5py take a while to import, so only a file that needs them loads them.
    if suffix == ".onnx":
        from cells.formats.onnx_format import read_onnx

        return read_onnx(path, label, layer)
    if suffix in HDF5_SUFFIXES:
        from cells.formats.keras_h5 import read_keras_h5

        return read_keras_h5(path, label, layer)
    _refuse(path, label)


def _refuse(path: Path, label: str, supported: str = "supported: .safetensors, .npz, .onnx, "
            "Keras .weights.h5"):
    suffix = path.suffix.lower()
    if path.is_dir():
        raise ValueError(f"{label}: is a directory, not a model file; {supported}")
    if suffix in _PICKLE_SUFFIXES:
        raise ValueError(
            f"{label}: PyTorch pickles are not loaded (they can run code). Export the state "
            "dict with safetensors: `from safetensors.torch import save_file; "
            "save_file(model.state_dict(), 'model.safetensors')`"
        )
    raise ValueError(
        f"{label}: unsupported file type {suffix or '(no extension)'}{_HINTS.get(suffix, '')}; "
        f"{supported}"
    )


def _model_layer(weights: ModelWeights, layer: int) -> LoadedWeights:
    """Layer `layer`, forward direction, of a whole model, with what else the model holds."""
    label = weights.label
    index = pick_layer(label, layer, [", ".join(w.cells) for w in weights.layers])
    cells = weights.layers[index].cells
    if FORWARD not in cells:
        raise ValueError(f"{label}: layer {index} runs backward only; only forward cells load "
                         "as one cell (cells.load_model reads the whole model)")
    cell = cells[FORWARD]
    if "weight_hr" in cell.params:
        raise ValueError(f"{label}: layer {index} is an LSTM with a projection (proj_size), "
                         "which only cells.load_model runs")
    directions = {d for w in weights.layers for d in w.cells}
    return replace(cell, layers=len(weights.layers),
                   directions=tuple(d for d in BOTH_DIRECTIONS if d in directions))


def _as_kind(label: str, loaded: LoadedWeights, kind: str | None) -> LoadedWeights:
    """The file's cell as the caller's kind: the same gate blocks, and peepholes only where
    they exist (an LSTM is a peephole LSTM with zero peepholes, and the reverse)."""
    kind = kind or loaded.kind
    if OWN_PARAMS & {kind, loaded.kind}:  # no other kind reads its parameters
        if kind != loaded.kind:
            raise ValueError(f"{label}: holds {a_kind(loaded.kind)}, which cannot be read as "
                             f"kind={kind!r}")
        return loaded
    params = dict(loaded.params)
    hidden = params["weight_ih"].shape[0] // GATE_BLOCKS[loaded.kind]
    if GATE_BLOCKS[kind] != GATE_BLOCKS[loaded.kind] or (
            (kind in NOT_RECURRENT) != (loaded.kind in NOT_RECURRENT)):
        raise ValueError(
            f"{label}: holds {a_kind(loaded.kind)} ({GATE_BLOCKS[loaded.kind]} gate blocks of "
            f"hidden_size {hidden}) but kind={kind!r} needs {GATE_BLOCKS[kind]} gate blocks"
            + (" and no recurrent weights" if kind in NOT_RECURRENT else "")
        )
    if kind == "peephole_lstm":
        for key in PEEPHOLES:
            params.setdefault(key, np.zeros(hidden, params["weight_ih"].dtype))
    elif any(np.any(peephole) for peephole in [params.pop(k) for k in PEEPHOLES if k in params]):
        raise ValueError(
            f"{label}: holds nonzero peephole weights, which kind={kind!r} would drop; "
            "load it as kind='peephole_lstm'"
        )
    same = kind == loaded.kind
    options = dict(loaded.options) if same else dict(DEFAULT_OPTIONS.get(kind, {}))
    params = one_dtype(params)
    check_canonical(label, kind, params)
    return replace(
        loaded,
        kind=kind,
        params=params,
        options=check_options(label, kind, options),
        stated=loaded.stated if same else frozenset(),
    )
