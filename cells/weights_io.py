"""Weight import and export for the cell engine.

`read_weights` maps .safetensors / .npz (PyTorch, gatescope or Keras names), .onnx and Keras
.h5 files onto the canonical PyTorch layout (DESIGN.md); `write_weights` writes .safetensors
or .npz that read back bit for bit. Files are parsed, never unpickled. Every refusal is a
ValueError naming the file, the tensor and the shapes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import numpy as np

from .formats.common import (
    DEFAULT_OPTIONS,
    GATE_BLOCKS,
    PEEPHOLES,
    WEIGHTS,
    LoadedWeights,
    a_kind,
    check_canonical,
    check_options,
    float_tensor,
    one_dtype,
)
from .formats.named import read_named
from .formats.tensor_files import encode_options, open_tensor_file, write_tensor_file

__all__ = ["LoadedWeights", "READ_SUFFIXES", "WRITE_SUFFIXES", "read_weights", "write_weights"]

READ_SUFFIXES = (".safetensors", ".npz", ".onnx", ".h5", ".hdf5")  # .h5 covers Keras .weights.h5
WRITE_SUFFIXES = (".safetensors", ".npz")
_PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin", ".joblib")
_HINTS = {
    ".keras": " (a .keras file is a zip archive: save the weights with "
    "model.save_weights('model.weights.h5') or extract its model.weights.h5)",
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
    expected = WEIGHTS + (PEEPHOLES if kind == "peephole_lstm" else ())
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


def _read(path: Path, label: str, layer: int) -> LoadedWeights:
    suffix = path.suffix.lower()
    if suffix in (".safetensors", ".npz"):
        with open_tensor_file(path, label) as tensors:
            return read_named(tensors, layer)
    # onnx and h5py take a while to import, so only a file that needs them loads them.
    if suffix == ".onnx":
        from cells.formats.onnx_format import read_onnx

        return read_onnx(path, label, layer)
    if suffix in (".h5", ".hdf5"):
        from cells.formats.keras_h5 import read_keras_h5

        return read_keras_h5(path, label, layer)
    if suffix in _PICKLE_SUFFIXES:
        raise ValueError(
            f"{label}: PyTorch pickles are not loaded (they can run code). Export the state "
            "dict with safetensors: `from safetensors.torch import save_file; "
            "save_file(model.state_dict(), 'model.safetensors')`"
        )
    raise ValueError(
        f"{label}: unsupported file type {suffix or '(no extension)'}{_HINTS.get(suffix, '')}; "
        f"supported: .safetensors, .npz, .onnx, Keras .weights.h5"
    )


def _as_kind(label: str, loaded: LoadedWeights, kind: str | None) -> LoadedWeights:
    """The file's cell as the caller's kind: the same gate blocks, and peepholes only where
    they exist (an LSTM is a peephole LSTM with zero peepholes, and the reverse)."""
    kind = kind or loaded.kind
    params = dict(loaded.params)
    hidden = params["weight_hh"].shape[1]
    if GATE_BLOCKS[kind] != GATE_BLOCKS[loaded.kind]:
        raise ValueError(
            f"{label}: holds {a_kind(loaded.kind)} ({GATE_BLOCKS[loaded.kind]} gate blocks of "
            f"hidden_size {hidden}, weight_hh {params['weight_hh'].shape}) but kind={kind!r} "
            f"needs {GATE_BLOCKS[kind]} gate blocks"
        )
    if kind == "peephole_lstm":
        for key in PEEPHOLES:
            params.setdefault(key, np.zeros(hidden, params["weight_hh"].dtype))
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
