"""An mLSTM trained by the engine's own gradients learns associative recall (the task its
matrix memory is made for: store key → value pairs as v kᵀ, read one back with a query):
held-out accuracy far above chance, and the check that the training gradient is the
gradient of the loss it reports."""

import numpy as np

from cells import mlstm_cell
from cells.training import mlstm_fit

KEYS, VALUES, PAIRS = 4, 4, 3


def recall_task(n: int, seed: int):
    """Each sequence: PAIRS tokens holding a key and its value (one-hot each), then a query
    token (the key of one pair and a query flag); only the last step is scored: the value
    stored under the queried key."""
    rng = np.random.default_rng(seed)
    I = KEYS + VALUES + 1
    sequences, targets = [], []
    for _ in range(n):
        keys = rng.choice(KEYS, PAIRS, replace=False)
        values = rng.integers(VALUES, size=PAIRS)
        xs = np.zeros((PAIRS + 1, I))
        xs[np.arange(PAIRS), keys] = 1
        xs[np.arange(PAIRS), KEYS + values] = 1
        asked = rng.integers(PAIRS)
        xs[-1, keys[asked]] = 1
        xs[-1, -1] = 1
        target = -np.ones(PAIRS + 1, int)
        target[-1] = values[asked]
        sequences.append(xs)
        targets.append(target)
    return sequences, targets


def test_mlstm_learns_associative_recall():
    train, held_out = recall_task(400, seed=0), recall_task(200, seed=1)
    cell = mlstm_cell.create(KEYS + VALUES + 1, 16, heads=1, seed=0, dtype="float64")
    fit = mlstm_fit.fit(cell, *train, classes=VALUES, steps=500, lr=0.02)
    right = [fit.predict(xs)[-1] == t[-1] for xs, t in zip(*held_out, strict=True)]
    assert np.mean(right) >= 0.9  # chance: 1/4
    assert np.mean(fit.losses[-100:]) < 0.2 * np.mean(fit.losses[:100])


def test_training_gradient_is_the_loss_gradient():
    (sequences, targets) = recall_task(1, seed=2)
    cell = mlstm_cell.create(KEYS + VALUES + 1, 8, heads=2, seed=3, dtype="float64")
    rng = np.random.default_rng(4)
    W, b = rng.normal(0, 0.5, (VALUES, 8)), rng.normal(0, 0.5, VALUES)
    _, grads = mlstm_fit.loss_and_gradients(cell, W, b, sequences[0], targets[0])
    eps = 1e-6
    for j in rng.choice(cell.params["weight_ih"].size, 15, replace=False):
        def loss(e, j=j):
            p = {k: v.copy() for k, v in cell.params.items()}
            p["weight_ih"].reshape(-1)[j] += e
            moved = mlstm_cell.create(params=p, dtype="float64", **cell.options)
            return mlstm_fit.loss_and_gradients(moved, W, b, sequences[0], targets[0])[0]
        numeric = (loss(eps) - loss(-eps)) / (2 * eps)
        np.testing.assert_allclose(grads["weight_ih"].reshape(-1)[j], numeric, rtol=1e-6,
                                   atol=1e-8)
