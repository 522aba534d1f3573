"""cells.train: batched truncated backprop through time with Adam and gradient clipping."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..models.model import Model
from ..params import check_size
from .adam import Adam, clip_global_norm
from .batches import examples, sequence_windows, stream_windows
from .losses import loss_and_delta
from .model_backward import backward, forward, zero_state
from .network import Network


@dataclass(frozen=True)
class TrainResult:
    model: Model  # a new model with the trained weights (the one given is not changed)
    losses: list  # [(step, mean loss of that step)]: nats for class targets, else MSE
    seconds: float  # wall time of the training loop
    # With keep_best=True: the weights that scored the lowest loss (those the step read,
    # before its update), and that step; None otherwise.
    best: Model | None = None
    best_step: int | None = None


def _positive_number(name: str, value, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
            or not np.isfinite(value) or value < 0 or (value == 0 and not allow_none):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def train(model: Model, data, *, steps: int, seq_len: int = 64, batch: int = 32,
          lr: float = 3e-3, clip: float | None = 5.0, seed: int = 0,
          on_progress: Callable[[int, float], object] | None = None,
          keep_best: bool = False) -> TrainResult:
    """Train a copy of `model` for `steps` Adam updates, one window of seq_len × batch each.

    data: text (next-token cross-entropy), or (xs, ys): xs token ids or numbers, one long
    sequence or (N, T, …) many; ys class ids (cross-entropy; negative ids not scored) or
    numbers (mean squared error). `clip`: the largest global gradient norm (None: no
    clipping). `on_progress(step, loss)` is called after every step; returning False stops.
    The same model, data, arguments and seed give the same weights bit for bit.
    keep_best: also return (`result.best`) a copy of the weights with the lowest step loss
    seen, so a run stopped early (Ctrl-C) can keep its best rather than its last."""
    if not isinstance(model, Model):
        raise ValueError(f"train needs a cells.Model (cells.char_model makes one), not "
                         f"{type(model).__name__}")
    steps = check_size("steps", steps)
    seq_len = check_size("seq_len", seq_len)
    batch = check_size("batch", batch)
    seed = check_size("seed", seed, low=0)
    lr = _positive_number("lr", lr)
    clip = _positive_number("clip", clip, allow_none=True) or None
    net = Network(model)
    inputs, targets, many = examples(net, data)
    rng = np.random.default_rng(seed)
    windows = (sequence_windows if many else stream_windows)(inputs, targets, seq_len, batch,
                                                             rng)
    optimizer = Adam(net.named(), lr=lr)
    losses = []
    best_loss, best_step, best_params = np.inf, None, None
    state = None
    began = time.perf_counter()
    for step in range(1, steps + 1):
        window = next(windows)
        B = window.inputs.shape[1]
        if window.fresh or state is None:
            state = zero_state(net, B)
        tape, state = forward(net, window.inputs, state)
        loss, delta = loss_and_delta(net, tape.prediction, window.targets)
        grads = backward(net, tape, delta)
        if keep_best and loss < best_loss:  # the weights this loss was measured with
            best_loss, best_step = loss, step
            best_params = {name: value.copy() for name, value in net.named().items()}
        clip_global_norm(grads, clip)
        optimizer.step(grads)
        net.refresh()
        losses.append((step, loss))
        if on_progress is not None and on_progress(step, loss) is False:
            break
    seconds = time.perf_counter() - began
    final = net.to_model()
    best = None
    if best_params is not None:
        for name, value in net.named().items():
            value[...] = best_params[name]
        best = net.to_model()
    return TrainResult(final, losses, seconds, best, best_step)
