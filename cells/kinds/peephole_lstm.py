"""The LSTM with diagonal peepholes (Gers & Schmidhuber 2000), ONNX/TF semantics:
i and f see c_{t−1}, o sees the new c_t.

    i = σ(W_i·[h_{t−1}, x_t] + p_i ⊙ c_{t−1} + b_i)    f likewise with p_f
    c_t = f ⊙ c_{t−1} + i ⊙ g                           o = σ(W_o·[h_{t−1}, x_t] + p_o ⊙ c_t + b_o)
    h_t = o ⊙ tanh(c_t)

Same stored columns and internal block order (i, f, o, g) as the LSTM, without the halving
trick: the output gate must wait for c_t, so one tanh cannot cover all four blocks.
"""

from __future__ import annotations

from itertools import repeat

import numpy as np

from . import lstm
from .spec import (
    ChunkGradients,
    Spec,
    as_rows,
    cut,
    previous_rows,
    put,
    sigmoid_into,
    to_canonical,
)

IFOG = lstm.IFOG
LAYOUT = lstm.LAYOUT


def forward(buf: np.ndarray, state: tuple, p: dict, holds=None) -> tuple:
    c, h = state
    H = c.shape[-1]
    w_hh_T, p_i, p_f, p_o = p["w_hh_T"], p["peephole_i"], p["peephole_f"], p["peephole_o"]
    tmp = np.empty(c.shape[:-1] + (4 * H,), buf.dtype)  # (…, 4H)
    cols = LAYOUT.views(buf, H)
    rows = zip(LAYOUT.span(buf, H, "i_pre", "g_pre"), LAYOUT.span(buf, H, "i_pre", "f_pre"),
               LAYOUT.span(buf, H, "i", "f"), *cols, holds or repeat(None), strict=False)
    for (pre, if_pre, if_act, i_pre, f_pre, o_pre, g_pre, i, f, o, g, kept, written, c_out,
         tanh_c, h_out, held) in rows:
        pre += np.dot(h, w_hh_T, out=tmp)
        i_pre += np.multiply(p_i, c, out=tmp[..., :H])
        f_pre += np.multiply(p_f, c, out=tmp[..., :H])
        sigmoid_into(if_pre, if_act)  # i, f see c_{t−1}
        np.tanh(g_pre, out=g)
        if held is not None:
            for name, value in (("i", i), ("f", f), ("g", g)):
                put(held, name, value)
        np.add(np.multiply(f, c, out=kept), np.multiply(i, g, out=written), out=c_out)
        if held is not None:
            put(held, "c", c_out)
        c = c_out
        o_pre += np.multiply(p_o, c, out=tmp[..., :H])  # o sees the new c_t
        sigmoid_into(o_pre, o)
        if held is not None:
            put(held, "o", o)
        h = np.multiply(o, np.tanh(c, out=tanh_c), out=h_out)
        if held is not None:
            put(held, "h", h_out)
    return c, h


def backward(cols, state0: tuple, d_in: dict, carry: tuple, p: dict, holds=None,
             params: bool = True, totals: bool = False) -> ChunkGradients:
    """As the LSTM's backward, plus the peephole paths: o_pre reads c_t, i_pre and f_pre
    read c_{t−1}."""
    c0, h0 = state0
    dc_next, dh_next = (a.copy() for a in carry)
    H, lead = cols.c.shape[-1], cols.c.shape[:-1]
    p_i, p_f, p_o, w_hh = p["peephole_i"], p["peephole_f"], p["peephole_o"], p["w_hh"]
    c_prev = previous_rows(c0, cols.c)  # (n, …, H)
    slope_i = cols.g * cols.i * (1 - cols.i)  # δi_pre = δc ⊙ g ⊙ σ′
    slope_f = c_prev * cols.f * (1 - cols.f)  # δf_pre = δc ⊙ c_{t−1} ⊙ σ′
    slope_o = cols.tanh_c * cols.o * (1 - cols.o)  # δo_pre = δh ⊙ tanh c ⊙ σ′
    slope_g = cols.i * (1 - cols.g * cols.g)  # δg_pre = δc ⊙ i ⊙ tanh′
    via_h = cols.o * (1 - cols.tanh_c * cols.tanh_c)  # ∂h/∂c through tanh, (n, …, H)
    d_pre = np.empty(lead + (4 * H,), cols.c.dtype)  # internal order i, f, o, g
    d4 = d_pre.reshape(*lead, 4, H)
    blocks = [d4[..., k, :] for k in range(4)]  # (n, …, H) each: δ of i, f, o, g _pre
    record = {"h": np.empty_like(cols.c), "c": np.empty_like(cols.c)} if totals else None
    dh, dc = np.empty_like(dh_next), np.empty_like(dc_next)
    for j in range(lead[0] - 1, -1, -1):
        held = holds[j] if holds is not None else None
        d_i, d_f, d_o, d_g = (b[j] for b in blocks)
        np.add(d_in["h"][j], dh_next, out=dh)
        if record is not None:
            record["h"][j] = dh
        if held is not None:
            cut(held, "h", dh)
        np.multiply(dh, slope_o[j], out=d_o)
        if held is not None:
            cut(held, "o", d_o)
        np.add(d_in["c"][j], dc_next, out=dc)
        if record is not None:  # ∂/∂c_t with h_t held: the two are the state after step t
            record["c"][j] = dc
        dc += dh * via_h[j]
        dc += d_o * p_o  # o_pre reads c_t
        if held is not None:
            cut(held, "c", dc)
        np.multiply(dc, slope_i[j], out=d_i)
        np.multiply(dc, slope_f[j], out=d_f)
        np.multiply(dc, slope_g[j], out=d_g)
        if held is not None:
            for name, grad in (("i", d_i), ("f", d_f), ("g", d_g)):
                cut(held, name, grad)
        np.dot(d_pre[j], w_hh, out=dh_next)
        np.multiply(dc, cols.f[j], out=dc_next)
        dc_next += d_i * p_i + d_f * p_f  # i_pre and f_pre read c_{t−1}
    grads = {}
    if params:
        h_prev = previous_rows(h0, cols.h)
        grads = {"weight_hh": to_canonical(as_rows(d_pre).T @ as_rows(h_prev), IFOG, H),
                 "bias_hh": to_canonical(as_rows(d_pre).sum(0), IFOG, H),
                 "peephole_i": as_rows(blocks[0] * c_prev).sum(0),
                 "peephole_f": as_rows(blocks[1] * c_prev).sum(0),
                 "peephole_o": as_rows(blocks[2] * cols.c).sum(0)}
    return ChunkGradients(d_pre, grads, (dc_next, dh_next), record)


PEEPHOLE_LSTM = Spec(
    name="peephole_lstm", gate_letters="ifgo", block_order=IFOG, state_names=("c", "h"),
    option_table=(), describe=lambda: lstm.signals(peephole=True),
    layout=lambda options: LAYOUT, prepare=lstm.prepare, forward=forward, backward=backward,
    peepholes=True, forget_letter="f",
)
