"""Residual blocks: a recurrent cell in a box of non-recurrent parts, and a stack of them.

The language models built from the cells after the LSTM (xLSTM, Mamba) are not a chain of
cells: each block normalizes the residual stream, projects it up, convolves it along time,
runs the cell, gates, projects down and adds the result back. A `Block` is that box: its
`run(x)` takes the residual stream (T, E) and returns a `BlockTrace` holding the cell's
trace and every non-recurrent intermediate, by name, in computation order (the diagram
draws them as one box around the cell; the page reads them like any signal).

A block kind needs: `kind` (a name), `cell` (the recurrent cell drawn inside), `width`
(E), `parts` (the names of its intermediates, in order) and `run(x) -> BlockTrace`.
`BlockModel` is embedding → blocks → final norm → head, the published LM layout.

The pieces (layer_norm, rms_norm, causal_conv, silu, gelu, ...) are NumPy, as every block
kind computes them, written once here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from ..params import as_float_array


# -- the pieces ------------------------------------------------------------------------------
def layer_norm(x: np.ndarray, weight: np.ndarray | None, bias: np.ndarray | None = None,
               eps: float = 1e-5) -> np.ndarray:
    """torch.nn.functional.layer_norm over the last axis (biased variance)."""
    mean = x.mean(-1, keepdims=True)
    centred = x - mean
    out = centred / np.sqrt((centred * centred).mean(-1, keepdims=True) + eps)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


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
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * weight


def causal_conv(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None,
                state: np.ndarray | None = None) -> np.ndarray:
    """Depthwise causal convolution along time, as nn.Conv1d(groups=C, padding=K−1) with
    the last K−1 outputs cut: y_t[c] = Σ_j weight[c, j]·x_{t−K+1+j}[c] + bias[c].
    x (T, C), weight (C, K); `state` (K−1, C): the inputs before x (zeros by default)."""
    C, K = weight.shape
    before = np.zeros((K - 1, C), x.dtype) if state is None else state
    padded = np.concatenate([before, x])  # (T + K − 1, C)
    y = np.zeros_like(x)
    for j in range(K):
        y += weight[:, j] * padded[j:j + len(x)]
    return y if bias is None else y + bias


def linear(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    """nn.Linear: x·Wᵀ + b."""
    y = x @ weight.T
    return y if bias is None else y + bias


def silu(x: np.ndarray) -> np.ndarray:
    return x * (0.5 * np.tanh(0.5 * x) + 0.5)


_erf = np.frompyfunc(math.erf, 1, 1)


def gelu(x: np.ndarray) -> np.ndarray:
    """The exact GELU, x·Φ(x) (torch's default, not the tanh approximation)."""
    return x * 0.5 * (1 + _erf(x / np.sqrt(2)).astype(x.dtype))


ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "gelu": gelu,
    "relu": lambda x: np.maximum(x, 0),
    "relu^2": lambda x: np.square(np.maximum(x, 0)),
    "sigmoid": lambda x: 0.5 * np.tanh(0.5 * x) + 0.5,
    "swish": silu,
    "silu": silu,
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


@dataclass(frozen=True)
class TokenHead:
    """Embedding in, logits out: the token ends of a block model."""

    embedding: np.ndarray  # (V, E)
    head: np.ndarray  # (V, E): logits = y·headᵀ (the embedding itself when tied)
    norm: Callable[[np.ndarray], np.ndarray] | None = None  # the final norm, None: identity


@dataclass
class BlockModelTrace:
    model: BlockModel
    ids: np.ndarray  # (T,)
    blocks: list[BlockTrace]
    stream: list[np.ndarray]  # the residual stream before each block, then after the last
    final: np.ndarray  # (T, E) after the final norm
    _logits: dict = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.ids)

    def block(self, index: int) -> BlockTrace:
        return self.blocks[index]

    @property
    def names(self) -> tuple[str, ...]:
        return ("logits", "probs")

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self.names:
            raise ValueError(f"unknown output {name!r}: a block model has logits and probs")
        if "logits" not in self._logits:
            logits = self.final @ self.model.ends.head.T  # (T, V)
            shifted = np.exp(logits - logits.max(-1, keepdims=True))
            self._logits = {"logits": logits, "probs": shifted / shifted.sum(-1, keepdims=True)}
        return self._logits[name].copy()


class BlockModel:
    """Token ids → embedding → each block in turn → final norm → logits."""

    def __init__(self, blocks: Sequence[Block], ends: TokenHead, dtype,
                 vocabulary: Sequence[str] | None = None, notices: Sequence[str] = (),
                 layout: str = ""):
        self.stack = tuple(blocks)
        if not self.stack:
            raise ValueError("a block model needs at least one block")
        self.dtype = np.dtype(dtype)
        width = ends.embedding.shape[1]
        for index, block in enumerate(self.stack):
            if block.width != width:
                raise ValueError(f"block {index} reads {block.width} values per step; the "
                                 f"embedding gives {width}")
        if ends.head.shape[1] != width:
            raise ValueError(f"the head reads {ends.head.shape[1]} values; the blocks give "
                             f"{width}")
        self.ends = TokenHead(as_float_array(ends.embedding, "embedding", self.dtype),
                              as_float_array(ends.head, "head weight", self.dtype), ends.norm)
        self.vocabulary = tuple(vocabulary) if vocabulary is not None else None
        self.notices = tuple(notices)
        self.layout = layout

    def __repr__(self) -> str:
        kinds = ", ".join(b.kind for b in self.stack)
        return (f"BlockModel({self.layout or 'blocks'}: [{kinds}], width={self.width}, "
                f"vocabulary={self.vocabulary_size}, dtype={self.dtype.name})")

    @property
    def layers(self) -> int:
        return len(self.stack)

    @property
    def width(self) -> int:
        return self.ends.embedding.shape[1]

    @property
    def vocabulary_size(self) -> int:
        return self.ends.embedding.shape[0]

    def info(self) -> dict:
        return {"layout": self.layout, "layers": self.layers, "width": self.width,
                "vocabulary_size": self.vocabulary_size, "dtype": self.dtype.name,
                "blocks": [{"kind": b.kind, "parts": list(b.parts),
                            "cell": {"kind": b.cell.kind, "options": dict(b.cell.options),
                                     "input_size": b.cell.input_size,
                                     "hidden_size": b.cell.hidden_size}}
                           for b in self.stack]}

    def ids_of(self, sequence) -> np.ndarray:
        if isinstance(sequence, str):
            if self.vocabulary is None:
                raise ValueError("this model has no vocabulary; give token ids")
            index = {token: k for k, token in enumerate(self.vocabulary)}
            unknown = sorted({ch for ch in sequence if ch not in index})
            if unknown:
                raise ValueError(f"characters not in the vocabulary: {unknown[:10]}")
            return np.array([index[ch] for ch in sequence])
        ids = np.asarray(sequence)
        if ids.ndim != 1 or ids.dtype.kind not in "iu" or len(ids) == 0:
            raise ValueError(f"give token ids as a non-empty (T,) integer array, got shape "
                             f"{ids.shape} of {ids.dtype}")
        if ids.min() < 0 or ids.max() >= self.vocabulary_size:
            raise ValueError(f"token ids must lie in 0..{self.vocabulary_size - 1}")
        return ids

    def run(self, sequence) -> BlockModelTrace:
        ids = self.ids_of(sequence)
        x = self.ends.embedding[ids]  # (T, E)
        stream, traces = [x], []
        for block in self.stack:
            trace = block.run(x)
            x = trace["residual"]
            traces.append(trace)
            stream.append(x)
        final = self.ends.norm(x) if self.ends.norm is not None else x
        return BlockModelTrace(self, ids, traces, stream, final)


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
