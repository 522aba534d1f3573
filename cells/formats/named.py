"""Which cell a flat file of named tensors holds: PyTorch, gatescope or Keras names."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from .common import (
    BIASES,
    BOTH_DIRECTIONS,
    DEFAULT_OPTIONS,
    FORWARD,
    GATE_BLOCKS,
    KIND_OF_BLOCKS,
    MATRICES,
    PEEPHOLES,
    WEIGHTS,
    LoadedWeights,
    check_canonical,
    check_options,
    expect_matrix,
    gate_blocks,
    is_backward_scope,
    listing,
    missing,
    natural_key,
    pick_layer,
)
from .keras import from_keras
from .tensor_files import KIND_KEY, OPTIONS_KEY, TensorFile, decode_options

# A prefix is empty or ends with "." (PyTorch modules) or "/" (Keras and TF scopes).
_PREFIX = r"(?P<prefix>(?:.*[./])?)"
TORCH_NAMES = re.compile(
    _PREFIX + r"(weight_ih|weight_hh|bias_ih|bias_hh|weight_hr)_l\d+(_reverse)?"
)
# An nn.LSTMCell / GRUCell / RNNCell: the same names without a layer suffix.
TORCH_CELL_NAMES = re.compile(_PREFIX + r"(weight_ih|weight_hh|bias_ih|bias_hh)")
_CANONICAL = re.compile(_PREFIX + r"(weight_ih|weight_hh|bias_ih|bias_hh|peephole_[ifo])")
# nn.GRU has no other reset than PyTorch's (reset_after=True); nn.RNN's nonlinearity is not
# in its state dict.
TORCH_STATED = {"lstm": frozenset(), "gru": frozenset({"reset_after"}), "rnn": frozenset()}
_KERAS = re.compile(_PREFIX + r"(kernel|recurrent_kernel|bias)(:0)?")


def read_named(tensors: TensorFile, layer: int) -> LoadedWeights:
    """The cell in a state dict (nn.LSTM/GRU/RNN or *Cell), a gatescope file or Keras weights."""
    label = tensors.label
    torch_modules = prefix_groups(tensors.names, TORCH_NAMES)
    cells = prefix_groups(tensors.names, _CANONICAL)
    keras_layers = _keras_layers(tensors.names)
    modules = [f"{p!r} (PyTorch nn.LSTM/GRU/RNN names)" for p in torch_modules]
    modules += [f"{p!r} (weight_ih, weight_hh, ... names)" for p in cells]
    if len(modules) > 1 or (modules and keras_layers):
        modules += [f"{p!r} (Keras names)" for p in keras_layers]
        raise ValueError(
            f"{label}: holds several recurrent modules: {', '.join(modules)}; "
            "save the weights of the one to load on their own"
        )
    if torch_modules:
        ((prefix, names),) = torch_modules.items()
        return _from_torch(tensors, prefix, names, layer)
    if cells:
        (prefix,) = cells
        return _from_canonical(tensors, prefix, layer)
    if keras_layers:
        return _from_keras_names(tensors, keras_layers, layer)
    raise ValueError(
        f"{label}: no recurrent weights found; expected PyTorch names (weight_ih_l0, weight_hh_l0, "
        f"bias_ih_l0, bias_hh_l0), gatescope names (weight_ih, weight_hh, ...) or Keras names "
        f"(kernel, recurrent_kernel, bias); found {listing(tensors.names)}"
    )


def prefix_groups(
    names: Sequence[str], pattern: re.Pattern
) -> dict[str, list[tuple[str, str]]]:
    """prefix -> [(matched part without the prefix, full tensor name)]."""
    groups: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for name in names:
        match = pattern.fullmatch(name)
        if match:
            groups[match["prefix"]].append((name[len(match["prefix"]) :], name))
    return dict(groups)


def _keras_layers(names: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
    """Keras prefixes with a kernel and a recurrent kernel (a Dense layer has no recurrent one)."""
    return {
        prefix: parts
        for prefix, parts in prefix_groups(names, _KERAS).items()
        if {"kernel", "recurrent_kernel"} <= {part.split(":")[0] for part, _ in parts}
    }


def _from_torch(
    tensors: TensorFile, prefix: str, names: list[tuple[str, str]], layer: int
) -> LoadedWeights:
    """nn.LSTM/GRU/RNN: layer N is the _lN tensors, forward direction (_lN_reverse is the
    backward one)."""
    forward = [part for part, _ in names if re.fullmatch(r"weight_hh_l\d+", part)]
    layers = sorted(int(part.removeprefix("weight_hh_l")) for part in forward)
    reverse = any(re.fullmatch(r"weight_hh_l\d+_reverse", part) for part, _ in names)
    if layer not in layers:
        found = ", ".join(map(str, layers)) or "none"
        raise ValueError(f"{tensors.label}: layer {layer} not found; layers found: {found}")
    suffix = f"_l{layer}"
    if f"{prefix}weight_hr{suffix}" in tensors.names:
        raise ValueError(
            f"{tensors.label}: {prefix}weight_hr{suffix} found: an nn.LSTM with proj_size "
            "is not supported"
        )
    file_names = {key: f"{prefix}{key}{suffix}" for key in WEIGHTS}
    params = cell_weights(tensors, file_names)
    kind = kind_of_blocks(tensors.label, file_names["weight_hh"], params["weight_hh"])
    check_canonical(tensors.label, kind, params, file_names)
    return LoadedWeights(
        kind,
        params,
        dict(DEFAULT_OPTIONS.get(kind, {})),
        layers=len(layers),
        directions=BOTH_DIRECTIONS if reverse else (FORWARD,),
        stated=TORCH_STATED[kind],
    )


def _from_canonical(tensors: TensorFile, prefix: str, layer: int) -> LoadedWeights:
    """Files write_weights made (kind and options in the metadata) and nn.*Cell state dicts."""
    label = tensors.label
    pick_layer(label, layer, [prefix or "the single cell"], "cells")
    file_names = {key: f"{prefix}{key}" for key in WEIGHTS + PEEPHOLES}
    has_peepholes = any(f"{prefix}{key}" in tensors.names for key in PEEPHOLES)
    params = cell_weights(tensors, file_names)
    kind = tensors.metadata.get(KIND_KEY)
    if kind is None:
        blocks_kind = kind_of_blocks(label, file_names["weight_hh"], params["weight_hh"])
        kind = "peephole_lstm" if has_peepholes and blocks_kind == "lstm" else blocks_kind
    elif kind not in GATE_BLOCKS:
        known = ", ".join(GATE_BLOCKS)
        raise ValueError(f"{label}: metadata names an unknown kind {kind!r}; known: {known}")
    if kind == "peephole_lstm" or has_peepholes:
        if kind != "peephole_lstm":
            raise ValueError(
                f"{label}: holds peephole vectors, which only a peephole_lstm has, not {kind!r}"
            )
        for key in PEEPHOLES:
            if file_names[key] not in tensors.names:
                raise missing(label, file_names[key], tensors.names)
            params[key] = tensors.get(file_names[key])
    check_canonical(label, kind, params, file_names)
    options = decode_options(label, tensors.metadata.get(OPTIONS_KEY, ""))
    # Only a file written with its options states them; bare weight_ih, ... names
    # (nn.LSTMCell, hand-made files) leave them to the caller.
    return LoadedWeights(
        kind, params, check_options(label, kind, options), stated=frozenset(options)
    )


def cell_weights(tensors: TensorFile, file_names: dict[str, str]) -> dict[str, np.ndarray]:
    """weight_ih and weight_hh, and the biases (zeros when the file has none: bias=False)."""
    params = {}
    for key in MATRICES:
        if file_names[key] not in tensors.names:
            raise missing(tensors.label, file_names[key], tensors.names)
        params[key] = tensors.get(file_names[key])
    present = [key for key in BIASES if file_names[key] in tensors.names]
    if len(present) == 1:
        absent = "bias_hh" if present == ["bias_ih"] else "bias_ih"
        raise missing(tensors.label, file_names[absent], tensors.names)
    expect_matrix(tensors.label, file_names["weight_hh"], params["weight_hh"], 2, "(G·H, H)")
    rows = params["weight_hh"].shape[0]
    for key in ("bias_ih", "bias_hh"):
        params[key] = (
            tensors.get(file_names[key]) if present else np.zeros(rows, params["weight_hh"].dtype)
        )
    return params


def kind_of_blocks(label: str, name: str, weight_hh: np.ndarray) -> str:
    """rnn, gru or lstm from the rows of weight_hh (G·H, H)."""
    blocks = gate_blocks(label, name, weight_hh.shape, weight_hh.shape[0], weight_hh.shape[1])
    return KIND_OF_BLOCKS[blocks]


def _from_keras_names(tensors: TensorFile, layers: dict, layer: int) -> LoadedWeights:
    """Keras kernel / recurrent_kernel / bias; several prefixes are layers in name order."""
    everything = sorted(layers, key=natural_key)
    # The backward half of a Bidirectional layer is a direction, not a layer of its own.
    prefixes = [p for p in everything if not is_backward_scope(p)]
    prefix = prefixes[pick_layer(tensors.label, layer, [p or "(no prefix)" for p in prefixes])]
    found = {part.split(":")[0]: name for part, name in layers[prefix]}
    bias = tensors.get(found["bias"]) if "bias" in found else None
    loaded = from_keras(
        tensors.label,
        tensors.get(found["kernel"]),
        tensors.get(found["recurrent_kernel"]),
        bias,
        found,
    )
    backward = len(prefixes) < len(everything)
    return replace(
        loaded, layers=len(prefixes), directions=BOTH_DIRECTIONS if backward else (FORWARD,)
    )
