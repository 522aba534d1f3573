"""A whole model read from a file, before it becomes a `cells.Model`: the weights of every
layer and direction, the embedding, the head, and what the file says about them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..kinds import SPECS
from .common import GATE_BLOCKS, LoadedWeights, shape_text


@dataclass(frozen=True)
class BlockWeights:
    """The tensors and options of the block around a layer's cell in a residual language
    model, by the names of cells.models.blocks.PARTS; the final norm before a head is one
    too, with only `norm.weight` (and `norm.bias`)."""

    params: Mapping[str, np.ndarray]
    options: Mapping[str, object]


@dataclass(frozen=True)
class LayerWeights:
    """direction ("forward", "backward") -> that cell's weights, forward first. A projected
    LSTM (nn.LSTM(proj_size=P)) has params["weight_hr"] (P, H) and weight_hh (4H, P)."""

    cells: Mapping[str, LoadedWeights]
    reverse_output: bool = False  # Keras go_backwards alone: outputs in processing order
    block: BlockWeights | None = None  # residual language models: what sits around the cell


@dataclass(frozen=True)
class ModelWeights:
    label: str  # the file's name, for messages
    layers: tuple[LayerWeights, ...]
    embedding: np.ndarray | None = None  # (V, E)
    head_weight: np.ndarray | None = None  # (O, D·H)
    head_bias: np.ndarray | None = None  # (O,)
    # "linear", "softmax" or "sigmoid" when the file says; None when it cannot tell
    activation: str | None = None
    vocabulary: tuple[str, ...] | None = None  # a gatescope file keeps its vocabulary
    tokenizer: str | None = None
    encoding: str | None = None  # a gatescope file states "one_hot" or "numbers"
    returns: str = "sequence"  # "last": the framework's model outputs only the last step
    left_out: tuple[str, ...] = ()  # the file's tensors this load does not use, by name
    # What the numbers are not: e.g. an int8 model read as the float model it quantizes.
    notices: tuple[str, ...] = ()
    final_norm: BlockWeights | None = None  # the norm between the last block and the head


# kinds whose parameters are a reference module's own projections, not gate blocks:
# kind -> (the tensor whose columns are the input, the one whose rows are the output)
PROJECTION_KINDS = {"mamba": ("in_proj_weight", "out_proj_weight")}


def cell_input_size(weights: LoadedWeights) -> int:
    first = PROJECTION_KINDS.get(weights.kind, ("weight_ih",))[0]
    return weights.params[first].shape[1]


def cell_output_size(weights: LoadedWeights) -> int:
    """H, or P for a projected LSTM (its weight_hr is (P, H))."""
    params = weights.params
    if weights.kind in PROJECTION_KINDS:
        return params[PROJECTION_KINDS[weights.kind][1]].shape[0]
    spec = SPECS[weights.kind]
    if spec.param_layout is not None:  # a kind of its own layout (mLSTM): the H that fits it
        options = {o.name: weights.options.get(o.name, o.default) for o in spec.option_table}
        inputs, rows = cell_input_size(weights), params["weight_ih"].shape[0]
        for hidden in range(1, rows + 1):
            shapes = {p["name"]: tuple(p["shape"])
                      for p in spec.param_layout(inputs, hidden, options)}
            if all(shapes.get(name) == array.shape for name, array in params.items()):
                return hidden
        raise ValueError(f"a {weights.kind}'s parameters {sorted(params)} fit no hidden size")
    if "weight_hr" in params:
        return params["weight_hr"].shape[0]
    # from weight_ih's gate blocks: a kind of x_t-only gates has no weight_hh
    return params["weight_ih"].shape[0] // GATE_BLOCKS[weights.kind]


def layer_width(label: str, index: int, layer: LayerWeights) -> tuple[int, int]:
    """(input size, output size) of a layer; its directions must read the same input."""
    inputs = {cell_input_size(w) for w in layer.cells.values()}
    if len(inputs) > 1:
        raise ValueError(
            f"{label}: the directions of layer {index} read different input sizes "
            f"{sorted(inputs)}"
        )
    width = inputs.pop()
    if layer.block is not None:  # a residual stream goes on at the width it came in
        return width, width
    return width, sum(cell_output_size(w) for w in layer.cells.values())


def check_chain(weights: ModelWeights) -> None:
    """Each part reads what the part before it gives, or a message naming both."""
    label = weights.label
    widths = [layer_width(label, k, layer) for k, layer in enumerate(weights.layers)]
    if weights.embedding is not None:
        embedding = weights.embedding
        if embedding.ndim != 2 or embedding.shape[1] != widths[0][0]:
            raise ValueError(
                f"{label}: the embedding has shape {shape_text(embedding.shape)} but layer 0 "
                f"reads {widths[0][0]} values per step (expected (V, {widths[0][0]}))"
            )
    for k in range(1, len(widths)):
        if widths[k][0] != widths[k - 1][1]:
            raise ValueError(
                f"{label}: layer {k - 1} outputs {widths[k - 1][1]} values per step but layer "
                f"{k} reads {widths[k][0]}"
            )
    if weights.head_weight is not None:
        head = weights.head_weight
        if head.ndim != 2 or head.shape[1] != widths[-1][1]:
            raise ValueError(
                f"{label}: the head's weight has shape {shape_text(head.shape)} but the last "
                f"layer outputs {widths[-1][1]} values per step (expected (O, {widths[-1][1]}))"
            )
        bias = weights.head_bias
        if bias is not None and bias.shape != (head.shape[0],):
            raise ValueError(
                f"{label}: the head's bias has shape {shape_text(bias.shape)} but its weight "
                f"{shape_text(head.shape)} expects ({head.shape[0]},)"
            )
