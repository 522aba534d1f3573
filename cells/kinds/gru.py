"""The GRU.

    r = σ(W_r·[h_{t−1}, x_t] + b_r)     z = σ(W_z·[h_{t−1}, x_t] + b_z)
    h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}

reset_after=True is torch.nn.GRU (ONNX linear_before_reset=1): r scales the recurrent
product, n = tanh(W_in·x + b_in + r ⊙ (W_hn·h_{t−1} + b_hn)). reset_after=False is Cho et al.
2014 and the derivation in Written Memories (r2rt, 2016), ONNX linear_before_reset=0: r gates
h_{t−1} before the matmul, n = tanh(W_in·x + b_in + W_hn·(r ⊙ h_{t−1}) + b_hn).
"""

from __future__ import annotations

from itertools import repeat

import numpy as np

from ..signals import SIGNED, UNIT, Signal, h_prev_input, signal, x_input
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

RESET_AFTER = Option("reset_after", (True, False), True)
RZN = (0, 1, 2)
LAYOUTS = {
    True: Layout(("r_pre", "z_pre", "n_pre", "r", "z", "n_rec", "n_rec_reset", "n", "kept",
                  "written", "h")),
    False: Layout(("r_pre", "z_pre", "n_pre", "r", "z", "h_reset", "n", "kept", "written",
                   "h")),
}
CONCAT = "[h_{t−1}, x_t]"


def signals(reset_after: bool = True) -> tuple[Signal, ...]:
    r_pre = signal("r_pre", "pre", "pre(r_t)", f"W_r·{CONCAT} + b_r", "affine",
                   description="the reset gate before the sigmoid")
    z_pre = signal("z_pre", "pre", "pre(z_t)", f"W_z·{CONCAT} + b_z", "affine",
                   description="the update gate before the sigmoid")
    r = signal("r", "gate", "r_t", f"r_t = σ(W_r·{CONCAT} + b_r)", "sigmoid", ["r_pre"],
               range=UNIT, description="reset gate: how much of h_{t−1} the candidate sees")
    z = signal("z", "gate", "z_t", f"z_t = σ(W_z·{CONCAT} + b_z)", "sigmoid", ["z_pre"],
               range=UNIT, description="update gate: how much of h_{t−1} is kept")
    if reset_after:
        n_eq = "W_{in}·x_t + b_{in} + r_t ⊙ (W_{hn}·h_{t−1} + b_{hn})"
        reset = (
            signal("n_rec", "pre", "W_{hn}·h_{t−1} + b_{hn}", "W_{hn}·h_{t−1} + b_{hn}",
                   "affine",
                   description="the recurrent part of the candidate, before the reset gate"),
            signal("n_rec_reset", "product", "r_t ⊙ (W_{hn}·h_{t−1} + b_{hn})",
                   "r_t ⊙ (W_{hn}·h_{t−1} + b_{hn})", "mul", ["r", "n_rec"],
                   description="the reset gate applied after the matmul"),
        )
    else:
        n_eq = "W_{in}·x_t + b_{in} + W_{hn}·(r_t ⊙ h_{t−1}) + b_{hn}"
        reset = (
            signal("h_reset", "product", "r_t ⊙ h_{t−1}", "r_t ⊙ h_{t−1}", "mul",
                   ["r", "h_prev"],
                   description="the reset gate applied to h_{t−1} before the matmul"),
        )
    return (
        x_input(), h_prev_input(), r_pre, z_pre, r, z, *reset,
        signal("n_pre", "pre", "pre(n_t)", n_eq, "affine",
               description="the candidate before the tanh"),
        signal("n", "candidate", "n_t", f"n_t = tanh({n_eq})", "tanh", ["n_pre"], range=SIGNED,
               description="candidate: the new value that may replace h_{t−1}"),
        signal("kept", "product", "z_t ⊙ h_{t−1}", "z_t ⊙ h_{t−1}", "mul", ["z", "h_prev"],
               stage="forget", description="what the update gate keeps of the old state"),
        signal("written", "product", "(1 − z_t) ⊙ n_t", "(1 − z_t) ⊙ n_t", "one_minus_mul",
               ["z", "n"], stage="write",
               description="what the update gate lets in of the candidate"),
        signal("h", "output", "h_t", "h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t−1}", "add",
               ["kept", "written"], stage="state", range=SIGNED,
               description="the new hidden state and output"),
    )


def _prepare(params: dict, options: dict, H: int) -> dict:
    b_hh = params["bias_hh"]
    if options["reset_after"]:
        # b_hn stays inside r ⊙ (W_hn·h + b_hn); only the r and z parts fold into the projection.
        folded = params["bias_ih"] + np.concatenate([b_hh[:2 * H], np.zeros_like(b_hh[2 * H:])])
    else:
        folded = params["bias_ih"] + b_hh
    prep = projection(params, RZN, H, folded)
    w_hh = params["weight_hh"]
    prep["w_hh"] = w_hh  # (3H, H), for the backward products, never halved
    prep["w_hh_T"] = np.array(w_hh.T, order="C")  # (H, 3H), a copy: halved below
    prep["w_hrz_T"] = np.array(w_hh[:2 * H].T, order="C")  # (H, 2H), likewise
    prep["w_hn_T"] = np.ascontiguousarray(w_hh[2 * H:].T)  # (H, H)
    prep["w_hrz"] = np.ascontiguousarray(w_hh[:2 * H])  # (2H, H)
    prep["w_hn"] = np.ascontiguousarray(w_hh[2 * H:])  # (H, H)
    prep["b_hn"] = b_hh[2 * H:]
    prep["reset_after"] = options["reset_after"]
    # The r and z weights are stored halved (exact in binary floating point), so that one
    # tanh gives σ(z) = ½·tanh(z/2) + ½ with no multiply before it; forward doubles the
    # recorded r_pre, z_pre back after each chunk, so the rows are those of computing z first.
    for k in ("w_ih_T", "w_hh_T", "w_hrz_T"):  # each its own array (projection's are new)
        prep[k][..., :2 * H] *= 0.5
    prep["bias"][:2 * H] *= 0.5
    return prep


def forward(buf: np.ndarray, state: tuple, p: dict, holds=None) -> tuple:
    (h,) = state
    H = h.shape[-1]
    lead = h.shape[:-1]
    reset_after = p["reset_after"]
    layout = LAYOUTS[reset_after]
    cols = layout.views(buf, H)
    rz_pre, rz = layout.span(buf, H, "r_pre", "z_pre"), layout.span(buf, H, "r", "z")
    half, one = np.array(0.5, buf.dtype), np.array(1, buf.dtype)  # 0-d: cheap ufunc operands
    dot, tanh, mul, add, sub = np.dot, np.tanh, np.multiply, np.add, np.subtract
    # the reset-gate column of each option: n_rec_reset (after the matmul) or h_reset (before)
    reset = cols.n_rec_reset if reset_after else cols.h_reset
    n_rec = cols.n_rec if reset_after else repeat(None)
    # scratch for the recurrent products (np.dot needs whole C-contiguous outputs)
    if reset_after:
        tmp = np.empty(lead + (3 * H,), buf.dtype)  # (…, 3H): [r/2, z/2, n] parts
        tmp_rz, tmp_n, w = tmp[..., :2 * H], tmp[..., 2 * H:], p["w_hh_T"]
    else:
        tmp_rz, tmp_n = np.empty(lead + (2 * H,), buf.dtype), np.empty(lead + (H,), buf.dtype)
        w_rz, w_n = p["w_hrz_T"], p["w_hn_T"]
    b_hn = p["b_hn"]
    rows = zip(rz_pre, rz, cols.n_pre, cols.r, cols.z, n_rec, reset, cols.n, cols.kept,
               cols.written, cols.h, holds or repeat(None), strict=False)
    for rz_pre_t, rz_t, n_pre, r, z, n_rec_t, reset_t, n, kept, written, h_out, held in rows:
        if reset_after:
            dot(h, w, tmp)
        else:
            dot(h, w_rz, tmp_rz)
        add(rz_pre_t, tmp_rz, rz_pre_t)  # halved: (W·[h, x] + b)/2 for r and z
        tanh(rz_pre_t, rz_t)
        mul(rz_t, half, rz_t)
        add(rz_t, half, rz_t)  # r, z = ½·tanh(pre/2) + ½
        if held is not None:
            put(held, "r", r)
            put(held, "z", z)
        if reset_after:
            add(tmp_n, b_hn, n_rec_t)
            add(n_pre, mul(r, n_rec_t, reset_t), n_pre)
        else:
            dot(mul(r, h, reset_t), w_n, tmp_n)
            add(n_pre, tmp_n, n_pre)
        tanh(n_pre, n)
        if held is not None:
            put(held, "n", n)
        mul(z, h, kept)
        mul(sub(one, z, written), n, written)
        h = add(kept, written, h_out)
        if held is not None:
            put(held, "h", h_out)
    rz_pre *= 2  # record the true pre-activations
    return (h,)


def backward(cols, state0: tuple, d_in: dict, carry: tuple, p: dict, holds=None,
             params: bool = True, totals: bool = False) -> ChunkGradients:
    """Reverse of forward over one chunk; d_in["h"] is dL/dh_t as recorded, (n, …, H).

    With δh the total gradient at step t: δn_pre = δh ⊙ (1 − z) ⊙ tanh′,
    δz_pre = δh ⊙ (h_{t−1} − n) ⊙ σ′(z), δh_{t−1} = δh ⊙ z + (recurrent products)."""
    (h0,) = state0
    dh_next = carry[0].copy()
    H, lead = cols.h.shape[-1], cols.h.shape[:-1]
    reset_after = p["reset_after"]
    h_prev = previous_rows(h0, cols.h)  # (n, …, H)
    slope_n = (1 - cols.z) * (1 - cols.n * cols.n)  # δn_pre / δh
    slope_z = (h_prev - cols.n) * cols.z * (1 - cols.z)  # δz_pre / δh
    # δr_pre per unit of the gradient reaching r ⊙ (…): the (…) it multiplied, times σ′(r)
    slope_r = (cols.n_rec if reset_after else h_prev) * cols.r * (1 - cols.r)
    # reset_after: the recurrent product W_hh·h_{t−1} meets δ as [δr_pre, δz_pre, r ⊙ δn_pre];
    # the input side as [δr_pre, δz_pre, δn_pre]. Before: both are [δr_pre, δz_pre, δn_pre],
    # and the n block of W_hh reads r ⊙ h_{t−1}.
    d_rec = np.empty(lead + (3 * H,), cols.h.dtype)  # (n, …, 3H)
    d_r, d_z, d_rec_n = d_rec[..., :H], d_rec[..., H:2 * H], d_rec[..., 2 * H:]
    d_n = np.empty_like(cols.h) if reset_after else d_rec_n
    d_rz = d_rec[..., :2 * H]
    record = {"h": np.empty_like(cols.h)} if totals else None
    dh, d_reset = np.empty_like(dh_next), np.empty_like(dh_next)
    w_hh, w_hrz, w_hn = p["w_hh"], p["w_hrz"], p["w_hn"]
    for j in range(lead[0] - 1, -1, -1):
        held = holds[j] if holds is not None else None
        np.add(d_in["h"][j], dh_next, out=dh)
        if record is not None:
            record["h"][j] = dh
        if held is not None:
            cut(held, "h", dh)
        np.multiply(dh, slope_n[j], out=d_n[j])
        np.multiply(dh, slope_z[j], out=d_z[j])
        if held is not None:
            cut(held, "n", d_n[j])
            cut(held, "z", d_z[j])
        if reset_after:
            np.multiply(d_n[j], slope_r[j], out=d_r[j])
            if held is not None:
                cut(held, "r", d_r[j])
            np.multiply(d_n[j], cols.r[j], out=d_rec_n[j])
            np.dot(d_rec[j], w_hh, out=dh_next)
        else:
            np.dot(d_n[j], w_hn, out=d_reset)  # δ(r ⊙ h_{t−1})
            np.multiply(d_reset, slope_r[j], out=d_r[j])
            if held is not None:
                cut(held, "r", d_r[j])
            np.dot(d_rz[j], w_hrz, out=dh_next)
            dh_next += d_reset * cols.r[j]
        dh_next += dh * cols.z[j]
    if reset_after:
        d_pre = np.concatenate([d_rz, d_n], axis=-1)  # (n, …, 3H), input side
    else:
        d_pre = d_rec
    grads = {}
    if params:
        if reset_after:
            grads = {"weight_hh": as_rows(d_rec).T @ as_rows(h_prev),
                     "bias_hh": as_rows(d_rec).sum(0)}
        else:
            grads = {"weight_hh": np.concatenate([as_rows(d_rz).T @ as_rows(h_prev),
                                                  as_rows(d_n).T @ as_rows(cols.h_reset)]),
                     "bias_hh": as_rows(d_rec).sum(0)}
    return ChunkGradients(d_pre, grads, (dh_next,), record)


GRU = Spec(
    name="gru", gate_letters="rzn", block_order=RZN, state_names=("h",),
    option_table=(RESET_AFTER,), describe=signals,
    layout=lambda options: LAYOUTS[options["reset_after"]],
    prepare=_prepare, forward=forward, backward=backward,
)
