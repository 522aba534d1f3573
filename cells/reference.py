"""A plain, slow, obviously-correct step per kind, written from the equations.

No halving, no internal block order, no row buffers: the canonical parameters are cut into
their named gate blocks and each signal is computed as its equation reads. The fast loops
in cells/kinds/ are tested against this, every stored signal included. Holds (see
cells.interventions) replace a signal right after it is computed, as in the fast loops.

    frame, state = reference.step("lstm", params, x, {"h": h, "c": c})
"""

from __future__ import annotations

import numpy as np

from .kinds import check_options, spec_for


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def blocks(params: dict, letters: str) -> dict:
    """Cut the canonical (G·H, ·) arrays into their gate blocks, by letter."""
    H = params["weight_hh"].shape[1]
    out = {}
    for k, letter in enumerate(letters):
        rows = slice(k * H, (k + 1) * H)
        out[letter] = {"W_ih": params["weight_ih"][rows], "W_hh": params["weight_hh"][rows],
                       "b_ih": params["bias_ih"][rows], "b_hh": params["bias_hh"][rows]}
    return out


def _hold(frame: dict, name: str, holds: dict | None) -> np.ndarray:
    """frame[name] after the holds of this step, as the next equations must read it."""
    if holds and name in holds:
        value = frame[name].copy()
        for units, v in holds[name]:
            value[units] = v
        frame[name] = value
    return frame[name]


def _rnn(p, x, state, holds, nonlinearity):
    h_prev = state["h"]
    f = {"h_pre": p["weight_ih"] @ x + p["bias_ih"] + p["weight_hh"] @ h_prev + p["bias_hh"]}
    f["h"] = np.tanh(f["h_pre"]) if nonlinearity == "tanh" else np.maximum(f["h_pre"], 0)
    return f, {"h": _hold(f, "h", holds)}


def _lstm(p, x, state, holds, peephole=False):
    b = blocks(p, "ifgo")
    c_prev, h_prev = state["c"], state["h"]

    def affine(k):
        return b[k]["W_ih"] @ x + b[k]["b_ih"] + b[k]["W_hh"] @ h_prev + b[k]["b_hh"]

    f = {"i_pre": affine("i"), "f_pre": affine("f"), "g_pre": affine("g")}
    if peephole:
        f["i_pre"] = f["i_pre"] + p["peephole_i"] * c_prev
        f["f_pre"] = f["f_pre"] + p["peephole_f"] * c_prev
    f["i"], f["f"], f["g"] = sigmoid(f["i_pre"]), sigmoid(f["f_pre"]), np.tanh(f["g_pre"])
    i, fg, g = (_hold(f, n, holds) for n in ("i", "f", "g"))
    if not peephole:
        f["o_pre"] = affine("o")
        f["o"] = sigmoid(f["o_pre"])
        o = _hold(f, "o", holds)
    f["kept"] = fg * c_prev
    f["written"] = i * g
    f["c"] = f["kept"] + f["written"]
    c = _hold(f, "c", holds)
    if peephole:  # the output gate sees the new c_t
        f["o_pre"] = affine("o") + p["peephole_o"] * c
        f["o"] = sigmoid(f["o_pre"])
        o = _hold(f, "o", holds)
    f["tanh_c"] = np.tanh(c)
    f["h"] = o * f["tanh_c"]
    return f, {"c": c, "h": _hold(f, "h", holds)}


def _gru(p, x, state, holds, reset_after):
    b = blocks(p, "rzn")
    h_prev = state["h"]

    def affine(k, h):
        return b[k]["W_ih"] @ x + b[k]["b_ih"] + b[k]["W_hh"] @ h + b[k]["b_hh"]

    f = {"r_pre": affine("r", h_prev), "z_pre": affine("z", h_prev)}
    f["r"], f["z"] = sigmoid(f["r_pre"]), sigmoid(f["z_pre"])
    r, z = _hold(f, "r", holds), _hold(f, "z", holds)
    x_side = b["n"]["W_ih"] @ x + b["n"]["b_ih"]
    if reset_after:  # torch.nn.GRU: r scales the recurrent product
        f["n_rec"] = b["n"]["W_hh"] @ h_prev + b["n"]["b_hh"]
        f["n_rec_reset"] = r * f["n_rec"]
        f["n_pre"] = x_side + f["n_rec_reset"]
    else:  # Cho et al. 2014: r gates h_{t−1} before the matmul
        f["h_reset"] = r * h_prev
        f["n_pre"] = x_side + b["n"]["W_hh"] @ f["h_reset"] + b["n"]["b_hh"]
    f["n"] = np.tanh(f["n_pre"])
    n = _hold(f, "n", holds)
    f["kept"] = z * h_prev
    f["written"] = (1 - z) * n
    f["h"] = f["kept"] + f["written"]
    return f, {"h": _hold(f, "h", holds)}


def _prototype(p, x, state, holds, variant):
    """Written Memories (r2rt, 2016): W acts on the state read r, U on x; state s named c."""
    b = blocks(p, "ifgo")
    c_prev = state["c"]
    f = {"read": np.tanh(c_prev) if variant == "pseudo" else c_prev.copy()}
    r = _hold(f, "read", holds)

    def affine(k, read):
        return b[k]["W_hh"] @ read + b[k]["W_ih"] @ x + b[k]["b_ih"] + b[k]["b_hh"]

    for k in "ifo":
        f[f"{k}_pre"] = affine(k, r)
        f[k] = sigmoid(f[f"{k}_pre"])
    i, fg, o = (_hold(f, k, holds) for k in "ifo")
    f["read_gated"] = o * r
    f["g_pre"] = affine("g", f["read_gated"])
    f["g"] = np.tanh(f["g_pre"])
    g = _hold(f, "g", holds)
    f["kept"] = fg * c_prev
    f["written"] = i * g
    if variant == "normalized":
        f["c_raw"] = f["kept"] + f["written"]
        raw = _hold(f, "c_raw", holds)
        variance = np.mean((raw - np.mean(raw)) ** 2)  # over the H units, ddof 0
        f["c_scale"] = np.full_like(raw, np.sqrt(variance + 1))
        f["c"] = raw / f["c_scale"]
    else:
        f["c"] = f["kept"] + f["written"]
    c = _hold(f, "c", holds)
    f["h"] = np.tanh(c) if variant == "pseudo" else c.copy()
    _hold(f, "h", holds)
    return f, {"c": c}


def _positive_g(x):
    """Feng et al. 2024: x + ½ for x ≥ 0, σ(x) otherwise."""
    return np.where(x >= 0, x + 0.5, sigmoid(x))


def _min_gru(p, x, state, holds):
    """Feng et al. 2024, "Were RNNs All We Needed?": gates of x_t only; blocks n, z."""
    H = len(p["bias_ih"]) // 2
    W, b = p["weight_ih"], p["bias_ih"]
    h_prev = state["h"]
    f = {"n_pre": W[:H] @ x + b[:H], "z_pre": W[H:] @ x + b[H:]}
    f["z"] = sigmoid(f["z_pre"])
    f["n"] = _positive_g(f["n_pre"])
    z, n = _hold(f, "z", holds), _hold(f, "n", holds)
    f["kept"] = (1 - z) * h_prev
    f["written"] = z * n
    f["h"] = f["kept"] + f["written"]
    return f, {"h": _hold(f, "h", holds)}


def _min_lstm(p, x, state, holds, normalize):
    """minLSTM: blocks n, f, i; f′, i′ = f, i over f + i when normalized."""
    H = len(p["bias_ih"]) // 3
    W, b = p["weight_ih"], p["bias_ih"]
    h_prev = state["h"]
    f = {name: W[k * H:(k + 1) * H] @ x + b[k * H:(k + 1) * H]
         for k, name in enumerate(("n_pre", "f_pre", "i_pre"))}
    f["f"], f["i"] = sigmoid(f["f_pre"]), sigmoid(f["i_pre"])
    f["n"] = _positive_g(f["n_pre"])
    fg, i, n = (_hold(f, k, holds) for k in ("f", "i", "n"))
    if normalize:
        f["f_norm"], f["i_norm"] = fg / (fg + i), i / (fg + i)
        fg, i = _hold(f, "f_norm", holds), _hold(f, "i_norm", holds)
    f["kept"] = fg * h_prev
    f["written"] = i * n
    f["h"] = f["kept"] + f["written"]
    return f, {"h": _hold(f, "h", holds)}


def _slstm(p, x, state, holds, heads, stabilized=True):
    """Beck et al. 2024, xLSTM: exponential gates with a stabilizer m and a normalizer n.
    R is block-diagonal over heads: unit u is in head ⌊u·heads/H⌋. States the caller does
    not give (n, m) start at zero, as cell.run starts them."""
    b = blocks(p, "ifzo")
    H = p["weight_hh"].shape[1]
    head = np.arange(H) * heads // H
    same_head = head[:, None] == head[None, :]
    zeros = np.zeros(H)
    h_prev, c_prev = state.get("h", zeros), state.get("c", zeros)
    n_prev, m_prev = state.get("n", zeros), state.get("m", zeros)

    def raw(k):
        R = np.where(same_head, b[k]["W_hh"], 0)
        return b[k]["W_ih"] @ x + b[k]["b_ih"] + R @ h_prev + b[k]["b_hh"]

    f = {f"{k}_pre": raw(k) for k in "ifzo"}
    log_forget = -np.logaddexp(0, -f["f_pre"])  # log σ(f̃), also where exp(−f̃) overflows
    # stabilized: False keeps m at its start (the plain gates exp(ĩ), σ(f̃) from m = 0)
    f["m"] = np.maximum(f["i_pre"], m_prev + log_forget) if stabilized else m_prev.copy()
    f["i"] = np.exp(f["i_pre"] - f["m"])
    f["f"] = np.exp(m_prev + log_forget - f["m"])
    f["z"] = np.tanh(f["z_pre"])
    f["o"] = sigmoid(f["o_pre"])
    i, fg, z, o = (_hold(f, k, holds) for k in "ifzo")
    f["kept"] = fg * c_prev
    f["written"] = i * z
    f["c"] = f["kept"] + f["written"]
    f["n"] = fg * n_prev + i
    c, n = _hold(f, "c", holds), _hold(f, "n", holds)
    f["h"] = np.where(n != 0, o * c / np.where(n != 0, n, 1), 0)  # nothing written: 0
    return f, {"c": c, "n": n, "m": f["m"], "h": _hold(f, "h", holds)}


def _pseudo_diffs(p, x, state, holds, diffs):
    """Written Memories' eight architectures ("an empirical comparison"): the pseudo LSTM
    plus LSTM diffs 1 (the candidate reads the shadow h_{t−1} = o_{t−1} ⊙ tanh(c_{t−1})),
    2 (the gates read the read-gated state) and 3 (the output is read-gated). Without
    diff 1 the read gate is computed at time t (architectures 5–7)."""
    if not diffs:
        return _prototype(p, x, state, holds, "pseudo")
    b = blocks(p, "ifgo")
    c_prev = state["c"]

    def affine(k, read):
        return b[k]["W_hh"] @ read + b[k]["W_ih"] @ x + b[k]["b_ih"] + b[k]["b_hh"]

    f = {}
    if "1" in diffs:
        shadow = state["h"]  # o_{t−1} ⊙ tanh(c_{t−1}), from the step before
        if "2" in diffs:
            gates_read = shadow
        else:
            f["read"] = np.tanh(c_prev)
            gates_read = _hold(f, "read", holds)
        for k in "ifo":
            f[f"{k}_pre"] = affine(k, gates_read)
            f[k] = sigmoid(f[f"{k}_pre"])
        f["g_pre"] = affine("g", shadow)
        f["g"] = np.tanh(f["g_pre"])
        i, fg, o, g = (_hold(f, k, holds) for k in "ifog")
    else:
        f["read"] = np.tanh(c_prev)
        r = _hold(f, "read", holds)
        f["o_pre"] = affine("o", r)
        f["o"] = sigmoid(f["o_pre"])
        o = _hold(f, "o", holds)
        f["read_gated"] = o * r  # the read gate of time t
        gates_read = f["read_gated"] if "2" in diffs else r
        for k in "if":
            f[f"{k}_pre"] = affine(k, gates_read)
            f[k] = sigmoid(f[f"{k}_pre"])
        f["g_pre"] = affine("g", f["read_gated"])
        f["g"] = np.tanh(f["g_pre"])
        i, fg, g = (_hold(f, k, holds) for k in "ifg")
    f["kept"] = fg * c_prev
    f["written"] = i * g
    f["c"] = f["kept"] + f["written"]
    c = _hold(f, "c", holds)
    if "1" in diffs or "3" in diffs:
        f["tanh_c"] = np.tanh(c)
        f["h"] = o * f["tanh_c"]
    else:
        f["h"] = np.tanh(c)
    h = _hold(f, "h", holds)
    return f, ({"c": c, "h": h} if "1" in diffs else {"c": c})


def _mamba(p, x, state, holds):
    """Gu and Dao 2023, Mamba's selective-SSM mixer, one step as its equations read (mambapy's
    MambaBlock.step): state {"conv": the last K − 1 x_in (K − 1, E), "h": (E, N)}; holds set
    whole channels (all N states of one for decay and h)."""
    E, N = p["A_log"].shape
    R = p["dt_proj_weight"].shape[1]
    xz = p["in_proj_weight"] @ x + p["in_proj_bias"]
    f = {"x_in": xz[:E], "z": xz[E:]}
    taps = np.concatenate([state["conv"], f["x_in"][None]], axis=0)  # (K, E), oldest first
    f["x_conv_pre"] = np.sum(p["conv_weight"].T * taps, axis=0) + p["conv_bias"]
    f["x_conv"] = f["x_conv_pre"] * sigmoid(f["x_conv_pre"])  # SiLU
    u = _hold(f, "x_conv", holds)
    dbc = p["x_proj_weight"] @ u
    low, f["B"], f["C"] = dbc[:R], dbc[R:R + N], dbc[R + N:]
    f["delta_pre"] = p["dt_proj_weight"] @ low + p["dt_proj_bias"]
    f["delta"] = np.log1p(np.exp(f["delta_pre"]))  # softplus
    delta = _hold(f, "delta", holds)
    A = -np.exp(p["A_log"])
    f["retention"] = np.mean(delta[:, None] * A, axis=1)  # mean_n log exp(Δ A_n)
    f["write_strength"] = np.sqrt(np.sum(np.outer(delta * u, f["B"]) ** 2, axis=1))
    f["decay"] = np.exp(delta[:, None] * A)
    decay = _hold(f, "decay", holds)
    f["write"] = np.outer(delta * u, f["B"])
    f["h"] = decay * state["h"] + f["write"]
    h = _hold(f, "h", holds)
    f["y"] = h @ f["C"] + p["D"] * u
    f["gate"] = f["z"] * sigmoid(f["z"])
    gate = _hold(f, "gate", holds)
    f["out"] = p["out_proj_weight"] @ (f["y"] * gate) + p["out_proj_bias"]
    return f, {"conv": taps[1:], "h": h}


STEPS = {
    "rnn": lambda p, x, s, holds, o: _rnn(p, x, s, holds, o["nonlinearity"]),
    "lstm": lambda p, x, s, holds, o: _lstm(p, x, s, holds),
    "peephole_lstm": lambda p, x, s, holds, o: _lstm(p, x, s, holds, peephole=True),
    "gru": lambda p, x, s, holds, o: _gru(p, x, s, holds, o["reset_after"]),
    "prototype_lstm": lambda p, x, s, holds, o: _prototype(p, x, s, holds, "prototype"),
    "normalized_lstm": lambda p, x, s, holds, o: _prototype(p, x, s, holds, "normalized"),
    "pseudo_lstm": lambda p, x, s, holds, o: _pseudo_diffs(p, x, s, holds, o["diffs"]),
    "min_gru": lambda p, x, s, holds, o: _min_gru(p, x, s, holds),
    "min_lstm": lambda p, x, s, holds, o: _min_lstm(p, x, s, holds, o["normalize"]),
    "slstm": lambda p, x, s, holds, o: _slstm(p, x, s, holds, o["heads"], o["stabilized"]),
    "mamba": lambda p, x, s, holds, o: _mamba(p, x, s, holds),
}


def step(kind: str, params: dict, x: np.ndarray, state: dict, holds: dict | None = None,
         **options) -> tuple[dict, dict]:
    """One step: (frame of every computed signal, new state). `holds` as one row of
    cells.interventions.holds_for."""
    options = check_options(spec_for(kind), options)
    return STEPS[kind](params, x, state, holds, options)


def run(kind: str, params: dict, xs: np.ndarray, state: dict, interventions=(),
        **options) -> dict:
    """Every computed signal of every step: name -> (T, H), stepping `step` from `state`."""
    from .interventions import holds_for

    held = holds_for(tuple(interventions), 0, len(xs)) or [None] * len(xs)
    frames = []
    for x, holds in zip(xs, held, strict=True):
        frame, state = step(kind, params, x, state, holds, **options)
        frames.append(frame)
    return {name: np.stack([f[name] for f in frames]) for name in frames[0]}


def mlstm_step(params: dict, x: np.ndarray, state: dict, heads: int, forget: str = "sigmoid",
               output_gate: bool = True) -> tuple[dict, dict]:
    """One mLSTM step (Beck et al. 2024), head by head as the equations read; ε and the key
    scaling 1/√d as the xlstm library computes them. state: C (heads, d, d), n (heads, d),
    m (heads,), each zeros where not given. Returns (frame, new state)."""
    H = (len(params["bias_ih"]) - 2 * heads) // (4 if output_gate else 3)
    d = H // heads
    W, b = params["weight_ih"], params["bias_ih"]
    start = {"q": 0, "k": H, "v": 2 * H, "i": 3 * H, "f": 3 * H + heads, "o": 3 * H + 2 * heads}

    def rows(name, size):
        return W[start[name]:start[name] + size], b[start[name]:start[name] + size]

    C_prev = state.get("C", np.zeros((heads, d, d)))
    n_prev = state.get("n", np.zeros((heads, d)))
    m_prev = state.get("m", np.zeros(heads))
    frame = {name: [] for name in ("q", "k", "v", "i_pre", "f_pre", "m", "i", "f", "C", "n",
                                   "h_tilde")}
    for head in range(heads):
        unit = slice(head * d, (head + 1) * d)
        (Wq, bq), (Wk, bk), (Wv, bv) = (rows(name, H) for name in "qkv")
        (wi, bi), (wf, bf) = rows("i", heads), rows("f", heads)
        q = Wq[unit] @ x + bq[unit]
        k = (Wk[unit] @ x + bk[unit]) / np.sqrt(d)
        v = Wv[unit] @ x + bv[unit]
        i_pre = wi[head] @ x + bi[head]
        f_pre = wf[head] @ x + bf[head]
        log_f = -np.log1p(np.exp(-f_pre)) if forget == "sigmoid" else f_pre
        m = max(log_f + m_prev[head], i_pre)
        i = np.exp(i_pre - m)
        f = np.exp(log_f + m_prev[head] - m)
        C = f * C_prev[head] + i * np.outer(v, k)
        n = f * n_prev[head] + i * k
        h_tilde = C @ q / (max(abs(n @ q), np.exp(-m)) + 1e-6)
        for name, value in (("q", q), ("k", k), ("v", v), ("i_pre", i_pre), ("f_pre", f_pre),
                            ("m", m), ("i", i), ("f", f), ("C", C), ("n", n),
                            ("h_tilde", h_tilde)):
            frame[name].append(value)
    out = {name: (np.concatenate(v) if name in ("q", "k", "v", "h_tilde") else np.array(v))
           for name, v in frame.items()}
    if output_gate:
        Wo, bo = rows("o", H)
        out["o_pre"] = Wo @ x + bo
        out["o"] = sigmoid(out["o_pre"])
        out["h"] = out["o"] * out["h_tilde"]
    else:
        out["h"] = out["h_tilde"].copy()
    return out, {"C": out["C"], "n": out["n"], "m": out["m"]}
