"""Whole models from flat files of named tensors (.safetensors, .npz): PyTorch state dicts
(Embedding → LSTM/GRU/RNN, any num_layers, bidirectional, proj_size, or an LSTMCell /
GRUCell / RNNCell stepped over the sequence → Linear), gatescope model files, checkpoints
whose tensors the caller names one by one (mapped_tensors), and any other single-cell file
as a one-layer model. What a load leaves out of a file is listed in `left_out`."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np

from .common import (
    BACKWARD,
    BIASES,
    DEFAULT_OPTIONS,
    FORWARD,
    MATRICES,
    WEIGHTS,
    LoadedWeights,
    check_canonical,
    expect_matrix,
    expect_shape,
    listing,
    missing,
)
from .mapped_tensors import TENSOR_ROLES, read_mapped_model
from .model_file import MODEL_KEY, read_model_file
from .model_parts import LayerWeights, ModelWeights, check_chain
from .named import (
    TORCH_CELL_NAMES,
    TORCH_NAMES,
    TORCH_STATED,
    cell_weights,
    kind_of_blocks,
    prefix_groups,
    read_named,
)
from .tensor_files import KIND_KEY, TensorFile, recording

# The module names PyTorch code most often gives these parts.
EMBEDDING_NAMES = ("emb", "embedding", "encoder", "embed")
RECURRENT_NAMES = ("lstm", "gru", "rnn", "cell")
HEAD_NAMES = ("fc", "head", "linear", "decoder", "out")
PART_NAMES = ("embedding", "recurrent", "head")  # what a caller may name with **names


def read_named_model(tensors: TensorFile, names: Mapping[str, object]) -> ModelWeights:
    """`names` name the parts by module (embedding=, recurrent=, head=) or, for any
    checkpoint, tensor by tensor (weight_ih=, weight_hh=, ..., see mapped_tensors)."""
    unknown = sorted(set(names) - set(PART_NAMES) - set(TENSOR_ROLES))
    if unknown:
        raise ValueError(
            f"{tensors.label}: unknown part name(s) {unknown}; name the parts with "
            f"{', '.join(f'{p}=...' for p in PART_NAMES)} (module names), or the tensors "
            f"with {', '.join(f'{r}=...' for r in TENSOR_ROLES)}"
        )
    if MODEL_KEY in tensors.metadata:
        if names:
            raise ValueError(f"{tensors.label}: a gatescope model file names its own parts; "
                             f"{sorted(names)} do not apply")
        return read_model_file(tensors)
    if set(names) & (set(TENSOR_ROLES) - set(PART_NAMES)):
        return read_mapped_model(tensors, names)
    if prefix_groups(tensors.names, TORCH_NAMES) or (
            _torch_cells(tensors) and KIND_KEY not in tensors.metadata):
        return read_torch_state_dict(tensors, names)
    return _single_cells(tensors, names)


def _torch_cells(tensors: TensorFile) -> dict[str, list[tuple[str, str]]]:
    """prefix -> tensors of each nn.LSTMCell / GRUCell / RNNCell (weight_ih, weight_hh,
    bias_ih, bias_hh with no layer suffix) in a state dict; peephole files are not torch."""
    if any(name.rsplit(".", 1)[-1].startswith("peephole_") for name in tensors.names):
        return {}
    return {prefix: parts for prefix, parts in prefix_groups(tensors.names, TORCH_CELL_NAMES)
            .items() if any(part == "weight_hh" for part, _ in parts)}


def _prefix(name: str) -> str:
    """A module name as the prefix of its tensors: 'lstm' -> 'lstm.'; '' is the top level."""
    name = str(name)
    return name if name == "" or name.endswith(".") else name + "."


def read_torch_state_dict(tensors: TensorFile, names: Mapping[str, object],
                          cell_options_stated: bool = False,
                          leave_out: bool | None = None) -> ModelWeights:
    """Embedding → recurrent modules → Linear. Unless the caller named the parts
    (`leave_out`, by default whether `names` are given), a tensor that is none of these is
    refused: the parts were guessed from common names, and a guess that leaves something
    out may be wrong. Once the caller names them, the rest is left out (and listed)."""
    label = tensors.label
    groups: dict[str, object] = dict(prefix_groups(tensors.names, TORCH_NAMES))
    groups.update({prefix: CELL for prefix in _torch_cells(tensors)})
    used: set[str] = set()
    layers: list[LayerWeights] = []
    for prefix in _recurrent_prefixes(label, groups, names.get("recurrent"), tensors.names):
        if groups[prefix] is CELL:
            layers.append(_torch_cell(tensors, prefix, used, cell_options_stated))
        else:
            layers += _torch_layers(tensors, prefix, groups[prefix], used)
    embedding = _part(tensors, "embedding", EMBEDDING_NAMES, names.get("embedding"), used,
                      bias=False)
    head = _part(tensors, "head", HEAD_NAMES, names.get("head"), used, bias=True)
    leftovers = sorted(set(tensors.names) - used)
    if leftovers and not (bool(names) if leave_out is None else leave_out):
        raise ValueError(
            f"{label}: holds tensors that are not an embedding, a recurrent module or a "
            f"linear head: {listing(leftovers)}; name the parts with embedding=..., "
            "recurrent=..., head=... (module names; what they leave out is then listed in a "
            "LeftOutWarning), or leave the others out of the file"
        )
    head_weight, head_bias = head if head is not None else (None, None)
    weights = ModelWeights(
        label, tuple(layers), embedding=None if embedding is None else embedding[0],
        head_weight=head_weight, head_bias=head_bias, left_out=tuple(leftovers),
    )
    check_chain(weights)
    return weights


CELL = object()  # marks a prefix holding one nn.*Cell rather than an nn.LSTM/GRU/RNN


def _torch_cell(tensors: TensorFile, prefix: str, used: set, stated: bool) -> LayerWeights:
    """An nn.LSTMCell / GRUCell / RNNCell: stepping it over the sequence, h (and c) carried
    from step to step, is the one-layer forward model."""
    label = tensors.label
    file_names = {key: f"{prefix}{key}" for key in WEIGHTS}
    params = cell_weights(tensors, file_names)
    kind = kind_of_blocks(label, file_names["weight_hh"], params["weight_hh"])
    check_canonical(label, kind, params, file_names)
    used.update(n for n in file_names.values() if n in tensors.names)
    # A live GRUCell is PyTorch's GRU (reset_after); a file of bare names may be anyone's.
    return LayerWeights({FORWARD: LoadedWeights(
        kind, params, dict(DEFAULT_OPTIONS.get(kind, {})),
        stated=TORCH_STATED[kind] if stated else frozenset())})


def _recurrent_prefixes(label: str, groups: dict, given, present) -> list[str]:
    """The recurrent modules to stack, in order: the caller's, or the one the file has."""
    if given is not None:
        chosen = [_prefix(g) for g in ([given] if isinstance(given, str) else list(given))]
        absent = [p for p in chosen if p not in groups]
        if absent:
            found = ", ".join(repr(p.rstrip(".")) for p in groups)
            wanted = ", ".join(repr(p.rstrip(".")) for p in absent)
            raise ValueError(
                f"{label}: no recurrent module named {wanted} (weight_ih_l0, weight_hh_l0, "
                f"...); recurrent modules found: {found or 'none'}"
            )
        return chosen
    if not groups:
        raise ValueError(
            f"{label}: holds no recurrent module (nn.LSTM, nn.GRU or nn.RNN: weight_ih_l0, "
            "weight_hh_l0, ...; nn.LSTMCell, nn.GRUCell or nn.RNNCell: weight_ih, weight_hh, "
            f"...); found {listing(present)}"
        )
    if len(groups) == 1:
        return list(groups)
    common = [p for p in groups if p.rstrip(".").rsplit(".", 1)[-1] in RECURRENT_NAMES]
    if len(common) == 1:
        return common
    listed = _module_list(groups)
    if listed:
        return listed
    found = ", ".join(repr(p.rstrip(".")) for p in groups)
    raise ValueError(
        f"{label}: holds several recurrent modules ({found}); say which to run with "
        "recurrent='name', or recurrent=['first', 'second'] to stack them in that order"
    )


def _module_list(groups: dict) -> list[str] | None:
    """Prefixes 'stack.0.', 'stack.1.', ...: an nn.ModuleList of recurrent modules, which
    PyTorch code runs in their order."""
    matches = [re.fullmatch(r"(.*\.)?(\d+)\.", p) for p in groups]
    if not all(matches) or len({m[1] for m in matches}) != 1:
        return None
    ordered = sorted(groups, key=lambda p: int(p.rstrip(".").rsplit(".", 1)[-1]))
    numbers = [int(p.rstrip(".").rsplit(".", 1)[-1]) for p in ordered]
    return ordered if numbers == list(range(len(numbers))) else None


def _torch_layers(tensors: TensorFile, prefix: str, parts: list, used: set) -> list:
    """nn.LSTM/GRU/RNN tensors: layer k is _lk (forward) and _lk_reverse (backward)."""
    label = tensors.label
    numbers = sorted({int(m[1]) for part, _ in parts
                      if (m := re.fullmatch(r"weight_hh_l(\d+)(?:_reverse)?", part))})
    if not numbers:
        raise missing(label, f"{prefix}weight_hh_l0", tensors.names)
    if numbers != list(range(len(numbers))):
        raise ValueError(
            f"{label}: {prefix or 'the recurrent module '}has layers {numbers}; "
            "expected 0, 1, ... without gaps"
        )
    layers = []
    for k in numbers:
        cells = {}
        for direction, suffix in ((FORWARD, f"_l{k}"), (BACKWARD, f"_l{k}_reverse")):
            if f"{prefix}weight_hh{suffix}" not in tensors.names:
                if direction == FORWARD:
                    raise missing(label, f"{prefix}weight_hh{suffix}", tensors.names)
                continue
            file_names = {key: f"{prefix}{key}{suffix}" for key in WEIGHTS}
            projection = f"{prefix}weight_hr{suffix}"
            if projection in tensors.names:
                cells[direction] = _projected(tensors, file_names, projection)
                used.add(projection)
            else:
                params = cell_weights(tensors, file_names)
                kind = kind_of_blocks(label, file_names["weight_hh"], params["weight_hh"])
                check_canonical(label, kind, params, file_names)
                cells[direction] = LoadedWeights(
                    kind, params, dict(DEFAULT_OPTIONS.get(kind, {})), stated=TORCH_STATED[kind]
                )
            used.update(n for n in file_names.values() if n in tensors.names)
        layers.append(LayerWeights(cells))
    return layers


def _projected(tensors: TensorFile, file_names: dict, projection: str) -> LoadedWeights:
    """nn.LSTM(proj_size=P): weight_ih (4H, I), weight_hh (4H, P), weight_hr (P, H)."""
    label = tensors.label
    weight_hr = tensors.get(projection)
    expect_matrix(label, projection, weight_hr, 2, "(proj_size, hidden_size)")
    proj, hidden = weight_hr.shape
    params = {"weight_hr": weight_hr}
    for key in MATRICES:
        if file_names[key] not in tensors.names:
            raise missing(label, file_names[key], tensors.names)
        params[key] = tensors.get(file_names[key])
    what = f"an LSTM with hidden_size {hidden} and proj_size {proj} ({projection})"
    expect_matrix(label, file_names["weight_ih"], params["weight_ih"], 2, "(4·H, I)")
    expect_shape(label, file_names["weight_hh"], params["weight_hh"], (4 * hidden, proj), what)
    expect_shape(label, file_names["weight_ih"], params["weight_ih"],
                 (4 * hidden, params["weight_ih"].shape[1]), what)
    for key in BIASES:
        if file_names[key] in tensors.names:
            params[key] = tensors.get(file_names[key])
            expect_shape(label, file_names[key], params[key], (4 * hidden,), what)
        else:
            params[key] = np.zeros(4 * hidden, weight_hr.dtype)
    return LoadedWeights("lstm", params, {}, stated=frozenset())


def _part(tensors: TensorFile, role: str, common: Sequence[str], given, used: set, bias: bool):
    """(weight, bias or None) of an Embedding (bias=False) or Linear: the caller's module
    or the one module under a common name; None when there is none."""
    label = tensors.label
    if given is not None:
        weight_name = f"{_prefix(given)}weight"
        if weight_name not in tensors.names:
            raise ValueError(
                f"{label}: no {role} named {given!r} ({weight_name} is not in the file; "
                f"found {listing(tensors.names)})"
            )
        candidates = [weight_name]
    else:
        pattern = re.compile(r"(?:.*\.)?(?:" + "|".join(common) + r")\.weight")
        candidates = [n for n in tensors.names if pattern.fullmatch(n)]
        if len(candidates) > 1:
            raise ValueError(
                f"{label}: several modules could be the {role}: {', '.join(candidates)}; "
                f"say which with {role}='module name'"
            )
        if not candidates:
            return None
    (weight_name,) = candidates
    weight = tensors.get(weight_name)
    expect_matrix(label, weight_name, weight, 2, "(out, in)" if bias else "(V, E)")
    used.add(weight_name)
    bias_name = weight_name[: -len("weight")] + "bias"
    value = None
    if bias_name in tensors.names:
        if not bias:
            raise ValueError(f"{label}: {bias_name} found, but an embedding has no bias")
        value = tensors.get(bias_name)
        expect_shape(label, bias_name, value, weight.shape[:1], f"the {role} {weight_name}")
        used.add(bias_name)
    elif bias:
        value = np.zeros(weight.shape[0], weight.dtype)  # nn.Linear(bias=False)
    return weight, value


def _single_cells(tensors: TensorFile, names: Mapping) -> ModelWeights:
    """gatescope single-cell files, peephole files and Keras-named weights: each layer the
    file holds, forward; whatever else the file holds is left out."""
    if names:
        raise ValueError(
            f"{tensors.label}: holds no PyTorch module names, so {sorted(names)} cannot be "
            f"looked up; name its tensors one by one with "
            f"{', '.join(f'{r}=...' for r in TENSOR_ROLES)}"
        )
    tensors, used = recording(tensors)
    first = read_named(tensors, 0)
    if BACKWARD in first.directions:
        raise ValueError(
            f"{tensors.label}: holds Keras Bidirectional weights by name; load the .keras "
            "archive (its config.json says how the layers connect)"
        )
    layers = [first] + [read_named(tensors, k) for k in range(1, first.layers)]
    weights = ModelWeights(tensors.label, tuple(LayerWeights({FORWARD: w}) for w in layers),
                           left_out=tuple(sorted(set(tensors.names) - used)))
    check_chain(weights)
    return weights
