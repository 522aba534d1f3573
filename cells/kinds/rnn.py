"""Vanilla (Elman) RNN: h_t = act(W_ih·x_t + b_ih + W_hh·h_{t−1} + b_hh), as torch.nn.RNN.

Written Memories (r2rt, 2016) starts here: its sensitivity ∂h_t/∂h_{t−k} is a product of
k Jacobians diag(act′)·W_hh, which is why this cell forgets.
"""

from __future__ import annotations

from itertools import repeat

import numpy as np

from ..signals import SIGNED, Signal, h_prev_input, signal, x_input
from .spec import (
    ChunkGradients,
    Layout,
    Option,
    Spec,
    as_rows,
    cut,
    previous_rows,
    projection,
    put,
)

NONLINEARITY = Option("nonlinearity", ("tanh", "relu"), "tanh")  # PyTorch's option name
LAYOUT = Layout(("h_pre", "h"))


def signals(nonlinearity: str = "tanh") -> tuple[Signal, ...]:
    act, act_range = {"tanh": ("tanh", SIGNED), "relu": ("relu", None)}[nonlinearity]
    affine = "W_{ih}·x_t + b_{ih} + W_{hh}·h_{t−1} + b_{hh}"
    return (
        x_input(), h_prev_input(),
        signal("h_pre", "pre", "pre(h_t)", affine, "affine",
               description="the affine sum before the non-linearity"),
        signal("h", "output", "h_t", f"h_t = {act}({affine})", act, ["h_pre"], stage="output",
               range=act_range, description="the new hidden state and output"),
    )


def _prepare(params: dict, options: dict, H: int) -> dict:
    prep = projection(params, [0], H, params["bias_ih"] + params["bias_hh"])
    prep["w_hh_T"] = np.ascontiguousarray(params["weight_hh"].T)  # (H, H)
    prep["w_hh"] = params["weight_hh"]  # (H, H), for the backward product d_pre·W_hh
    prep["relu"] = options["nonlinearity"] == "relu"
    return prep


def forward(buf: np.ndarray, state: tuple, p: dict, holds=None) -> tuple:
    (h,) = state
    w_hh_T, relu = p["w_hh_T"], p["relu"]
    H = h.shape[-1]
    tmp = np.empty(h.shape, buf.dtype)  # (…, H)
    cols = LAYOUT.views(buf, H)
    for h_pre, h_out, held in zip(cols.h_pre, cols.h, holds or repeat(None), strict=False):
        h_pre += np.dot(h, w_hh_T, out=tmp)
        if relu:
            np.maximum(h_pre, 0, out=h_out)
        else:
            np.tanh(h_pre, out=h_out)
        if held is not None:
            put(held, "h", h_out)
        h = h_out
    return (h,)


def backward(cols, state0: tuple, d_in: dict, carry: tuple, p: dict, holds=None,
             params: bool = True, totals: bool = False) -> ChunkGradients:
    """Reverse of forward over one chunk; d_in["h"] is dL/dh_t as recorded, (n, …, H)."""
    (dh_next,) = carry
    slope = (cols.h_pre > 0).astype(cols.h.dtype) if p["relu"] else 1 - cols.h * cols.h  # (n, H)
    d_pre = np.empty_like(cols.h)  # (n, …, H)
    dh_total = np.empty_like(cols.h) if totals else None
    w_hh = p["w_hh"]
    dh = np.empty_like(dh_next)
    for j in range(len(d_pre) - 1, -1, -1):
        np.add(d_in["h"][j], dh_next, out=dh)  # everything downstream of h_t
        if dh_total is not None:
            dh_total[j] = dh
        held = holds[j] if holds is not None else None
        if held is not None:
            cut(held, "h", dh)
        np.multiply(dh, slope[j], out=d_pre[j])
        dh_next = np.dot(d_pre[j], w_hh)  # (…, H)
    grads = {}
    if params:
        h_prev = previous_rows(state0[0], cols.h)  # (n, H)
        grads = {"weight_hh": as_rows(d_pre).T @ as_rows(h_prev),
                 "bias_hh": as_rows(d_pre).sum(0)}
    return ChunkGradients(d_pre, grads, (dh_next,), {"h": dh_total} if totals else None)


RNN = Spec(
    name="rnn", gate_letters="h", block_order=(0,), state_names=("h",),
    option_table=(NONLINEARITY,), describe=signals, layout=lambda options: LAYOUT,
    prepare=_prepare, forward=forward, backward=backward,
)
