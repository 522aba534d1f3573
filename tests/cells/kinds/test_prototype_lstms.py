"""The prototype, normalized and pseudo LSTMs of Written Memories (r2rt, 2016) against
their equations, written here step by step from the article (state s named c; W acts on
the state read, U on x)."""

import numpy as np
import pytest

import cells
from tests.support import close


def sigma(z):
    return 1 / (1 + np.exp(-z))


def reference(variant, p, xs, c0):
    """The article's equations in float64, gate blocks i, f, g, o as in the LSTM layout."""
    H = len(c0)
    W = {k: p["weight_hh"][n * H:(n + 1) * H].astype(np.float64) for n, k in enumerate("ifgo")}
    U = {k: p["weight_ih"][n * H:(n + 1) * H].astype(np.float64) for n, k in enumerate("ifgo")}
    b = {k: (p["bias_ih"] + p["bias_hh"].astype(np.float64))[n * H:(n + 1) * H]
         for n, k in enumerate("ifgo")}
    s = c0.astype(np.float64)
    rows = []
    for x in xs.astype(np.float64):
        r = np.tanh(s) if variant == "pseudo" else s  # the pseudo LSTM squashes every read
        i = sigma(W["i"] @ r + U["i"] @ x + b["i"])
        o = sigma(W["o"] @ r + U["o"] @ x + b["o"])
        f = sigma(W["f"] @ r + U["f"] @ x + b["f"])
        cand = np.tanh(W["g"] @ (o * r) + U["g"] @ x + b["g"])
        s_new = f * s + i * cand
        row = {"i": i, "f": f, "o": o, "g": cand, "read": r, "read_gated": o * r, "c_prev": s}
        if variant == "normalized":
            row["c_raw"] = s_new
            s_new = s_new / np.sqrt(np.mean((s_new - s_new.mean()) ** 2) + 1)
        s = s_new
        row["c"] = s
        row["h"] = np.tanh(s) if variant == "pseudo" else s
        rows.append(row)
    return rows


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("variant", ["prototype", "normalized", "pseudo"])
def test_prototype_cell_follows_its_equations(variant, dtype):
    rng = np.random.default_rng(4)
    I, H, T = 3, 6, 40
    cell = cells.create(f"{variant}_lstm", input_size=I, hidden_size=H, seed=9, dtype=dtype)
    params = {k: rng.uniform(-0.8, 0.8, v.shape).astype(dtype) for k, v in cell.params.items()}
    cell = cells.create(f"{variant}_lstm", params=params, dtype=dtype)
    xs = rng.normal(0, 1, (T, I)).astype(dtype)
    c0 = rng.normal(0, 0.5, H).astype(dtype)
    trace = cell.run(xs, c0=c0)
    for t, row in enumerate(reference(variant, params, xs, c0)):
        for name, value in row.items():
            close(trace[name][t], value, dtype, err_msg=f"{variant} {name} at t={t}")


def test_normalized_state_is_bounded_where_prototype_grows():
    """The normalisation is a soft bound: with the forget gate open and writes always on,
    the prototype's state grows each step while the normalized one stays small."""
    H, I = 4, 2
    p = {"weight_ih": np.zeros((4 * H, I)), "weight_hh": np.zeros((4 * H, H)),
         "bias_ih": np.concatenate([np.full(H, 8.0), np.full(H, 8.0),
                                    np.linspace(-3, 3, H), np.zeros(H)]),
         "bias_hh": np.zeros(4 * H)}
    xs = np.zeros((200, I))
    proto = cells.create("prototype_lstm", params=p, dtype="float64").run(xs)["c"]
    norm = cells.create("normalized_lstm", params=p, dtype="float64").run(xs)["c"]
    assert np.abs(proto[-1]).max() > 100
    assert np.abs(norm).max() < 10
    assert np.abs(cells.create("pseudo_lstm", params=p, dtype="float64").run(xs)["h"]).max() <= 1
