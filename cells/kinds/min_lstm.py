"""minLSTM (Feng et al. 2024, "Were RNNs All We Needed?").

    f_t = σ(W_f·x_t + b_f)    i_t = σ(W_i·x_t + b_i)    h̃_t = g(W_n·x_t + b_n)
    f′_t = f_t / (f_t + i_t)  i′_t = i_t / (f_t + i_t)   (option normalize, on by default)
    h_t = f′_t ⊙ h_{t−1} + i′_t ⊙ h̃_t

As minGRU (cells/kinds/min_gru.py): gates of x_t only, positive g, a parallel form (an
associative scan, or the paper's log-space scan). Normalized, f′ + i′ = 1: one balance
valve with two outlets, so h_t is a weighted average of h_{t−1} and h̃_t
(time-independent in scale, the paper's point). Without normalize, f and i act directly,
as in the LSTM without its output gate and tanh.

Canonical parameters: weight_ih (3H, I) and bias_ih (3H,), blocks n, f, i — the order of
minGRU-pytorch's `to_hidden_and_f_i_gate`, whose weight is ours as is.
"""

from __future__ import annotations

from itertools import repeat

import numpy as np

from ..signals import UNIT, Signal, h_prev_input, signal, x_input
from .min_gru import (
    keep_chain_backward,
    log_positive_g,
    log_sigmoid,
    positive_g_into,
    positive_g_slope,
    scan,
)
from .spec import ChunkGradients, Layout, Option, Spec, cut, previous_rows, put, sigmoid_into

NORMALIZE = Option("normalize", (True, False), True)
NFI = (0, 1, 2)  # internal block order = canonical: n, f, i
LAYOUTS = {
    True: Layout(("n_pre", "f_pre", "i_pre", "f", "i", "f_norm", "i_norm", "n", "kept",
                  "written", "h")),
    False: Layout(("n_pre", "f_pre", "i_pre", "f", "i", "n", "kept", "written", "h")),
}


def signals(normalize: bool = True) -> tuple[Signal, ...]:
    keep, write = ("f_norm", "i_norm") if normalize else ("f", "i")
    fl, il = ("f′_t", "i′_t") if normalize else ("f_t", "i_t")
    balance = (
        signal("f_norm", "gate", "f′_t", "f′_t = f_t / (f_t + i_t)", "share", ["f", "i"],
               range=UNIT, description="the keep share of the balance valve (f′ + i′ = 1)"),
        signal("i_norm", "gate", "i′_t", "i′_t = i_t / (f_t + i_t)", "share", ["i", "f"],
               range=UNIT, description="the write share of the balance valve (f′ + i′ = 1)"),
    ) if normalize else ()
    return (
        x_input(), h_prev_input(),
        signal("n_pre", "pre", "pre(h̃_t)", "W_n·x_t + b_n", "affine",
               description="the candidate before g; it reads x_t only"),
        signal("f_pre", "pre", "pre(f_t)", "W_f·x_t + b_f", "affine",
               description="the forget gate before the sigmoid; it reads x_t only"),
        signal("i_pre", "pre", "pre(i_t)", "W_i·x_t + b_i", "affine",
               description="the input gate before the sigmoid; it reads x_t only"),
        signal("f", "gate", "f_t", "f_t = σ(W_f·x_t + b_f)", "sigmoid", ["f_pre"], range=UNIT,
               description="forget gate: how much of h_{t−1} is kept (no feedback: it "
                           "never sees h_{t−1})"),
        signal("i", "gate", "i_t", "i_t = σ(W_i·x_t + b_i)", "sigmoid", ["i_pre"], range=UNIT,
               description="input gate: how much of the candidate is written"),
        *balance,
        signal("n", "candidate", "h̃_t", "h̃_t = g(W_n·x_t + b_n)", "positive_g", ["n_pre"],
               description="candidate: g(x) = x + ½ for x ≥ 0, σ(x) below, always positive"),
        signal("kept", "product", f"{fl} ⊙ h_{{t−1}}", f"{fl} ⊙ h_{{t−1}}", "mul",
               [keep, "h_prev"], stage="forget",
               description="what the keep valve lets through of the old state"),
        signal("written", "product", f"{il} ⊙ h̃_t", f"{il} ⊙ h̃_t", "mul", [write, "n"],
               stage="write", description="what the write valve lets in of the candidate"),
        signal("h", "output", "h_t", f"h_t = {fl} ⊙ h_{{t−1}} + {il} ⊙ h̃_t", "add",
               ["kept", "written"], stage="state",
               description="the new hidden state and output"),
    )


def prepare(params: dict, options: dict, H: int) -> dict:
    return {"w_ih_T": np.ascontiguousarray(params["weight_ih"].T),
            "bias": np.ascontiguousarray(params["bias_ih"]), "normalize": options["normalize"]}


def gates_into(cols, normalize: bool, holds) -> tuple[np.ndarray, np.ndarray]:
    """f, i (f′, i′), h̃ and the written part for every row at once, holds applied; returns
    the (keep, write) columns the recurrence reads."""
    sigmoid_into(cols.f_pre, cols.f)
    sigmoid_into(cols.i_pre, cols.i)
    positive_g_into(cols.n_pre, cols.n)
    names = ("f", "i", "n")
    for j, held in enumerate(holds or ()):
        if held is not None:
            for name in names:
                put(held, name, getattr(cols, name)[j])
    if not normalize:
        np.multiply(cols.i, cols.n, out=cols.written)
        return cols.f, cols.i
    total = cols.f + cols.i
    np.divide(cols.f, total, out=cols.f_norm)
    np.divide(cols.i, total, out=cols.i_norm)
    for j, held in enumerate(holds or ()):
        if held is not None:
            put(held, "f_norm", cols.f_norm[j])
            put(held, "i_norm", cols.i_norm[j])
    np.multiply(cols.i_norm, cols.n, out=cols.written)
    return cols.f_norm, cols.i_norm


def forward(buf: np.ndarray, state: tuple, p: dict, holds=None) -> tuple:
    (h,) = state
    H = h.shape[-1]
    cols = LAYOUTS[p["normalize"]].views(buf, H)
    keep, _ = gates_into(cols, p["normalize"], holds)
    mul, add = np.multiply, np.add
    for k, kept, written, h_out, held in zip(keep, cols.kept, cols.written, cols.h,
                                             holds or repeat(None), strict=False):
        h = add(mul(k, h, kept), written, h_out)
        if held is not None:
            put(held, "h", h_out)
    return (h,)


def parallel(buf: np.ndarray, state: tuple, p: dict, method: str = "doubling") -> tuple:
    """The same rows as forward, h by a scan over the chunk (no holds); `method` as in
    cells.kinds.min_gru.scan."""
    (h0,) = state
    H = h0.shape[-1]
    normalize = p["normalize"]
    cols = LAYOUTS[normalize].views(buf, H)
    keep, _ = gates_into(cols, normalize, None)

    def logs():
        log_f, log_i = log_sigmoid(cols.f_pre), log_sigmoid(cols.i_pre)
        if normalize:  # log f′ = log f − log(f + i), and the same for i′
            log_total = np.logaddexp(log_f, log_i)
            log_f, log_i = log_f - log_total, log_i - log_total
        return log_f, log_i + log_positive_g(cols.n_pre)

    cols.h[:] = scan(method, lambda: logs()[0], lambda: logs()[1],
                     lambda: (keep.copy(), cols.written.copy()), h0)
    np.multiply(keep, previous_rows(h0, cols.h), out=cols.kept)
    return (cols.h[-1].copy(),)


def backward(cols, state0: tuple, d_in: dict, carry: tuple, p: dict, holds=None,
             params: bool = True, totals: bool = False) -> ChunkGradients:
    """Reverse of forward over one chunk; d_in["h"] is dL/dh_t as recorded, (n, …, H).

    δf′ = δh ⊙ h_{t−1}, δi′ = δh ⊙ h̃; normalized, δf = (δf′ − δi′) ⊙ i/(f + i)²,
    δi = (δi′ − δf′) ⊙ f/(f + i)²; δh_{t−1} = δh ⊙ f′."""
    (h0,) = state0
    normalize = p["normalize"]
    keep, write = (cols.f_norm, cols.i_norm) if normalize else (cols.f, cols.i)
    dh_all, dh_next, record = keep_chain_backward(d_in["h"], carry[0], keep, cols.h, holds,
                                                  totals)
    H = cols.h.shape[-1]
    d_keep = dh_all * previous_rows(h0, cols.h)
    d_write = dh_all * cols.n
    d_pre = np.empty(cols.h.shape[:-1] + (3 * H,), cols.h.dtype)
    d_n, d_f, d_i = d_pre[..., :H], d_pre[..., H:2 * H], d_pre[..., 2 * H:]
    np.multiply(dh_all * write, positive_g_slope(cols.n_pre, cols.n), out=d_n)
    for j, held in enumerate(holds or ()):
        if held is not None:
            cut(held, "n", d_n[j])
            if normalize:
                cut(held, "f_norm", d_keep[j])
                cut(held, "i_norm", d_write[j])
    if normalize:
        total2 = (cols.f + cols.i) ** 2
        diff = d_keep - d_write
        d_f[:] = diff * cols.i / total2
        d_i[:] = -diff * cols.f / total2
    else:
        d_f[:], d_i[:] = d_keep, d_write
    d_f *= cols.f * (1 - cols.f)
    d_i *= cols.i * (1 - cols.i)
    for j, held in enumerate(holds or ()):
        if held is not None:
            cut(held, "f", d_f[j])
            cut(held, "i", d_i[j])
    return ChunkGradients(d_pre, {}, (dh_next,), record)


MIN_LSTM = Spec(
    name="min_lstm", gate_letters="nfi", block_order=NFI, state_names=("h",),
    option_table=(NORMALIZE,), describe=signals,
    layout=lambda options: LAYOUTS[options["normalize"]],
    prepare=prepare, forward=forward, backward=backward, recurrent=False, parallel=parallel,
)
