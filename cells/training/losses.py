"""The two losses: cross-entropy over a softmax head (text: the next token; or class ids
per step) and mean squared error (number sequences). Each returns the mean loss and its
gradient with respect to the prediction (the head's logits, or the last layer's output
when there is no head)."""

from __future__ import annotations

import numpy as np

IGNORE = -1  # a class target below 0 is not scored (a step with nothing to predict)


def cross_entropy(logits: np.ndarray, targets: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean −log softmax(logits)[target] in nats over the scored steps; logits (n, B, O),
    targets (n, B) ids. Gradient: (softmax − one-hot) / count on scored steps, 0 elsewhere."""
    scored = targets >= 0
    count = int(scored.sum())
    if count == 0:
        raise ValueError("no step has a target to score (every class id is negative)")
    shifted = logits - logits.max(axis=-1, keepdims=True)
    probs = np.exp(shifted)  # (n, B, O); divided by the total in place below
    total = probs.sum(axis=-1, keepdims=True)
    probs /= total
    safe = np.where(scored, targets, 0)
    picked = np.take_along_axis(shifted, safe[..., None], axis=-1)[..., 0]  # (n, B)
    log_total = np.log(total[..., 0])
    loss = float(((log_total - picked) * scored).sum(dtype=np.float64) / count)
    delta = probs
    np.put_along_axis(delta, safe[..., None],
                      np.take_along_axis(delta, safe[..., None], axis=-1) - 1, axis=-1)
    delta *= (scored / count).astype(delta.dtype)[..., None]
    return loss, delta


def mean_squared_error(prediction: np.ndarray, targets: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean over every step, sequence and output of (prediction − target)²."""
    diff = prediction - targets
    loss = float(np.square(diff).mean(dtype=np.float64))
    return loss, diff * np.asarray(2.0 / diff.size, diff.dtype)


def is_classes(targets: np.ndarray) -> bool:
    return targets.dtype.kind in "iu"


def loss_and_delta(net, prediction: np.ndarray, targets: np.ndarray) -> tuple[float, np.ndarray]:
    if is_classes(targets):
        if net.head_weight is None or net.head_activation == "sigmoid":
            raise ValueError("class targets need a model with a softmax (or linear) head")
        return cross_entropy(prediction, targets)
    if net.head_activation not in (None, "linear"):
        raise ValueError(f"number targets are fitted by mean squared error on a linear head "
                         f"or the last layer's output; this model's head is "
                         f"{net.head_activation}: give class ids as targets")
    return mean_squared_error(prediction, targets)
