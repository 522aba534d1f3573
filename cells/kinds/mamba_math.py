"""Mamba's mixer over a stretch of steps: forward (step by step or by a parallel scan),
backward, and the hidden attention. Plain functions of arrays; the cell and its trace
(mamba_cell.py) decide which steps to compute and what to keep.

A stretch is computed in blocks of BLOCK steps (block_signals): each block's projections,
conv, Δ, B, C and gates at once, then the recurrence h_t = decay_t ⊙ h_{t−1} + write_t over
its steps, so no more than BLOCK steps of E-wide or E × N values exist at a time. A block
reads only its inputs, the conv's delay line and h before it: forward keeps those for
every block, and a trace computes any block again from them, bit for bit the first
computation (the same arrays through the same operations).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .min_gru import scan_by_doubling
from .spec import cut

BLOCK = 64  # steps per block (and between two checkpoints of the state)
# What `backward` reads of every step (forward keeps these by default)
TAPE = ("x_in", "z", "x_conv_pre", "x_conv", "delta_pre", "delta", "B", "C", "y", "gate",
        "out")
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
    """The parameters as the computation reads them: the matrices as transposed views of the
    cell's own C-contiguous params (BLAS reads either layout without a copy), so a loaded
    model holds each matrix once."""
    E, N = params["A_log"].shape
    R = params["dt_proj_weight"].shape[1]
    return Weights(
        params["in_proj_weight"].T, params["in_proj_bias"],
        params["conv_weight"], params["conv_bias"], params["x_proj_weight"].T,
        params["dt_proj_weight"].T, params["dt_proj_bias"],
        -np.exp(params["A_log"]), params["D"], params["out_proj_weight"].T,
        params["out_proj_bias"], R, N)


def hold_rows(holds, name: str, rows: np.ndarray) -> None:
    """Apply the holds of `name` to the per-step rows (n, E, …): units are channels."""
    for j, held in enumerate(holds or ()):
        if held is not None and name in held:
            for units, value in held[name]:
                rows[j][units] = value


def conv_window(conv0: np.ndarray, x_in: np.ndarray) -> np.ndarray:
    """(K − 1 + n, E): the delay line before the stretch, then its x_in."""
    return np.concatenate([conv0, x_in], axis=0)


def line_after(line: np.ndarray, x_in: np.ndarray) -> np.ndarray:
    """The delay line (K − 1, E) after the steps whose x_in follows `line`."""
    full = conv_window(line, x_in)
    return full[len(full) - len(line):].copy()


def block_signals(w: Weights, xs: np.ndarray, line: np.ndarray, h: np.ndarray, holds=None,
                  method: str | bool = False) -> dict:
    """Every signal of one block of steps (at most BLOCK) from what it reads: its inputs xs
    (n, I), the conv's delay line before it (K − 1, E) and h before it (E, N); holds per
    step of the block. name -> (n, ·); decay, write and h are (n, E, N). The same inputs
    give the same bits, so a block computed again is the block first computed."""
    n, E = len(xs), w.A.shape[0]
    K = w.conv_w.shape[1]
    xz = xs @ w.w_in_T + w.b_in  # (n, 2E)
    s = {"x_in": xz[:, :E], "z": xz[:, E:]}
    full = conv_window(line, s["x_in"])  # (K − 1 + n, E)
    pre = np.broadcast_to(w.conv_b, (n, E)).copy()
    for k in range(K):  # tap k reads x_in_{t−K+1+k}
        pre += w.conv_w[:, k] * full[k:k + n]
    s["x_conv_pre"] = pre
    u = s["x_conv"] = silu(pre)
    hold_rows(holds, "x_conv", u)
    dbc = u @ w.w_x_T  # (n, R + 2N)
    s["B"] = np.ascontiguousarray(dbc[:, w.R:w.R + w.N])
    s["C"] = np.ascontiguousarray(dbc[:, w.R + w.N:])
    s["delta_pre"] = dbc[:, :w.R] @ w.w_dt_T + w.b_dt
    delta = s["delta"] = softplus(s["delta_pre"])
    hold_rows(holds, "delta", delta)
    s["retention"] = delta * w.A.mean(axis=1)  # mean_n log exp(Δ A_n)
    s["write_strength"] = np.abs(delta * u) * np.linalg.norm(s["B"], axis=1, keepdims=True)
    s["gate"] = silu(s["z"])
    hold_rows(holds, "gate", s["gate"])
    s["decay"], s["write"], s["h"] = states(w, delta, u, s["B"], h, holds, method)
    s["y"] = np.einsum("ten,tn->te", s["h"], s["C"]) + w.D * u
    s["out"] = (s["y"] * s["gate"]) @ w.w_out_T + w.b_out
    return s


def states(w: Weights, delta: np.ndarray, u: np.ndarray, B: np.ndarray, h: np.ndarray,
           holds=None, method: str | bool = False):
    """(decay, write, h) of a block's steps (n, E, N) from h before it: step by step, or
    by a scan (method "doubling" or "log"; no holds)."""
    decay = np.exp(delta[:, :, None] * w.A)
    hold_rows(holds, "decay", decay)
    write = (delta * u)[:, :, None] * B[:, None, :]
    if not method:
        hs = np.empty_like(write)
        for j in range(len(write)):
            h = np.add(np.multiply(decay[j], h, out=hs[j]), write[j], out=hs[j])
            if holds is not None and holds[j] is not None:
                put_channels(holds[j], "h", hs[j])
    elif method == "log":
        hs = scan_by_segments(delta, w.A, write, h)
    else:
        hs = scan_by_doubling(decay.copy(), write.copy(), h)
    return decay, write, hs


def block_states(w: Weights, s: dict, a: int, b: int, h: np.ndarray, holds=None,
                 method: str | bool = False):
    """(decay, write, h) of steps [a, b) of a stretch whose signals are `s`, from h
    before a."""
    return states(w, s["delta"][a:b], s["x_conv"][a:b], s["B"][a:b], h,
                  holds[a:b] if holds else None, method)


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


@dataclass
class Run:
    """What `forward` gives: the kept signals of every step, what each block starts from,
    and the state after the last step."""

    stored: dict  # name -> (n, ·), the names asked to keep
    h_before: list  # h (E, N) before each block of BLOCK steps
    line_before: list  # the conv's delay line (K − 1, E) before each block
    h_end: np.ndarray
    line_end: np.ndarray


def forward(w: Weights, xs: np.ndarray, conv0: np.ndarray, h0: np.ndarray, holds=None,
            method: str | bool = False, keep=TAPE) -> Run:
    """A stretch computed block by block (block_signals), keeping the signals `keep` of
    every step (by default what `backward` reads) and what each block starts from, so any
    block can be computed again bit for bit."""
    n, (E, N), H = len(xs), w.A.shape, len(w.b_out)
    widths = {"B": N, "C": N, "out": H}
    stored = {name: np.empty((n, widths.get(name, E)), xs.dtype) for name in keep}
    h_before, line_before = [], []
    h, line = h0, conv0
    for a in range(0, n, BLOCK):
        b = min(n, a + BLOCK)
        h_before.append(h)
        line_before.append(line)
        s = block_signals(w, xs[a:b], line, h, holds[a:b] if holds else None, method)
        for name in keep:
            stored[name][a:b] = s[name]
        h, line = s["h"][-1].copy(), line_after(line, s["x_in"])
    return Run(stored, h_before, line_before, h, line)


def backward(w: Weights, xs: np.ndarray, s: dict, conv0: np.ndarray, checkpoints: list,
             d_out=None, d_y=None, d_h=None, holds=None, totals: bool = False,
             channel: int | None = None) -> dict:
    """Gradients of a loss given dL/d(recorded out, y and h) per step ((n, H), (n, E),
    (n, E, N); any may be None) over a stretch computed by `forward` from (conv0,
    checkpoints[0]). Held signals are constants: nothing flows back from held units.

    `channel`: d_y and d_h are zero outside that channel, and nothing is held (a
    sensitivity of one channel's read-out): the states of the other channels get no
    gradient, so the scan back runs over this channel's N states only.

    Returns {"params": canonical name -> gradient, "xs", "conv0", "h0"} and, with
    `totals`, "h": the gradient reaching each h_s (n, E, N) before holds ((n, 1, N), that
    channel's, with `channel`)."""
    n, E = s["x_conv"].shape
    N = w.N
    dt = s["x_conv"].dtype
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
    # the recurrence keeps channels apart (decay is elementwise): with `channel`, only its
    # states carry gradient, and the scan back runs over its N states alone
    rows = slice(None) if channel is None else slice(channel, channel + 1)
    own = w if channel is None else replace(w, A=w.A[rows])
    delta, u, dy_rows = s["delta"][:, rows], s["x_conv"][:, rows], dy[:, rows]
    total_h = np.empty((n, *own.A.shape), dt) if totals else None
    dh_next = np.zeros(own.A.shape, dt)
    for a in reversed(range(0, n, BLOCK)):
        b = min(n, a + BLOCK)
        h_start = checkpoints[a // BLOCK][rows]
        decay, write, hs = states(own, delta[a:b], u[a:b], s["B"][a:b], h_start,
                                  holds[a:b] if holds else None)
        h_prev = np.concatenate([h_start[None], hs[:-1]])
        seed = dy_rows[a:b, :, None] * s["C"][a:b, None, :]  # from y_t = h_t·C_t
        if d_h is not None:
            seed = seed + d_h[a:b, rows]
        dhs = np.empty_like(hs)
        for j in range(b - a - 1, -1, -1):  # the only sequential part
            dh = dhs[j]
            np.add(seed[j], dh_next, out=dh)
            if total_h is not None:
                total_h[a + j] = dh
            if holds is not None and holds[a + j] is not None:
                _cut_channels(holds[a + j], "h", dh)
            dh_next = dh * decay[j]
        d_C[a:b] = np.einsum("te,ten->tn", dy_rows[a:b], hs)
        d_decay = dhs * h_prev
        cut_rows(holds[a:b] if holds else None, "decay", d_decay)
        dA_part = d_decay * decay  # d(ΔA) per state
        d_delta[a:b, rows] += np.einsum("ten,en->te", dA_part, own.A)
        d_A[rows] += np.einsum("ten,te->en", dA_part, delta[a:b])
        # write = (Δ ⊙ u) ⊗ B
        dw_B = np.einsum("ten,tn->te", dhs, s["B"][a:b])  # (b − a, E)
        du_delta = delta[a:b] * u[a:b]
        d_B[a:b] = np.einsum("ten,te->tn", dhs, du_delta)
        d_delta[a:b, rows] += dw_B * u[a:b]
        d_u[a:b, rows] += dw_B * delta[a:b]
    if channel is not None:  # the gradient of h before the stretch, every channel's
        full = np.zeros((E, N), dt)
        full[rows] = dh_next
        dh_next = full
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
