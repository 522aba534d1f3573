"""What a training step reads: windows of seq_len steps × batch sequences.

Two shapes of data:
- one long sequence (text, token ids (T,), or numbers (T, I) with targets (T, …)): it is cut
  into `batch` contiguous streams read side by side, seq_len steps at a time; each window's
  end state starts the next window (truncated backprop through time), and at the end of the
  streams an epoch starts again from zero state at a new random offset.
- many sequences ((N, T) ids or (N, T, I) numbers, targets (N, T, …)): each epoch shuffles
  them; a batch of `batch` sequences starts from zero state and is read seq_len steps at a
  time with the state carried, so seq_len ≥ T back-propagates through whole sequences.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Window:
    inputs: np.ndarray  # (n, B) ids or (n, B, I) numbers
    targets: np.ndarray  # (n, B) class ids or (n, B, O) numbers
    fresh: bool  # the state starts from zero (a new epoch or a new batch of sequences)


def _time_major(a: np.ndarray) -> np.ndarray:
    """(B, n, …) -> (n, B, …), contiguous."""
    return np.ascontiguousarray(np.swapaxes(a, 0, 1))


def stream_windows(inputs: np.ndarray, targets: np.ndarray, seq_len: int, batch: int,
                   rng: np.random.Generator) -> Iterator[Window]:
    """Endless windows over one long sequence cut into `batch` streams."""
    total = len(inputs)
    length = total // batch  # steps per stream
    if length < 1:
        raise ValueError(f"the sequence has {total} steps to learn from, fewer than batch "
                         f"{batch}; give a longer sequence or a smaller batch")
    n = min(seq_len, length)
    while True:
        offset = int(rng.integers(0, total - batch * length + 1))
        starts = offset + length * np.arange(batch)
        for begin in range(0, length - n + 1, n):
            index = starts[:, None] + begin + np.arange(n)  # (B, n)
            yield Window(_time_major(inputs[index]), _time_major(targets[index]), begin == 0)


def sequence_windows(inputs: np.ndarray, targets: np.ndarray, seq_len: int, batch: int,
                     rng: np.random.Generator) -> Iterator[Window]:
    """Endless windows over many sequences (N, T, …), `batch` at a time (all when fewer)."""
    count, steps = inputs.shape[:2]
    batch = min(batch, count)
    while True:
        order = rng.permutation(count)
        for first in range(0, count - batch + 1, batch):
            chosen = np.sort(order[first:first + batch])
            xs, ys = _time_major(inputs[chosen]), _time_major(targets[chosen])
            for begin in range(0, steps, seq_len):
                yield Window(xs[begin:begin + seq_len], ys[begin:begin + seq_len], begin == 0)


def examples(net, data) -> tuple[np.ndarray, np.ndarray, bool]:
    """(inputs, targets, many) from what train() was given, checked against the model.

    text -> next-token ids; (xs, ys): xs token ids or numbers, ys class ids or numbers.
    `many` says the first axis counts sequences."""
    encoder = net.encoder
    if isinstance(data, str):
        if net.bidirectional:
            raise ValueError("a bidirectional model sees the next character, so it cannot "
                             "learn to predict it; train it on (xs, ys) pairs")
        ids = encoder.ids(data)
        if len(ids) < 2:
            raise ValueError("text needs at least 2 tokens: one to read, one to predict")
        if net.head_weight is None or net.head_weight.shape[0] != encoder.size:
            raise ValueError("training on text needs a head with one output per vocabulary "
                             "token (cells.char_model makes one)")
        return ids[:-1], ids[1:], False
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise ValueError("give text (a str) or a pair (xs, ys) of inputs and targets")
    xs, ys = np.asarray(data[0]), np.asarray(data[1])
    if encoder.encoding == "numbers":
        if xs.dtype.kind not in "fiu" or xs.ndim not in (2, 3) \
                or xs.shape[-1] != encoder.width:
            raise ValueError(f"xs has shape {xs.shape}; this model reads numbers (T, "
                             f"{encoder.width}) or (N, T, {encoder.width})")
        if not np.isfinite(xs).all():
            raise ValueError("xs contains NaN or Inf")
        xs = xs.astype(net.dtype)
        many = xs.ndim == 3
    else:
        if xs.dtype.kind not in "iu" or xs.ndim not in (1, 2):
            raise ValueError(f"xs has shape {xs.shape} and dtype {xs.dtype}; this model reads "
                             f"token ids (T,) or (N, T)")
        if xs.size and (xs.min() < 0 or xs.max() >= encoder.size):
            raise ValueError(f"xs has token ids outside 0..{encoder.size - 1}")
        many = xs.ndim == 2
    lead = xs.shape[:2] if many else xs.shape[:1]
    if xs.size == 0:
        raise ValueError("xs is empty")
    if ys.dtype.kind in "iu":
        if ys.shape != lead:
            raise ValueError(f"class targets ys have shape {ys.shape}; expected {lead}")
        if ys.max() >= _outputs(net):
            raise ValueError(f"ys has class ids beyond the model's {_outputs(net)} outputs")
    elif ys.dtype.kind == "f":
        expected = lead + (_outputs(net),)
        if ys.shape != expected:
            raise ValueError(f"number targets ys have shape {ys.shape}; expected {expected}")
        if not np.isfinite(ys).all():
            raise ValueError("ys contains NaN or Inf")
        ys = ys.astype(net.dtype)
    else:
        raise ValueError(f"ys must hold class ids (integers) or numbers, not {ys.dtype}")
    return xs, ys, many


def _outputs(net) -> int:
    if net.head_weight is not None:
        return net.head_weight.shape[0]
    return sum(c.hidden_size for c in net.layers[-1].values())
