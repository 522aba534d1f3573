"""For minGRU and minLSTM the path from h_s to h_t is the product of the keep valves in
between (no tanh, no matrix): ‖∂h_t[u]/∂h_s‖ = Π_{k=s+1..t} keep_k[u], exactly."""

import numpy as np
import pytest

import cells

KEEP = {"min_gru": lambda tr: 1 - tr["z"], "min_lstm": lambda tr: tr["f_norm"]}


@pytest.mark.parametrize("kind", ["min_gru", "min_lstm"])
def test_sensitivity_is_the_product_of_the_keep_valves(kind):
    cell = cells.create(kind, input_size=3, hidden_size=5, seed=4, dtype="float64")
    trace = cell.run(np.random.default_rng(4).normal(0, 1, (30, 3)))
    t, unit = 25, 2
    s = trace.sensitivity(t, unit, of="h", window=20)
    keep = KEEP[kind](trace)[:, unit]
    expected = [np.prod(keep[step + 1:t + 1]) for step in range(s["start"], t + 1)]
    np.testing.assert_allclose(s["h"], expected, rtol=1e-12, atol=1e-15)
