"""What every cell kind provides, and the pieces the kinds share.

A kind is a table, not a class hierarchy of math: which signals it produces, which of them
are stored per step (as H-wide columns of one row buffer), how its canonical parameters map
onto an internal layout, and one ``recur`` loop that fills the rows of a chunk.

Row buffer: a chunk of n steps is one (n, W) array. Its first G·H columns receive the input
projections x_t·W_ihᵀ + b for the whole chunk in one matmul; ``recur`` then adds the
recurrent part step by step and writes every other stored signal into the same row. Each
stored signal is the column slice ``[k·H, (k+1)·H)`` of the k-th name in ``stored``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .signals import Signal


def sigmoid_into(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out = σ(x), computed as ½·tanh(x/2) + ½: no overflow for large |x|, one transcendental."""
    np.multiply(x, 0.5, out=out)
    np.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out


@dataclass(frozen=True)
class Spec:
    name: str
    gate_letters: str  # canonical (PyTorch) block order, e.g. "ifgo"
    state_names: tuple[str, ...]  # e.g. ("c", "h"); the order of state tuples in recur
    options: dict  # option name -> default
    describe: Callable[..., tuple[Signal, ...]]  # (**options) -> signals in computation order
    stored: Callable[[dict], tuple[str, ...]]  # (options) -> stored column names
    prepare: Callable[[dict, dict, int], dict]  # (params, options, H) -> internal weights
    recur: Callable[[np.ndarray, tuple, dict], tuple]  # (buf, state, prepared) -> final state
    peepholes: bool = False
    forget_letter: str | None = None  # whose bias starts at 1

    @property
    def gates(self) -> int:
        return len(self.gate_letters)


def permute_blocks(a: np.ndarray, order: list[int], H: int) -> np.ndarray:
    """Reorder the H-row gate blocks of a (G·H, ...) array: block k of the result is order[k]."""
    return np.concatenate([a[k * H:(k + 1) * H] for k in order], axis=0)


def projection(params: dict, order: list[int], H: int, bias: np.ndarray) -> dict:
    """Input weights transposed for xs @ w_ih_T, blocks in internal order, with a folded bias."""
    return {
        "w_ih_T": np.ascontiguousarray(permute_blocks(params["weight_ih"], order, H).T),
        "bias": np.ascontiguousarray(permute_blocks(bias, order, H)),
    }
