"""A stack of residual blocks whose box around the cell is more than cells.models.blocks'
generic Block (norm → cell → out projection → feed-forward): the xlstm library's mLSTM
layer splits its up-projection into the cell's branch and a gate, convolves one half, reads
q, k and v from different halves, normalizes the cell's output per head, adds a learnable
skip and gates by SiLU(z) before projecting down (cells.formats.xlstm_models).

Such a block kind has `kind`, `cell` (the recurrent cell drawn inside), `width` (E),
`parts` (the names of its intermediates, in order) and `run(x) -> BlockTrace`, which holds
the cell's trace and every intermediate by name (the page draws them as one box around the
cell). `BlockModel` is (embedding →) blocks → final norm (→ logits).

The pieces reuse cells.models.blocks (norms, activations, causal convolution) and add the
ones the xlstm layers need (a per-head group norm, a few more activations).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from ..params import as_float_array
from .blocks import Norm, activation, causal_depthwise_conv


# -- the pieces ------------------------------------------------------------------------------
def layer_norm(x: np.ndarray, weight: np.ndarray | None, bias: np.ndarray | None = None,
               eps: float = 1e-5) -> np.ndarray:
    """torch.nn.functional.layer_norm over the last axis (biased variance)."""
    return Norm("layer", weight, bias, eps)(x)


def group_norm(x: np.ndarray, groups: int, weight: np.ndarray | None,
               bias: np.ndarray | None = None, eps: float = 1e-5) -> np.ndarray:
    """torch.nn.functional.group_norm of (T, C) rows: each of `groups` contiguous channel
    groups normalized on its own, then the per-channel weight and bias."""
    T, C = x.shape
    out = layer_norm(x.reshape(T, groups, C // groups), None, None, eps).reshape(T, C)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def rms_norm(x: np.ndarray, weight: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """x / sqrt(mean(x²) + eps) · weight over the last axis."""
    return Norm("rms", weight, None, eps)(x)


def causal_conv(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None,
                state: np.ndarray | None = None) -> np.ndarray:
    """Depthwise causal convolution along time (cells.models.blocks.causal_depthwise_conv);
    `state` (K−1, C): the inputs before x (zeros by default)."""
    if state is None:
        return causal_depthwise_conv(x, weight, bias)
    return causal_depthwise_conv(np.concatenate([state, x]), weight, bias)[len(state):]


def linear(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    """nn.Linear: x·Wᵀ + b."""
    y = x @ weight.T
    return y if bias is None else y + bias


def silu(x: np.ndarray) -> np.ndarray:
    return activation("silu", x)


# the xlstm library's feed-forward activations (its `_act_fn_registry`), by its names
ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "gelu": lambda x: activation("gelu", x),
    "relu": lambda x: activation("relu", x),
    "relu^2": lambda x: np.square(np.maximum(x, 0)),
    "sigmoid": lambda x: 0.5 * np.tanh(0.5 * x) + 0.5,
    "swish": silu,
    "selu": lambda x: 1.0507009873554805 * np.where(
        x > 0, x, 1.6732632423543772 * np.expm1(np.minimum(x, 0))),
}


# -- blocks and their traces -----------------------------------------------------------------
@dataclass
class BlockTrace:
    """One run of a block: the cell's trace and every non-recurrent intermediate, name ->
    (T, …), in computation order; "out" is what the block adds to (or makes of) the
    residual stream's next value."""

    kind: str
    cell_trace: object
    parts: dict[str, np.ndarray]

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self.parts:
            raise ValueError(f"a {self.kind} block has no part {name!r}; its parts: "
                             f"{', '.join(self.parts)}")
        return self.parts[name]

    @property
    def out(self) -> np.ndarray:
        return self.parts["out"]


class Block(Protocol):
    kind: str
    cell: object
    width: int
    parts: tuple[str, ...]

    def run(self, x: np.ndarray) -> BlockTrace: ...


@dataclass
class BlockModelTrace:
    model: BlockModel
    xs: np.ndarray  # (T, E): what the first block read (the embedded tokens)
    ids: np.ndarray | None  # (T,) token ids, where the input was tokens
    tokens: list[str] | None  # each step as the text it covers, where the input was text
    blocks: list[BlockTrace]
    stream: list[np.ndarray]  # the residual stream before each block, then after the last
    final: np.ndarray  # (T, E) after the final norm
    _logits: dict = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.xs)

    def block(self, index: int) -> BlockTrace:
        return self.blocks[index]

    @property
    def names(self) -> tuple[str, ...]:
        return ("logits", "probs") if self.model.head is not None else ()

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self.names:
            has = "logits and probs" if self.names else "no head"
            raise ValueError(f"unknown output {name!r}: this block model has {has}")
        if not self._logits:
            logits = self.final @ self.model.head.T  # (T, V)
            shifted = np.exp(logits - logits.max(-1, keepdims=True))
            self._logits = {"logits": logits, "probs": shifted / shifted.sum(-1, keepdims=True)}
        return self._logits[name].copy()


class BlockModel:
    """(token ids → embedding, or numbers (T, E)) → each block in turn → final norm →
    (logits = y·headᵀ, where there is a head)."""

    def __init__(self, blocks: Sequence[Block], dtype, *, width: int,
                 embedding: np.ndarray | None = None, head: np.ndarray | None = None,
                 norm: Callable[[np.ndarray], np.ndarray] | None = None,
                 encoder=None, notices: Sequence[str] = (), layout: str = ""):
        self.stack = tuple(blocks)
        if not self.stack:
            raise ValueError("a block model needs at least one block")
        self.dtype = np.dtype(dtype)
        self.width = width
        for index, block in enumerate(self.stack):
            if block.width != width:
                raise ValueError(f"block {index} reads {block.width} values per step; the "
                                 f"stream is {width} wide")
        for name, a in (("embedding", embedding), ("head", head)):
            if a is not None and (a.ndim != 2 or a.shape[1] != width):
                raise ValueError(f"the {name} has shape {a.shape}; expected (V, {width})")
        self.embedding = None if embedding is None else as_float_array(embedding, "embedding",
                                                                       self.dtype)
        self.head = None if head is None else as_float_array(head, "head weight", self.dtype)
        self.norm = norm
        self.encoder = encoder  # a cells.models.Encoder over the embedding, for text
        self.notices = tuple(notices)
        self.layout = layout

    def __repr__(self) -> str:
        kinds = ", ".join(b.kind for b in self.stack)
        return (f"BlockModel({self.layout or 'blocks'}: [{kinds}], width={self.width}, "
                f"dtype={self.dtype.name})")

    @property
    def layers(self) -> int:
        return len(self.stack)

    @property
    def vocabulary(self) -> tuple[str, ...] | None:
        return None if self.encoder is None else self.encoder.vocabulary

    def info(self) -> dict:
        return {"layout": self.layout, "layers": self.layers, "width": self.width,
                "vocabulary_size": None if self.embedding is None else len(self.embedding),
                "head": None if self.head is None else {"output_size": len(self.head)},
                "dtype": self.dtype.name,
                "blocks": [{"kind": b.kind, "parts": list(b.parts),
                            "cell": {"kind": b.cell.kind, "options": dict(b.cell.options),
                                     "input_size": b.cell.input_size,
                                     "hidden_size": b.cell.hidden_size}}
                           for b in self.stack]}

    def encode(self, sequence) -> tuple[np.ndarray, np.ndarray | None, list[str] | None]:
        """(xs (T, E), token ids or None, tokens or None) for text, token ids or numbers."""
        tokens = None
        if isinstance(sequence, str):
            if self.encoder is None:
                raise ValueError("this model has no vocabulary; give token ids (or load it "
                                 "with vocabulary=, or a tokenizer.json beside it)")
            sequence, tokens = self.encoder.ids(sequence), self.encoder.split(sequence)
        a = np.asarray(sequence)
        if a.ndim == 1 and a.dtype.kind in "iu" and self.embedding is not None:
            if len(a) == 0 or a.min() < 0 or a.max() >= len(self.embedding):
                raise ValueError(f"token ids must be a non-empty sequence in "
                                 f"0..{len(self.embedding) - 1}")
            return self.embedding[a], a, tokens
        if a.ndim != 2 or a.shape[1] != self.width or len(a) == 0:
            raise ValueError(f"sequence has shape {a.shape}; give token ids (T,) to a model "
                             f"with an embedding, or numbers (T, {self.width})")
        return as_float_array(a, "sequence", self.dtype), None, None

    def run(self, sequence) -> BlockModelTrace:
        xs, ids, tokens = self.encode(sequence)
        x, stream, traces = xs, [xs], []
        for block in self.stack:
            trace = block.run(x)
            x = trace["residual"]
            traces.append(trace)
            stream.append(x)
        final = self.norm(x) if self.norm is not None else x
        return BlockModelTrace(self, xs, ids, tokens, traces, stream, final)


def tensors_named(tensors: Mapping[str, np.ndarray], prefix: str, names: Sequence[str],
                  label: str) -> dict[str, np.ndarray]:
    """tensors[prefix + name] for each name, or a ValueError naming the first missing."""
    out = {}
    for name in names:
        key = prefix + name
        if key not in tensors:
            raise ValueError(f"{label}: {key} is missing")
        out[name] = tensors[key]
    return out
