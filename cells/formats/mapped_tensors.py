"""Whole models from any checkpoint of named tensors, each named by the caller:

    names={"weight_ih": "enc_w_ih", "weight_hh": "enc_w_hh", "bias_ih": "enc_b_ih",
           "bias_hh": "enc_b_hh", "embedding": "enc_emb", "head": "fc_out"}

The cell tensors are in PyTorch's layout and gate order (weight_ih (G·H, I), weight_hh
(G·H, H); LSTM gates i, f, g, o; GRU r, z, n); the kind follows from G. A list of names per
role stacks layers. A bias left unnamed is zero (many hand-written cells have one bias).
`embedding` (V, E) and `head` (O, inputs) name a tensor or a module (its .weight, and the
head's .bias); `head_bias` names the head's bias tensor. Every tensor not named is left out
and listed, never dropped silently.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .common import (
    DEFAULT_OPTIONS,
    FORWARD,
    MATRICES,
    WEIGHTS,
    LoadedWeights,
    check_canonical,
    expect_matrix,
    listing,
)
from .model_parts import LayerWeights, ModelWeights, check_chain
from .named import kind_of_blocks
from .tensor_files import TensorFile

CELL_ROLES = WEIGHTS
TENSOR_ROLES = (*CELL_ROLES, "embedding", "head", "head_bias")


def read_mapped_model(tensors: TensorFile, names: Mapping[str, object]) -> ModelWeights:
    label = tensors.label
    if "recurrent" in names:
        raise ValueError(f"{label}: recurrent= names a module, while weight_ih=... name the "
                         "cell's tensors one by one; give one or the other")
    for role in MATRICES:
        if role not in names:
            raise ValueError(f"{label}: a tensor mapping needs {role}=... (given: "
                             f"{', '.join(sorted(names))})")
    per_layer = {role: _names(label, role, names[role]) for role in CELL_ROLES if role in names}
    counts = {role: len(found) for role, found in per_layer.items()}
    if len(set(counts.values())) > 1:
        raise ValueError(f"{label}: the tensor mapping names a different number of layers per "
                         f"tensor: {counts}")
    used: set[str] = set()

    def tensor(role: str, name: str) -> np.ndarray:
        if name not in tensors.names:
            raise ValueError(f"{label}: {role}={name!r} is not in the file (found "
                             f"{listing(tensors.names)})")
        used.add(name)
        return tensors.get(name)

    layers = []
    for k in range(counts["weight_hh"]):
        file_names = {role: found[k] for role, found in per_layer.items()}
        params = {role: tensor(role, name) for role, name in file_names.items()}
        expect_matrix(label, file_names["weight_hh"], params["weight_hh"], 2, "(G·H, H)")
        kind = kind_of_blocks(label, file_names["weight_hh"], params["weight_hh"])
        for role in ("bias_ih", "bias_hh"):
            params.setdefault(role, np.zeros(len(params["weight_hh"]), params["weight_hh"].dtype))
        check_canonical(label, kind, params, file_names)
        layers.append(LayerWeights({FORWARD: LoadedWeights(
            kind, params, dict(DEFAULT_OPTIONS.get(kind, {})))}))
    embedding = head_weight = head_bias = None
    if "embedding" in names:
        embedding = tensor("embedding", _tensor_or_module(label, tensors, "embedding",
                                                          names["embedding"]))
    if "head" in names:
        weight_name = _tensor_or_module(label, tensors, "head", names["head"])
        head_weight = tensor("head", weight_name)
        module_bias = weight_name.removesuffix("weight") + "bias"
        if "head_bias" in names:
            head_bias = tensor("head_bias", _names(label, "head_bias", names["head_bias"])[0])
        elif weight_name.endswith(".weight") and module_bias in tensors.names:
            head_bias = tensor("head", module_bias)
        elif head_weight.ndim == 2:
            head_bias = np.zeros(head_weight.shape[0], head_weight.dtype)
    elif "head_bias" in names:
        raise ValueError(f"{label}: head_bias= names a bias without a head=...")
    weights = ModelWeights(label, tuple(layers), embedding=embedding, head_weight=head_weight,
                           head_bias=head_bias, left_out=tuple(sorted(set(tensors.names) - used)))
    check_chain(weights)
    return weights


def _names(label: str, role: str, value: object) -> list[str]:
    """A tensor name, or a list of them (one per layer)."""
    found = [value] if isinstance(value, str) else value
    if not isinstance(found, (list, tuple)) or not found or \
            not all(isinstance(name, str) and name for name in found):
        raise ValueError(f"{label}: {role}= must be a tensor name or a list of them, not "
                         f"{value!r}")
    return list(found)


def _tensor_or_module(label: str, tensors: TensorFile, role: str, value: object) -> str:
    (name,) = _names(label, role, value) if isinstance(value, str) else [None]
    if name is None:
        raise ValueError(f"{label}: {role}= must be a tensor or module name, not {value!r}")
    if name in tensors.names:
        return name
    if f"{name}.weight" in tensors.names:
        return f"{name}.weight"
    raise ValueError(f"{label}: {role}={name!r} is neither a tensor nor a module (no "
                     f"{name}.weight) in the file (found {listing(tensors.names)})")
