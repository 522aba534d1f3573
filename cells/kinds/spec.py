"""What every cell kind provides, and the pieces the kinds share.

A kind is a table, not a class hierarchy of math: its options, which signals it produces,
which of them are stored per step (as H-wide columns of one row buffer), how its canonical
parameters map onto an internal layout, a ``forward`` loop that fills the rows of a chunk
and a ``backward`` loop that walks them in reverse.

Row buffer: a chunk of n steps is one (n, W) array. Its first G·H columns are the
pre-activations in the kind's internal block order; they receive the input projections
x_t·W_ihᵀ + b for the whole chunk in one matmul, and ``forward`` then adds the recurrent
part step by step and writes every other stored signal into the same row. Each stored
signal is named in the kind's ``Layout``; loops unpack the columns by name.

Shapes: the loops step along the first axis and treat every signal as (…, H), so a batch
axis after the step axis, (n, B, W), needs no change to the math (for batched training).

Holds (interventions): ``forward`` and ``backward`` take, per row of the chunk, None or a
``RowHolds`` mapping a signal name to [(units, value), ...]. ``forward`` overwrites the held
units right after computing the signal (``put``), before anything downstream reads it;
``backward`` treats the held units as constants: no gradient flows from them to what they
were computed from (``cut``).
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from ..signals import Signal

RowHolds = dict  # signal name -> list of (units index, value) held at this step


def put(holds: RowHolds, name: str, row: np.ndarray) -> None:
    """Overwrite the held units of one step's signal `name` (a view into the row buffer)."""
    for units, value in holds.get(name, ()):
        row[..., units] = value


def cut(holds: RowHolds, name: str, grad: np.ndarray) -> None:
    """Zero the gradient that would flow from held units back to their inputs."""
    for units, _ in holds.get(name, ()):
        grad[..., units] = 0


def sigmoid_into(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out = σ(x), computed as ½·tanh(x/2) + ½: no overflow for large |x|, one transcendental."""
    np.multiply(x, 0.5, out=out)
    np.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out


@dataclass(frozen=True)
class Option:
    """A choice a kind offers: its allowed values (the one list of them) and its default."""

    name: str
    values: tuple
    default: object


class Layout:
    """The stored columns of a kind's row buffer, by name, each H wide.

    ``views(buf, H)`` gives a namedtuple of (n, H) column views (``cols.f``, ``cols.c``);
    ``span(buf, H, first, last)`` the contiguous (n, k·H) view from column `first` through
    `last`, for the few places one ufunc call covers several signals at once.
    """

    def __init__(self, names: Sequence[str], output: str = "h"):
        self.names = tuple(names)
        # the column a layer passes on (to the next layer or the head): h, unless the kind's
        # h is a state other than its output (a pseudo LSTM with diff 1 alone: the shadow)
        self.output = output
        self.index = {name: k for k, name in enumerate(self.names)}
        self.Columns = namedtuple("Columns", self.names)

    def __len__(self) -> int:
        return len(self.names)

    def views(self, buf: np.ndarray, H: int):
        return self.Columns(*(buf[..., k * H:(k + 1) * H] for k in range(len(self.names))))

    def span(self, buf: np.ndarray, H: int, first: str, last: str) -> np.ndarray:
        a, b = self.index[first], self.index[last]
        return buf[..., a * H:(b + 1) * H]


@dataclass
class ChunkGradients:
    """What a kind's backward pass returns for one chunk.

    d_pre: (n, G·H) gradient of the loss w.r.t. the pre-activations, internal block order;
    the input side (weight_ih, bias_ih, xs) follows from it with one matmul each.
    params: gradients of the recurrent-side parameters (canonical names and layout).
    carry: gradient w.r.t. the state before the chunk, in state_names order.
    totals: when asked for (sensitivity), per step s the gradient w.r.t. each of h_s and c_s
    (name -> (n, H)) taken as independent variables: for a kind whose state is (c, h) the
    partial derivative with the other held; where h is only a read-out of the state c
    (the prototypes), through it.
    """

    d_pre: np.ndarray
    params: dict
    carry: tuple
    totals: dict | None = None


@dataclass(frozen=True)
class Spec:
    name: str
    gate_letters: str  # canonical (PyTorch) block order, e.g. "ifgo"
    block_order: tuple[int, ...]  # internal block k is canonical block block_order[k]
    state_names: tuple[str, ...]  # e.g. ("c", "h"); the order of state tuples in the loops
    option_table: tuple[Option, ...]
    describe: Callable[..., tuple[Signal, ...]]  # (**options) -> signals in computation order
    layout: Callable[[dict], Layout]  # (options) -> stored columns
    prepare: Callable[[dict, dict, int], dict]  # (params, options, H) -> internal weights
    # (buf, state, prepared, holds per row | None) -> final state
    forward: Callable[[np.ndarray, tuple, dict, list | None], tuple]
    # (cols, state0, {"h"|"c": (n, H)}, carry, prepared, holds | None, params?, totals?)
    backward: Callable[..., ChunkGradients]
    peepholes: bool = False
    forget_letter: str | None = None  # whose bias starts at 1
    # signals that cannot be held although they are states (derived from others)
    unholdable: frozenset = field(default_factory=frozenset)
    # False for the kinds whose gates read x_t only (minGRU, minLSTM): no weight_hh, bias_hh
    recurrent: bool = True
    # (buf, state, prepared) -> final state: the same rows as forward, by a parallel scan
    parallel: Callable[[np.ndarray, tuple, dict], tuple] | None = None
    # (options, H) -> (G·H, H) bool: the entries of weight_hh that are wires (sLSTM's heads
    # make it block-diagonal); None: all of them
    recurrent_mask: Callable[[dict, int], np.ndarray] | None = None
    # (options) -> state names, for a kind whose state depends on an option (None: fixed)
    states: Callable[[dict], tuple] | None = None
    # a kind with its own cell class (signals of several widths: Mamba, mLSTM), which
    # cells.cell.create makes instead of a Cell (the cell classes import the kinds, so
    # the kinds do not name them)
    own_cell: bool = False
    # (input_size, hidden_size, options) -> its parameters as weight_edits.param_layout
    # gives them, for a kind whose parameters are not the gate-block ones
    param_layout: Callable[[int, int, dict], list] | None = None
    # (input_size, hidden_size, options) -> the size of each dimension its signals' shapes
    # name ({"E": …, "N": …}), for a kind whose signals are not all H wide
    dims: Callable[[int, int, dict], dict] | None = None

    def for_options(self, options: dict) -> Spec:
        """The Spec a cell with these options runs: its state names settled."""
        if self.states is None:
            return self
        return replace(self, state_names=self.states(options), states=None)

    @property
    def gates(self) -> int:
        return len(self.gate_letters)

    @property
    def options(self) -> dict:
        """Option name -> default."""
        return {o.name: o.default for o in self.option_table}


def permute_blocks(a: np.ndarray, order: Sequence[int], H: int) -> np.ndarray:
    """Reorder the H-row gate blocks of a (G·H, ...) array: block k of the result is order[k]."""
    return np.concatenate([a[k * H:(k + 1) * H] for k in order], axis=0)


def to_canonical(a: np.ndarray, order: Sequence[int], H: int) -> np.ndarray:
    """Undo permute_blocks(·, order): internal block k goes back to canonical block order[k]."""
    return permute_blocks(a, np.argsort(order), H)


def projection(params: dict, order: Sequence[int], H: int, bias: np.ndarray) -> dict:
    """Input weights transposed for xs @ w_ih_T, blocks in internal order, with a folded bias."""
    return {
        "w_ih_T": np.ascontiguousarray(permute_blocks(params["weight_ih"], order, H).T),
        "bias": np.ascontiguousarray(permute_blocks(bias, order, H)),
    }


def previous_rows(first: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The value before each step: `first` (…, H) then rows[:-1]; rows is (n, …, H)."""
    out = np.empty_like(rows)
    out[0] = first
    out[1:] = rows[:-1]
    return out


def joined(*views: np.ndarray) -> np.ndarray | None:
    """Column blocks side by side in one buffer (a Layout's consecutive names) as one
    (…, k·H) view, without a copy; None when they are not adjacent blocks of one array."""
    first = views[0]
    width = first.shape[-1]
    step = width * first.itemsize
    start = first.__array_interface__["data"][0]
    for k, v in enumerate(views):
        if v.shape != first.shape or v.strides != first.strides or v.dtype != first.dtype \
                or v.__array_interface__["data"][0] != start + k * step \
                or first.strides[-1] != first.itemsize \
                or any(s < step * len(views) for s in first.strides[:-1] if s):
            return None
    return np.lib.stride_tricks.as_strided(
        first, first.shape[:-1] + (width * len(views),), first.strides, writeable=False)


def as_rows(a: np.ndarray) -> np.ndarray:
    """(n, …, k) -> (n·…, k): every step (and, later, every sequence of a batch) as one row
    of the matmuls that give the weight gradients."""
    return a.reshape(-1, a.shape[-1])
