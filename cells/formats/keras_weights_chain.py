"""Bare Keras 3 `.weights.h5` files: the layers' classes are in their group names but not
their order, so the order is the one chain their shapes allow."""

from __future__ import annotations

import re

import h5py

from .common import BACKWARD, FORWARD, LoadedWeights
from .keras import from_keras
from .keras_layouts import Keras3Layout, dense_head, h5_child, numbered_vars
from .model_parts import LayerWeights, ModelWeights, check_chain

_CLASS_OF_GROUP = {"embedding": "Embedding", "dense": "Dense", "lstm": "LSTM", "gru": "GRU",
                   "simple_rnn": "SimpleRNN", "bidirectional": "Bidirectional"}


def read_chain(label: str, root: h5py.Group) -> ModelWeights:
    parts = []
    for name in root:
        base = re.sub(r"_\d+$", "", name)
        kind = _CLASS_OF_GROUP.get(base)
        if kind is None:
            raise ValueError(f"{label}: layer group {name!r} is not an Embedding, LSTM, GRU, "
                             "SimpleRNN, Bidirectional or Dense layer")
        group = h5_child(root, name)
        if not isinstance(group, h5py.Group):
            raise ValueError(f"{label}: layers/{name} is not a group of weights")
        where = f"{label}: layer {name!r} ({kind})"
        if kind == "Embedding":
            parts.append(("embedding", name, numbered_vars(label, group, 1)[0]))
        elif kind == "Dense":
            parts.append(("head", name, dense_head(label, where, Keras3Layout(root.file), group,
                                               {"activation": "linear"})))
        elif kind == "Bidirectional":
            cells = {FORWARD: _bare_cell(label, where, h5_child(group, "forward_layer")),
                     BACKWARD: _bare_cell(label, where, h5_child(group, "backward_layer"))}
            parts.append(("layer", name, LayerWeights(cells)))
        else:
            parts.append(("layer", name, LayerWeights({FORWARD: _bare_cell(label, where,
                                                                           group)})))
    embeddings = [p for p in parts if p[0] == "embedding"]
    heads = [p for p in parts if p[0] == "head"]
    remaining = [p for p in parts if p[0] == "layer"]
    if len(embeddings) > 1 or len(heads) > 1 or not remaining:
        raise ValueError(f"{label}: holds {len(embeddings)} embeddings, {len(remaining)} "
                         f"recurrent layers and {len(heads)} Dense layers; expected at most one "
                         "embedding and one Dense layer around one or more recurrent layers")
    width = embeddings[0][2].shape[1] if embeddings else None
    ordered = []
    while remaining:
        fits = [p for p in remaining if width is None or _widths(p[2])[0] == width]
        if width is None:  # the first layer is the one no other layer feeds
            outputs = {_widths(p[2])[1] for p in remaining}
            fits = [p for p in remaining if _widths(p[2])[0] not in outputs] or fits
        if len(fits) != 1:
            names = ", ".join(p[1] for p in (fits or remaining))
            raise ValueError(f"{label}: cannot tell the order of layers {names} from their "
                             "shapes; load the .keras archive, whose config.json says it")
        ordered.append(fits[0])
        remaining.remove(fits[0])
        width = _widths(fits[0][2])[1]
    head = heads[0][2] if heads else {"activation": None}
    if heads:
        head = {**head, "activation": None}  # a bare weights file does not say
    weights = ModelWeights(label, tuple(p[2] for p in ordered),
                           embedding=embeddings[0][2] if embeddings else None, **head)
    check_chain(weights)
    return weights


def _widths(layer: LayerWeights) -> tuple[int, int]:
    cells = list(layer.cells.values())
    return cells[0].params["weight_ih"].shape[1], sum(c.params["weight_hh"].shape[1]
                                                      for c in cells)


def _bare_cell(label, where, group) -> LoadedWeights:
    cell_group = h5_child(group, "cell") if isinstance(group, h5py.Group) else None
    if not isinstance(cell_group, h5py.Group):
        raise ValueError(f"{where}: no cell weights found")
    arrays = Keras3Layout(group.file).arrays(label, cell_group,
                                             ("kernel", "recurrent_kernel", "bias"), 2)
    names = {role: name for role, (_, name) in arrays.items()}
    bias = arrays["bias"][0] if "bias" in arrays else None
    return from_keras(label, arrays["kernel"][0], arrays["recurrent_kernel"][0], bias, names)
