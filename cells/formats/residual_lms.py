"""Residual language models by their own tensor names: an embedding, blocks that each wrap
one recurrent cell in a norm and a residual connection (cells.models.blocks), a final norm
and a head.

- minGRU-pytorch's `minLM` ("Were RNNs All We Needed?", Feng et al. 2024, as
  lucidrains/minGRU-pytorch builds it): `token_emb`, `layers.{l}.{0..4}` = an optional
  causal depthwise + pointwise convolution added to the stream, RMSNorm, the minGRU or
  minLSTM (its `to_out` projection the block's `out`), RMSNorm, a GELU feed-forward;
  `norm` and `to_logits` (no bias). torch's RMSNorm without eps uses the machine epsilon
  of the tensors' dtype, and so does the block.
"""

from __future__ import annotations

import re

import numpy as np

from .common import LoadedWeights, check_options, shape_text
from .model_parts import BlockWeights, LayerWeights, ModelWeights, check_chain
from .tensor_files import TensorFile

_MIN_LM_CELL = re.compile(r"layers\.(\d+)\.2\.(to_hidden_and_gate|to_hidden_and_f_i_gate)"
                          r"\.weight")
_MIN_KINDS = {"to_hidden_and_gate": ("min_gru", 2), "to_hidden_and_f_i_gate": ("min_lstm", 3)}


def read_residual_lm(tensors: TensorFile) -> ModelWeights | None:
    """The model when the file holds a residual language model this module knows, else
    None."""
    names = set(tensors.names)
    if {"token_emb.weight", "to_logits.weight", "norm.weight"} <= names and any(
            _MIN_LM_CELL.fullmatch(n) for n in names):
        return _min_lm(tensors)
    return None


class _Reader:
    """Reads tensors by name and remembers which, so the rest can be listed as left out."""

    def __init__(self, tensors: TensorFile):
        self.tensors, self.used = tensors, set()

    def __contains__(self, name: str) -> bool:
        return name in self.tensors.names

    def get(self, name: str, ndim: int | None = None) -> np.ndarray:
        value = self.tensors.get(name)
        if ndim is not None and value.ndim != ndim:
            raise ValueError(f"{self.tensors.label}: {name} has shape "
                             f"{shape_text(value.shape)}; expected {ndim} dimensions")
        self.used.add(name)
        return value

    def left_out(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.tensors.names) - self.used))


def _min_lm(tensors: TensorFile) -> ModelWeights:
    label, read = tensors.label, _Reader(tensors)
    found = sorted((int(m[1]), m[2]) for m in map(_MIN_LM_CELL.fullmatch, tensors.names) if m)
    if [index for index, _ in found] != list(range(len(found))):
        raise ValueError(f"{label}: the minLM layers are numbered "
                         f"{[index for index, _ in found]}, not 0..{len(found) - 1}")
    embedding = read.get("token_emb.weight", 2)
    eps = float(np.finfo(embedding.dtype).eps)  # torch's RMSNorm(eps=None)
    layers = []
    for index, module in found:
        prefix = f"layers.{index}."
        kind, blocks = _MIN_KINDS[module]
        weight = read.get(f"{prefix}2.{module}.weight", 2)
        if weight.shape[0] % blocks:
            raise ValueError(f"{label}: {prefix}2.{module}.weight has shape "
                             f"{shape_text(weight.shape)}; expected ({blocks}·H, E)")
        cell = LoadedWeights(kind, {"weight_ih": weight,
                                    "bias_ih": np.zeros(weight.shape[0], weight.dtype)},
                             check_options(label, kind, {}))
        params = {"norm.weight": read.get(f"{prefix}1.weight", 1),
                  "ff_norm.weight": read.get(f"{prefix}3.weight", 1),
                  "ff.up.weight": read.get(f"{prefix}4.0.weight", 2),
                  "ff.up.bias": read.get(f"{prefix}4.0.bias", 1),
                  "ff.down.weight": read.get(f"{prefix}4.2.weight", 2),
                  "ff.down.bias": read.get(f"{prefix}4.2.bias", 1)}
        if f"{prefix}2.to_out.weight" in read:
            params["out.weight"] = read.get(f"{prefix}2.to_out.weight", 2)
        if f"{prefix}0.net.0.weight" in read:  # Conv1d(E, E, K, groups=E): (E, 1, K)
            depthwise = read.get(f"{prefix}0.net.0.weight", 3)
            pointwise = read.get(f"{prefix}0.net.1.weight", 3)  # (E, E, 1)
            params.update({"conv.weight": depthwise[:, 0, :],
                           "conv.bias": read.get(f"{prefix}0.net.0.bias", 1),
                           "conv.pointwise.weight": pointwise[:, :, 0],
                           "conv.pointwise.bias": read.get(f"{prefix}0.net.1.bias", 1)})
        options = {"norm": "rms", "eps": eps, "ff_activation": "gelu", "ff_gated": False}
        layers.append(LayerWeights({"forward": cell}, block=BlockWeights(params, options)))
    head = read.get("to_logits.weight", 2)
    weights = ModelWeights(
        label, tuple(layers), embedding=embedding, head_weight=head,
        head_bias=np.zeros(head.shape[0], head.dtype), activation="softmax",
        encoding="embedding",
        final_norm=BlockWeights({"norm.weight": read.get("norm.weight", 1)},
                                {"norm": "rms", "eps": eps}),
        left_out=read.left_out())
    check_chain(weights)
    return weights
