"""Mamba's mixer over a stretch of steps: forward (step by step or by a parallel scan),
backward, and the hidden attention. Plain functions of arrays; the cell and its trace
(mamba_cell.py) decide which steps to compute and what to keep.

Everything but the state recurrence is computed for all steps of a stretch at once (the
projections, the conv, Δ, B, C, the gates); the recurrence h_t = decay_t ⊙ h_{t−1} + write_t
runs in blocks of BLOCK steps, each block's decay and write made in one go, so a stretch
holds at most BLOCK steps of E × N values. The state before every block is a checkpoint:
the trace keeps those and recomputes the E × N signals of any window from them, in the
same blocks, so a recomputed window is bit-for-bit the first computation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .min_gru import scan_by_doubling
from .spec import cut

BLOCK = 64  # steps per block of the recurrence (and between two checkpoints of h)
# Recomputed from the kept signals when read (elementwise, or one small matmul): a trace
# keeps x_in, z, x_conv, delta, B, C, y and out per step, half of what it would otherwise
DERIVED = ("x_conv_pre", "delta_pre", "retention", "write_strength", "gate")
SEGMENT = 16  # steps per segment of the "log" scan (pairwise within, carried between)


def silu(x: np.ndarray) -> np.ndarray:
    return x / (1 + np.exp(-x))


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * np.tanh(0.5 * x) + 0.5


def silu_slope(x: np.ndarray) -> np.ndarray:
    """d SiLU(x)/dx = σ(x)·(1 + x·(1 − σ(x)))."""
    s = sigmoid(x)
    return s * (1 + x * (1 - s))


def softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0, x)


@dataclass(frozen=True)
class Weights:
    """The canonical parameters cut as the computation reads them (A = −exp(A_log))."""

    w_in_T: np.ndarray  # (I, 2E)
    b_in: np.ndarray  # (2E,)
    conv_w: np.ndarray  # (E, K)
    conv_b: np.ndarray  # (E,)
    w_x_T: np.ndarray  # (E, R + 2N)
    w_dt_T: np.ndarray  # (R, E)
    b_dt: np.ndarray  # (E,)
    A: np.ndarray  # (E, N)
    D: np.ndarray  # (E,)
    w_out_T: np.ndarray  # (E, H)
    b_out: np.ndarray  # (H,)
    R: int
    N: int


def weights(params: dict) -> Weights:
    E, N = params["A_log"].shape
    R = params["dt_proj_weight"].shape[1]
    return Weights(
        np.ascontiguousarray(params["in_proj_weight"].T), params["in_proj_bias"],
        params["conv_weight"], params["conv_bias"],
        np.ascontiguousarray(params["x_proj_weight"].T),
        np.ascontiguousarray(params["dt_proj_weight"].T), params["dt_proj_bias"],
        -np.exp(params["A_log"]), params["D"],
        np.ascontiguousarray(params["out_proj_weight"].T), params["out_proj_bias"], R, N)


def hold_rows(holds, name: str, rows: np.ndarray) -> None:
    """Apply the holds of `name` to the per-step rows (n, E, …): units are channels."""
    for j, held in enumerate(holds or ()):
        if held is not None and name in held:
            for units, value in held[name]:
                rows[j][units] = value


def conv_window(conv0: np.ndarray, x_in: np.ndarray) -> np.ndarray:
    """(K − 1 + n, E): the delay line before the stretch, then its x_in."""
    return np.concatenate([conv0, x_in], axis=0)


def inputs_side(w: Weights, xs: np.ndarray, conv0: np.ndarray, holds=None) -> dict:
    """Every per-step signal that needs no state: name -> (n, ·) arrays, holds applied."""
    n, E = len(xs), w.A.shape[0]
    K = w.conv_w.shape[1]
    xz = xs @ w.w_in_T + w.b_in  # (n, 2E)
    s = {"x_in": np.ascontiguousarray(xz[:, :E]), "z": np.ascontiguousarray(xz[:, E:])}
    line = conv_window(conv0, s["x_in"])  # (K − 1 + n, E)
    pre = np.broadcast_to(w.conv_b, (n, E)).copy()
    for k in range(K):  # tap k reads x_in_{t−K+1+k}
        pre += w.conv_w[:, k] * line[k:k + n]
    s["x_conv_pre"] = pre
    s["x_conv"] = silu(pre)
    hold_rows(holds, "x_conv", s["x_conv"])
    dbc = s["x_conv"] @ w.w_x_T  # (n, R + 2N)
    s["B"] = np.ascontiguousarray(dbc[:, w.R:w.R + w.N])
    s["C"] = np.ascontiguousarray(dbc[:, w.R + w.N:])
    s["delta_pre"] = dbc[:, :w.R] @ w.w_dt_T + w.b_dt
    s["delta"] = softplus(s["delta_pre"])
    hold_rows(holds, "delta", s["delta"])
    s["retention"] = s["delta"] * w.A.mean(axis=1)  # mean_n log exp(Δ A_n)
    s["write_strength"] = np.abs(s["delta"] * s["x_conv"]) * np.linalg.norm(s["B"], axis=1,
                                                                          keepdims=True)
    s["gate"] = silu(s["z"])
    hold_rows(holds, "gate", s["gate"])
    return s


def block_terms(w: Weights, s: dict, a: int, b: int, holds=None):
    """decay and write of steps [a, b) of the stretch, (b − a, E, N) each, holds applied."""
    delta = s["delta"][a:b]
    decay = np.exp(delta[:, :, None] * w.A)
    hold_rows(holds[a:b] if holds else None, "decay", decay)
    write = (delta * s["x_conv"][a:b])[:, :, None] * s["B"][a:b, None, :]
    return decay, write


def block_states(w: Weights, s: dict, a: int, b: int, h: np.ndarray, holds=None,
                 method: str | bool = False):
    """(decay, write, h) of steps [a, b), from h before a: step by step, or by a scan
    (method "doubling" or "log"; no holds)."""
    decay, write = block_terms(w, s, a, b, holds)
    if not method:
        hs = np.empty_like(write)
        rows = holds[a:b] if holds else None
        for j in range(b - a):
            h = np.add(np.multiply(decay[j], h, out=hs[j]), write[j], out=hs[j])
            if rows is not None and rows[j] is not None:
                put_channels(rows[j], "h", hs[j])
    elif method == "log":
        hs = scan_by_segments(s["delta"][a:b], w.A, write, h)
    else:
        hs = scan_by_doubling(decay.copy(), write.copy(), h)
    return decay, write, hs


def put_channels(held: dict, name: str, value: np.ndarray) -> None:
    for units, v in held.get(name, ()):
        value[units] = v


def scan_by_segments(delta: np.ndarray, A: np.ndarray, write: np.ndarray,
                     h0: np.ndarray) -> np.ndarray:
    """h of the recurrence in closed form by cumulative log-decay, SEGMENT steps at a time:
    within a segment h_t = exp(c_t − c_{a−1})·h_{a−1} + Σ_{a≤s≤t} exp(c_t − c_s)·write_s with
    c the running sum of Δ ⊗ A (log-decay); every exponent is ≤ 0, so nothing overflows,
    and the segment's last h starts the next."""
    n = len(write)
    out = np.empty_like(write)
    h = h0
    for a in range(0, n, SEGMENT):
        b = min(n, a + SEGMENT)
        c = np.cumsum(delta[a:b, :, None] * A, axis=0)  # (L, E, N), log of Π decay
        gap = c[:, None] - c[None, :]  # (t, s, E, N): c_t − c_s
        causal = np.tril(np.ones((b - a, b - a), bool))[:, :, None, None]
        weights_ts = np.where(causal, np.exp(np.where(causal, gap, 0)), 0)
        out[a:b] = np.einsum("tsen,sen->ten", weights_ts, write[a:b]) + np.exp(c) * h
        h = out[b - 1]
    return out


def read_out(w: Weights, s: dict, hs: np.ndarray, a: int, b: int) -> np.ndarray:
    """y of steps [a, b): h_t·C_t + D ⊙ u_t."""
    return np.einsum("ten,tn->te", hs, s["C"][a:b]) + w.D * s["x_conv"][a:b]


def forward(w: Weights, xs: np.ndarray, conv0: np.ndarray, h0: np.ndarray, holds=None,
            method: str | bool = False, on_block=None) -> tuple[dict, list, np.ndarray]:
    """Every stored signal of a stretch (name -> (n, ·)), the state before each block of
    BLOCK steps, and the final h. `on_block(a, b, decay, write, h)` sees each block's
    E × N signals while they are at hand."""
    s = inputs_side(w, xs, conv0, holds)
    n = len(xs)
    y = np.empty_like(s["x_conv"])
    checkpoints = []
    h = h0
    for a in range(0, n, BLOCK):
        b = min(n, a + BLOCK)
        checkpoints.append(h)
        decay, write, hs = block_states(w, s, a, b, h, holds, method)
        y[a:b] = read_out(w, s, hs, a, b)
        if on_block is not None:
            on_block(a, b, decay, write, hs)
        h = hs[-1].copy()
    s["y"] = y
    s["out"] = (y * s["gate"]) @ w.w_out_T + w.b_out
    return {k: v for k, v in s.items() if k not in DERIVED}, checkpoints, h


def derived(w: Weights, s: dict, conv0: np.ndarray, holds, start: int, stop: int,
            names) -> dict:
    """The DERIVED signals `names` of rows [start, stop) from the kept ones, computed in
    the aligned blocks of BLOCK rows whatever the window (so any window reads the same
    bits), holds applied."""
    n, K = len(s["x_in"]), w.conv_w.shape[1]
    pieces: dict = {name: [] for name in names}
    for a in range(start - start % BLOCK, stop, BLOCK):
        b = min(a + BLOCK, n)
        block = {}
        if "x_conv_pre" in names:  # the delay line of rows a … b − 1: K − 1 rows before a
            lo = a - (K - 1)
            line = s["x_in"][lo:b] if lo >= 0 else np.concatenate(
                [conv0[len(conv0) + lo:], s["x_in"][:b]])
            pre = np.broadcast_to(w.conv_b, (b - a, len(w.conv_b))).copy()
            for k in range(K):
                pre += w.conv_w[:, k] * line[k:k + b - a]
            block["x_conv_pre"] = pre
        if "delta_pre" in names:
            block["delta_pre"] = (s["x_conv"][a:b] @ w.w_x_T)[:, :w.R] @ w.w_dt_T + w.b_dt
        if "retention" in names:
            block["retention"] = s["delta"][a:b] * w.A.mean(axis=1)
        if "write_strength" in names:
            block["write_strength"] = np.abs(s["delta"][a:b] * s["x_conv"][a:b]) * \
                np.linalg.norm(s["B"][a:b], axis=1, keepdims=True)
        if "gate" in names:
            block["gate"] = silu(s["z"][a:b])
            hold_rows(holds[a:b] if holds else None, "gate", block["gate"])
        lo, hi = max(start, a), min(stop, b)
        for name in names:
            pieces[name].append(block[name][lo - a:hi - a])
    empty = s["z"][:0]  # every derived signal is E wide
    return {name: (p[0] if len(p) == 1 else np.concatenate(p) if p else empty.copy())
            for name, p in pieces.items()}


def backward(w: Weights, xs: np.ndarray, s: dict, conv0: np.ndarray, checkpoints: list,
             d_out=None, d_y=None, d_h=None, holds=None, totals: bool = False) -> dict:
    """Gradients of a loss given dL/d(recorded out, y and h) per step ((n, H), (n, E),
    (n, E, N); any may be None) over a stretch computed by `forward` from (conv0,
    checkpoints[0]). Held signals are constants: nothing flows back from held units.

    Returns {"params": canonical name -> gradient, "xs", "conv0", "h0"} and, with
    `totals`, "h": the gradient reaching each h_s (n, E, N) before holds."""
    n, E = s["x_conv"].shape
    N = w.N
    dt = s["x_conv"].dtype
    s = {**s, **derived(w, s, conv0, holds, 0, n, ("x_conv_pre", "delta_pre", "gate"))}
    g = {}
    if d_out is not None:
        g["out_proj_weight"] = d_out.T @ (s["y"] * s["gate"])
        g["out_proj_bias"] = d_out.sum(0)
        d_gated = d_out @ w.w_out_T.T  # (n, E)
        dy = d_gated * s["gate"]
        d_gate = d_gated * s["y"]
    else:
        g["out_proj_weight"] = np.zeros(w.w_out_T.T.shape, dt)
        g["out_proj_bias"] = np.zeros(w.b_out.shape, dt)
        dy, d_gate = np.zeros((n, E), dt), np.zeros((n, E), dt)
    if d_y is not None:
        dy = dy + d_y
    cut_rows(holds, "gate", d_gate)
    d_z = d_gate * silu_slope(s["z"])
    d_u = dy * w.D  # u = x_conv
    g["D"] = (dy * s["x_conv"]).sum(0)
    d_C = np.empty((n, N), dt)
    d_B = np.empty((n, N), dt)
    d_delta = np.zeros((n, E), dt)
    d_A = np.zeros((E, N), dt)
    total_h = np.empty((n, E, N), dt) if totals else None
    dh_next = np.zeros((E, N), dt)
    for a in reversed(range(0, n, BLOCK)):
        b = min(n, a + BLOCK)
        decay, write, hs = block_states(w, s, a, b, checkpoints[a // BLOCK], holds)
        h_prev = np.concatenate([checkpoints[a // BLOCK][None], hs[:-1]])
        seed = dy[a:b, :, None] * s["C"][a:b, None, :]  # from y_t = h_t·C_t
        if d_h is not None:
            seed = seed + d_h[a:b]
        dhs = np.empty_like(hs)
        for j in range(b - a - 1, -1, -1):  # the only sequential part
            dh = dhs[j]
            np.add(seed[j], dh_next, out=dh)
            if total_h is not None:
                total_h[a + j] = dh
            if holds is not None and holds[a + j] is not None:
                _cut_channels(holds[a + j], "h", dh)
            dh_next = dh * decay[j]
        d_C[a:b] = np.einsum("te,ten->tn", dy[a:b], hs)
        d_decay = dhs * h_prev
        cut_rows(holds[a:b] if holds else None, "decay", d_decay)
        dA_part = d_decay * decay  # d(ΔA) per state
        d_delta[a:b] += np.einsum("ten,en->te", dA_part, w.A)
        d_A += np.einsum("ten,te->en", dA_part, s["delta"][a:b])
        # write = (Δ ⊙ u) ⊗ B
        dw_B = np.einsum("ten,tn->te", dhs, s["B"][a:b])  # (b − a, E)
        du_delta = s["delta"][a:b] * s["x_conv"][a:b]
        d_B[a:b] = np.einsum("ten,te->tn", dhs, du_delta)
        d_delta[a:b] += dw_B * s["x_conv"][a:b]
        d_u[a:b] += dw_B * s["delta"][a:b]
    g["A_log"] = d_A * w.A  # A = −exp(A_log): dA/dA_log = A
    cut_rows(holds, "delta", d_delta)
    d_delta_pre = d_delta * sigmoid(s["delta_pre"])
    g["dt_proj_bias"] = d_delta_pre.sum(0)
    low = s["x_conv"] @ w.w_x_T[:, :w.R]  # (n, R): the rank-R step before dt_proj
    g["dt_proj_weight"] = d_delta_pre.T @ low
    d_dbc = np.concatenate([d_delta_pre @ w.w_dt_T.T, d_B, d_C], axis=1)  # (n, R + 2N)
    g["x_proj_weight"] = d_dbc.T @ s["x_conv"]
    d_u += d_dbc @ w.w_x_T.T
    cut_rows(holds, "x_conv", d_u)
    d_pre = d_u * silu_slope(s["x_conv_pre"])
    K = w.conv_w.shape[1]
    line = conv_window(conv0, s["x_in"])
    d_line = np.zeros_like(line)
    g["conv_bias"] = d_pre.sum(0)
    g["conv_weight"] = np.empty_like(w.conv_w)
    for k in range(K):
        g["conv_weight"][:, k] = (d_pre * line[k:k + n]).sum(0)
        d_line[k:k + n] += d_pre * w.conv_w[:, k]
    d_xz = np.concatenate([d_line[K - 1:], d_z], axis=1)  # (n, 2E)
    g["in_proj_weight"] = d_xz.T @ xs
    g["in_proj_bias"] = d_xz.sum(0)
    out = {"params": g, "xs": d_xz @ w.w_in_T.T, "conv0": d_line[:K - 1].copy(),
           "h0": dh_next}
    if totals:
        out["h"] = total_h
    return out


def cut_rows(holds, name: str, grad: np.ndarray) -> None:
    for j, held in enumerate(holds or ()):
        if held is not None:
            cut(held, name, grad[j]) if grad.ndim == 2 else _cut_channels(held, name, grad[j])


def _cut_channels(held: dict, name: str, grad: np.ndarray) -> None:
    for units, _ in held.get(name, ()):
        grad[units] = 0


def hidden_attention(w: Weights, s: dict, channel: int, h_start: np.ndarray) -> dict:
    """The exact linear map from u_s = x_conv_s[channel] to y_t[channel] over a stretch
    (Ali, Zimerman and Wolf 2024, "The Hidden Attention of Mamba Models"): for s ≤ t,
    α_{t,s} = Σ_n C_t[n]·exp(c_t[n] − c_s[n])·Δ_s·B_s[n] with c the running sum of Δ·A[n]
    of this channel, plus D on the diagonal; and what h before the stretch adds to y_t,
    Σ_n C_t[n]·exp(c_t[n])·h_start[n]. y_t = Σ_s α_{t,s}·u_s + from_state_t exactly.
    (Under holds of decay or h the map is the run's as computed only without them.)"""
    delta = s["delta"][:, channel].astype(np.float64)
    A = w.A[channel].astype(np.float64)  # (N,)
    B, C = s["B"].astype(np.float64), s["C"].astype(np.float64)
    n = len(delta)
    c = np.cumsum(delta[:, None] * A, axis=0)  # (n, N)
    causal = np.tril(np.ones((n, n), bool))
    gap = np.where(causal[:, :, None], c[:, None, :] - c[None, :, :], -np.inf)  # (t, s, N)
    alpha = np.einsum("tn,tsn,sn->ts", C, np.exp(gap), delta[:, None] * B)
    alpha[np.diag_indices(n)] += float(w.D[channel])
    from_state = np.einsum("tn,tn,n->t", C, np.exp(c), h_start.astype(np.float64))
    return {"weights": alpha, "from_state": from_state}
