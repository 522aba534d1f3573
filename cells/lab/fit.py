"""cells.train's loop (the same Network, windows, Adam and clipping, cells/training) with
a held-out score every `every` steps: the lab's trials report the best score seen, as
Written Memories reports "the minimum epoch validation loss", and keep those weights."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from ..training.adam import Adam, clip_global_norm
from ..training.batches import Window, examples, sequence_windows, stream_windows
from ..training.losses import loss_and_delta
from ..training.model_backward import backward, forward, zero_state
from ..training.network import Network


@dataclass
class Fitted:
    best_score: float  # the lowest held-out score
    best_step: int
    best: object  # a cells.Model with the weights that scored it
    curve: list  # [[step, mean training loss since the last score, held-out score]]


def fit(model, data, *, steps: int, seq_len: int, batch: int, lr: float, seed: int,
        score: Callable[[Network], float], every: int, clip: float | None = 5.0,
        patience: int | None = None, on_step: Callable[[int], object] | None = None,
        windows: Iterator[Window] | None = None, lr_end: float | None = None) -> Fitted:
    """Train a copy of `model` on `data` (as cells.train takes it); every `every` steps (and
    at the end) call `score(net)` (lower is better). `patience`: stop after that many
    scores without a new best (Written Memories: "cut short if the loss does not fall
    after 2 epochs"). `windows`: the batches to read instead of those cut from `data` (a
    curriculum, say; data is then None); `lr_end`: the learning rate decays exponentially
    from `lr` at the first step to `lr_end` at the last."""
    net = Network(model)
    if windows is None:
        inputs, targets, many = examples(net, data)
        rng = np.random.default_rng(seed)
        windows = (sequence_windows if many else stream_windows)(inputs, targets, seq_len,
                                                                 batch, rng)
    optimizer = Adam(net.named(), lr=lr)
    curve, losses, state = [], [], None
    best_score, best_step, best_params, since_best = np.inf, 0, None, 0
    for step in range(1, steps + 1):
        window = next(windows)
        if lr_end is not None:
            optimizer.lr = lr * (lr_end / lr) ** ((step - 1) / max(steps - 1, 1))
        if window.fresh or state is None:
            state = zero_state(net, window.inputs.shape[1])
        tape, state = forward(net, window.inputs, state)
        loss, delta = loss_and_delta(net, tape.prediction, window.targets)
        grads = backward(net, tape, delta)
        clip_global_norm(grads, clip)
        optimizer.step(grads)
        net.refresh()
        losses.append(loss)
        if on_step is not None:
            on_step(step)
        if step % every == 0 or step == steps:
            value = float(score(net))
            curve.append([step, float(np.mean(losses)), value])
            losses = []
            if value < best_score:
                best_score, best_step, since_best = value, step, 0
                best_params = {k: v.copy() for k, v in net.named().items()}
            else:
                since_best += 1
                if patience is not None and since_best >= patience:
                    break
    for k, v in net.named().items():
        v[...] = best_params[k]
    return Fitted(float(best_score), best_step, net.to_model(), curve)


def stream_loss(net: Network, ids: np.ndarray, streams: int, seq_len: int) -> float:
    """Mean cross-entropy (nats per token) of next-token prediction over one long id
    sequence, read as `streams` side-by-side streams with the state carried: the whole
    held-out text, no sampling, so the same weights always score the same."""
    length = (len(ids) - 1) // streams
    starts = length * np.arange(streams)
    state, total, count = zero_state(net, streams), 0.0, 0
    for begin in range(0, length, seq_len):
        n = min(seq_len, length - begin)
        index = starts[None, :] + begin + np.arange(n)[:, None]  # (n, B)
        tape, state = forward(net, ids[index], state)
        loss, _ = loss_and_delta(net, tape.prediction, ids[index + 1])
        total += loss * index.size
        count += index.size
    return total / count
