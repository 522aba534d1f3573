"""Training an mLSTM with a linear read-out, in NumPy: the engine's own gradients
(cells.mlstm_cell, backward through the recorded memory) and Adam.

    fit = mlstm_fit.fit(cell, sequences, targets, steps=500)
    fit.cell, fit.head_weight, fit.head_bias, fit.losses

Each step takes one sequence xs (T, I) at random; logits_t = W·h_t + b; the loss is the
mean cross-entropy over the steps whose target is not −1 (so a task may score only its
last step, as associative recall does).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import mlstm_cell
from .adam import Adam, clip_global_norm


@dataclass
class MLSTMFit:
    cell: object
    head_weight: np.ndarray  # (O, H)
    head_bias: np.ndarray  # (O,)
    losses: list[float]

    def predict(self, xs: np.ndarray) -> np.ndarray:
        """(T,) the most likely class at every step."""
        return np.argmax(self.cell.run(xs)["h"] @ self.head_weight.T + self.head_bias, axis=1)


def loss_and_gradients(cell, W: np.ndarray, b: np.ndarray, xs: np.ndarray,
                       targets: np.ndarray) -> tuple[float, dict]:
    """Mean cross-entropy over the scored steps and its gradient for every parameter."""
    trace = cell.run(xs)
    h = trace["h"]
    logits = h @ W.T + b
    logits -= logits.max(axis=1, keepdims=True)
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    scored = targets >= 0
    count = max(1, int(scored.sum()))
    loss = -float(np.log(probs[scored, targets[scored]]).sum()) / count
    d_logits = probs
    d_logits[scored, targets[scored]] -= 1
    d_logits[~scored] = 0
    d_logits /= count
    g = trace.backward({"h": d_logits @ W})
    return loss, {"weight_ih": g.params["weight_ih"], "bias_ih": g.params["bias_ih"],
                  "head_weight": d_logits.T @ h, "head_bias": d_logits.sum(0)}


def fit(cell, sequences, targets, classes: int, steps: int = 500, lr: float = 1e-2,
        seed: int = 0, clip: float | None = 1.0) -> MLSTMFit:
    """Adam on the cell's weights and a linear head of `classes` outputs."""
    rng = np.random.default_rng(seed)
    params = {k: v.copy() for k, v in cell.params.items()}
    bound = 1 / np.sqrt(cell.hidden_size)
    params["head_weight"] = rng.uniform(-bound, bound, (classes, cell.hidden_size)).astype(
        cell.dtype)
    params["head_bias"] = np.zeros(classes, cell.dtype)
    adam = Adam(params, lr=lr)
    losses = []
    for _ in range(steps):
        k = int(rng.integers(len(sequences)))
        current = mlstm_cell.create(params={n: params[n] for n in ("weight_ih", "bias_ih")},
                                    dtype=cell.dtype, **cell.options)
        loss, grads = loss_and_gradients(current, params["head_weight"], params["head_bias"],
                                         np.asarray(sequences[k], cell.dtype),
                                         np.asarray(targets[k]))
        clip_global_norm(grads, clip)
        adam.step(grads)
        losses.append(loss)
    trained = mlstm_cell.create(params={n: params[n] for n in ("weight_ih", "bias_ih")},
                                dtype=cell.dtype, **cell.options)
    return MLSTMFit(trained, params["head_weight"], params["head_bias"], losses)
