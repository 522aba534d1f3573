"""What the formal-language experiments share: a network's next-symbol probabilities over
a batch of token-id sequences, read in chunks so long test strings fit in memory."""

from __future__ import annotations

import numpy as np

from ..training.model_backward import forward, recorded, zero_state
from ..training.network import Network


def softmax(logits: np.ndarray) -> np.ndarray:
    z = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def probabilities(net: Network, ids: np.ndarray, state: dict | None = None,
                  chunk: int = 25, record: str | None = None):
    """ids (T, B) -> (probs (T, B, V), end state[, the recorded signal (T, B, H) of layer 0]).
    `record`: a stored signal of the first cell to return too (e.g. "c")."""
    state = zero_state(net, ids.shape[1]) if state is None else state
    probs, kept = [], []
    for begin in range(0, len(ids), chunk):
        tape, state = forward(net, ids[begin:begin + chunk], state)
        probs.append(softmax(tape.prediction))
        if record is not None:
            cell = net.layers[0]["forward"]
            kept.append(recorded(cell, tape.layers[0]["forward"], record).copy())
    out = (np.concatenate(probs), state)
    return out + (np.concatenate(kept),) if record is not None else out


def pad(texts: list[str], vocabulary: str, fill: str) -> tuple[np.ndarray, np.ndarray]:
    """Next-symbol data: inputs text[:-1], targets text[1:], padded with `fill` inputs and
    unscored (−1) targets to the longest; (N, T) each."""
    index = {ch: k for k, ch in enumerate(vocabulary)}
    T = max(len(t) for t in texts) - 1
    xs = np.full((len(texts), T), index[fill])
    ys = np.full((len(texts), T), -1)
    for k, text in enumerate(texts):
        ids = [index[ch] for ch in text]
        xs[k, :len(ids) - 1] = ids[:-1]
        ys[k, :len(ids) - 1] = ids[1:]
    return xs, ys
