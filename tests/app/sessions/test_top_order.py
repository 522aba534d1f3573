"""A frame's most likely outputs are found without sorting the whole head's row: the same
indices, in the same order (largest first, ties by index), as a stable sort of it."""

import numpy as np

from app.sessions.models import top_order


def test_the_top_k_equal_a_stable_sort_ties_included():
    rng = np.random.default_rng(0)
    for _ in range(500):
        n, k = int(rng.integers(1, 80)), int(rng.integers(1, 12))
        row = rng.integers(0, 6, n).astype(np.float32)  # many ties, at the k-th value too
        assert np.array_equal(top_order(row, k), np.argsort(-row, kind="stable")[:k]), (row, k)
    row = rng.random(50_280).astype(np.float32)
    assert np.array_equal(top_order(row, 5), np.argsort(-row, kind="stable")[:5])
