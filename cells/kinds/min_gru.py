"""minGRU (Feng et al. 2024, "Were RNNs All We Needed?").

    z_t = σ(W_z·x_t + b_z)        n_t = g(W_n·x_t + b_n)
    h_t = (1 − z_t) ⊙ h_{t−1} + z_t ⊙ n_t

The gates read x_t only: the feedback wire of the GRU (h_{t−1} into the gates) is cut, so
h_t is a first-order linear recurrence h_t = a_t ⊙ h_{t−1} + b_t whose coefficients are all
known before the first step, and the whole sequence can be computed by a scan. g is the
paper's positive activation, g(x) = x + ½ for x ≥ 0 and σ(x) otherwise, so every b_t > 0
and the scan can run in log space (the paper's appendix B, after Heinsen 2023).

Canonical parameters: weight_ih (2H, I) and bias_ih (2H,), blocks n then z — the order of
the reference implementation's `to_hidden_and_gate` (minGRU-pytorch), whose weight is ours
as is. There are no recurrent weights.

Backward: with δh the total gradient at step t, δh_{t−1} = δh ⊙ (1 − z_t): the path from
h_s to h_t is a product of keep valves, nothing else (no tanh, no matrix).
"""

from __future__ import annotations

from itertools import repeat

import numpy as np

from ..signals import UNIT, Signal, h_prev_input, signal, x_input
from .spec import ChunkGradients, Layout, Spec, cut, previous_rows, put, sigmoid_into

NZ = (0, 1)  # internal block order = canonical: n, z
LAYOUT = Layout(("n_pre", "z_pre", "z", "n", "kept", "written", "h"))


def positive_g_into(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out = g(x): x + ½ for x ≥ 0, σ(x) below (positive, continuous, slope 1 at 0⁺)."""
    sigmoid_into(x, out)
    np.add(x, 0.5, out=out, where=x >= 0)
    return out


def positive_g_slope(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """g′(x) given g = g(x): 1 for x ≥ 0, σ′(x) = g(1 − g) below."""
    return np.where(x >= 0, 1, g * (1 - g))


def log_sigmoid(x: np.ndarray) -> np.ndarray:
    """log σ(x) = −softplus(−x), without overflow."""
    return -np.logaddexp(0, -x)


def log_positive_g(x: np.ndarray) -> np.ndarray:
    """log g(x), computed from x (no log of a rounded σ)."""
    return np.where(x >= 0, np.log(np.maximum(x, 0) + 0.5), log_sigmoid(x))


def scan_in_log_space(log_a: np.ndarray, log_b: np.ndarray, h0: np.ndarray) -> np.ndarray:
    """h_t = a_t ⊙ h_{t−1} + b_t for all t at once, a > 0 and b > 0 given by their logs
    (n, …, H): h_t = A_t·h0 + A_t·Σ_{s≤t} b_s / A_s with A_t = Π_{s≤t} a_s, the sum as a
    log-cumulative-sum-exp (Heinsen 2023). h0 enters linearly, so it may have any sign.
    The running sums are kept in float64 whatever the cell's dtype: in float32 their
    rounding over a chunk of a thousand steps would reach 1e-4 of h."""
    log_a, log_b = log_a.astype(np.float64), log_b.astype(np.float64)
    log_A = np.cumsum(log_a, axis=0)
    log_sum = np.logaddexp.accumulate(log_b - log_A, axis=0)
    return np.exp(log_A) * h0 + np.exp(log_A + log_sum)


def scan_by_doubling(a: np.ndarray, b: np.ndarray, h0: np.ndarray) -> np.ndarray:
    """The same h_t = a_t ⊙ h_{t−1} + b_t in linear space, by an associative scan
    (Hillis–Steele doubling): after the pass with offset k, (a_t, b_t) is the composition
    of the steps t − 2k + 1 … t, so ⌈log₂ n⌉ passes, each one vectorised operation over
    all steps, replace n dependent ones. With 0 < a < 1 the products only shrink and the
    sums stay bounded, so no log space is needed to keep them finite. a, b are consumed."""
    n, k = len(a), 1
    while k < n:
        b[k:] += a[k:] * b[:-k]  # the right side is evaluated first: old values of b
        a[k:] *= a[:-k].copy()  # the copy: a[:-k] and a[k:] overlap
        k *= 2
    return a * h0 + b


def scan(method: str, log_a, log_b, a_b, h0: np.ndarray) -> np.ndarray:
    """h of the recurrence by `method`: "log" (the paper's log-space scan, from the logs
    of a and b) or "doubling" (from a and b themselves; callables so each form makes only
    what it reads)."""
    if method == "log":
        return scan_in_log_space(log_a(), log_b(), h0)
    return scan_by_doubling(*a_b(), h0)


def signals() -> tuple[Signal, ...]:
    return (
        x_input(), h_prev_input(),
        signal("n_pre", "pre", "pre(h̃_t)", "W_n·x_t + b_n", "affine",
               description="the candidate before g; it reads x_t only"),
        signal("z_pre", "pre", "pre(z_t)", "W_z·x_t + b_z", "affine",
               description="the write gate before the sigmoid; it reads x_t only"),
        signal("z", "gate", "z_t", "z_t = σ(W_z·x_t + b_z)", "sigmoid", ["z_pre"], range=UNIT,
               description="write gate: how much of the candidate replaces h_{t−1} "
                           "(no feedback: it never sees h_{t−1})"),
        signal("n", "candidate", "h̃_t", "h̃_t = g(W_n·x_t + b_n)", "positive_g", ["n_pre"],
               description="candidate: g(x) = x + ½ for x ≥ 0, σ(x) below, always positive"),
        signal("kept", "product", "(1 − z_t) ⊙ h_{t−1}", "(1 − z_t) ⊙ h_{t−1}",
               "one_minus_mul", ["z", "h_prev"], stage="forget",
               description="what the keep valve (1 − z) lets through of the old state"),
        signal("written", "product", "z_t ⊙ h̃_t", "z_t ⊙ h̃_t", "mul", ["z", "n"],
               stage="write", description="what the write gate lets in of the candidate"),
        signal("h", "output", "h_t", "h_t = (1 − z_t) ⊙ h_{t−1} + z_t ⊙ h̃_t", "add",
               ["kept", "written"], stage="state",
               description="the new hidden state and output"),
    )


def prepare(params: dict, options: dict, H: int) -> dict:
    return {"w_ih_T": np.ascontiguousarray(params["weight_ih"].T),
            "bias": np.ascontiguousarray(params["bias_ih"])}


def gates_into(cols, holds) -> None:
    """z and n for every row of the chunk at once (they read x_t only), holds applied."""
    sigmoid_into(cols.z_pre, cols.z)
    positive_g_into(cols.n_pre, cols.n)
    for j, held in enumerate(holds or ()):
        if held is not None:
            put(held, "z", cols.z[j])
            put(held, "n", cols.n[j])


def forward(buf: np.ndarray, state: tuple, p: dict, holds=None) -> tuple:
    (h,) = state
    H = h.shape[-1]
    cols = LAYOUT.views(buf, H)
    gates_into(cols, holds)
    np.multiply(cols.z, cols.n, out=cols.written)
    one = np.array(1, buf.dtype)
    mul, add, sub = np.multiply, np.add, np.subtract
    # the only sequential part: h_t = (1 − z_t) ⊙ h_{t−1} + written_t
    for z, kept, written, h_out, held in zip(cols.z, cols.kept, cols.written, cols.h,
                                             holds or repeat(None), strict=False):
        mul(sub(one, z, kept), h, kept)
        h = add(kept, written, h_out)
        if held is not None:
            put(held, "h", h_out)
    return (h,)


def parallel(buf: np.ndarray, state: tuple, p: dict, method: str = "doubling") -> tuple:
    """The same rows as forward, h by a scan over the chunk (no holds): `method` "doubling"
    (linear space) or "log" (the paper's log-space scan)."""
    (h0,) = state
    H = h0.shape[-1]
    cols = LAYOUT.views(buf, H)
    gates_into(cols, None)
    np.multiply(cols.z, cols.n, out=cols.written)
    keep = 1 - cols.z
    cols.h[:] = scan(method,
                     lambda: log_sigmoid(-cols.z_pre),  # log(1 − z), from the pre-activation
                     lambda: log_sigmoid(cols.z_pre) + log_positive_g(cols.n_pre),  # log(z ⊙ h̃)
                     lambda: (keep.copy(), cols.written.copy()), h0)
    np.multiply(keep, previous_rows(h0, cols.h), out=cols.kept)
    return (cols.h[-1].copy(),)


def keep_chain_backward(dh_in, dh_carry, keep, h, holds, totals: bool):
    """δh_t of every step of a chunk, last to first, when h_t = keep_t ⊙ h_{t−1} + (a term of
    x_t alone): δh_{t−1} = δh_t ⊙ keep_t, nothing else feeds back. (δh_t after holds, (n, …, H);
    δh into the chunk's first h_{t−1}; the totals before holds when asked, else None.)"""
    dh_all = np.empty_like(h)  # δh_t after holds: what reaches the gates and h_{t−1}
    record = {"h": np.empty_like(h)} if totals else None
    dh_next = dh_carry.copy()
    for j in range(len(dh_all) - 1, -1, -1):
        dh = dh_all[j]
        np.add(dh_in[j], dh_next, out=dh)
        if record is not None:
            record["h"][j] = dh
        if holds is not None and holds[j] is not None:
            cut(holds[j], "h", dh)
        dh_next = dh * keep[j]
    return dh_all, dh_next, record


def backward(cols, state0: tuple, d_in: dict, carry: tuple, p: dict, holds=None,
             params: bool = True, totals: bool = False) -> ChunkGradients:
    """Reverse of forward over one chunk; d_in["h"] is dL/dh_t as recorded, (n, …, H)."""
    (h0,) = state0
    keep = 1 - cols.z
    dh_all, dh_next, record = keep_chain_backward(d_in["h"], carry[0], keep, cols.h, holds,
                                                  totals)
    h_prev = previous_rows(h0, cols.h)
    d_pre = np.empty(cols.h.shape[:-1] + (2 * cols.h.shape[-1],), cols.h.dtype)
    H = cols.h.shape[-1]
    d_n, d_z = d_pre[..., :H], d_pre[..., H:]
    np.multiply(dh_all * cols.z, positive_g_slope(cols.n_pre, cols.n), out=d_n)
    np.multiply(dh_all * (cols.n - h_prev), cols.z * keep, out=d_z)
    for j, held in enumerate(holds or ()):
        if held is not None:
            cut(held, "n", d_n[j])
            cut(held, "z", d_z[j])
    return ChunkGradients(d_pre, {}, (dh_next,), record)


MIN_GRU = Spec(
    name="min_gru", gate_letters="nz", block_order=NZ, state_names=("h",),
    option_table=(), describe=signals, layout=lambda options: LAYOUT,
    prepare=prepare, forward=forward, backward=backward, recurrent=False, parallel=parallel,
)
