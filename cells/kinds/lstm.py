"""The LSTM exactly as torch.nn.LSTM.

    i, f, o = σ(W·[h_{t−1}, x_t] + b)     g = tanh(W_g·[h_{t−1}, x_t] + b_g)
    c_t = f ⊙ c_{t−1} + i ⊙ g             h_t = o ⊙ tanh(c_t)

Internally the gate blocks are ordered i, f, o, g (canonical i, f, g, o), so the three
sigmoid gates are one contiguous slice. This is the benchmarked hot path: its sigmoid-gate
weights are stored halved, so one tanh call over all four blocks gives
σ(z) = ½·tanh(z/2) + ½ for i, f, o and tanh(z) for g. Halving is exact in binary floating
point, so the values are bit-for-bit those of computing z first; the recorded
pre-activations are doubled back (exactly) after each chunk.

Backward (Written Memories, r2rt 2016: the cell path c_{t−1} → c_t is multiplied only by f,
which is why gradients survive it): with δh, δc the total gradients at step t,
    δc += δh ⊙ o ⊙ (1 − tanh²c);  δo = δh ⊙ tanh c;  δi = δc ⊙ g;  δf = δc ⊙ c_{t−1};
    δg = δc ⊙ i;  δpre = δ(gate) ⊙ σ′ or tanh′;  δh_{t−1} = δpre·W_hh;  δc_{t−1} = δc ⊙ f.
"""

from __future__ import annotations

from itertools import repeat

import numpy as np

from ..signals import SIGNED, Signal, c_prev_input, gate, h_prev_input, signal, x_input
from .spec import (
    ChunkGradients,
    Layout,
    Spec,
    as_rows,
    cut,
    joined,
    permute_blocks,
    previous_rows,
    projection,
    put,
    to_canonical,
)

IFOG = (0, 1, 3, 2)  # internal block k is canonical block IFOG[k]: i, f, o, g
LAYOUT = Layout(("i_pre", "f_pre", "o_pre", "g_pre", "i", "f", "o", "g",
                 "kept", "written", "c", "tanh_c", "h"))
CONCAT = "[h_{t−1}, x_t]"


def signals(peephole: bool = False) -> tuple[Signal, ...]:
    """The LSTM's signals; with `peephole`, the gates also read the cell state."""
    reads = {
        "i": CONCAT + (" + p_i ⊙ c_{t−1}" if peephole else ""),
        "f": CONCAT + (" + p_f ⊙ c_{t−1}" if peephole else ""),
        "o": CONCAT + (" + p_o ⊙ c_t" if peephole else ""),
    }
    i_pre, i = gate("i", "input", "how much of the candidate is written", reads["i"], "gates")
    f_pre, f = gate("f", "forget", "how much of c_{t−1} is kept", reads["f"], "gates")
    # With peepholes the output gate looks at the new c_t, so it can only open after c_t.
    o_pre, o = gate("o", "output", "how much of tanh(c_t) is shown as h_t", reads["o"],
                    "output" if peephole else "gates")
    g_pre = signal("g_pre", "pre", "pre(c̃_t)", f"W_c·{CONCAT} + b_c", "affine",
                   description="the candidate before the tanh")
    g = signal("g", "candidate", "c̃_t", f"c̃_t = tanh(W_c·{CONCAT} + b_c)", "tanh", ["g_pre"],
               range=SIGNED, description="candidate: the new value that may be written")
    gates = (i_pre, f_pre, g_pre, i, f, g) + ((o_pre, o) if not peephole else ())
    tail = (o_pre, o) if peephole else ()
    return (
        x_input(), h_prev_input(), c_prev_input(), *gates,
        signal("kept", "product", "f_t ⊙ c_{t−1}", "f_t ⊙ c_{t−1}", "mul", ["f", "c_prev"],
               stage="forget", description="what the forget valve lets through of the old memory"),
        signal("written", "product", "i_t ⊙ c̃_t", "i_t ⊙ c̃_t", "mul", ["i", "g"],
               stage="write", description="what the input valve lets in of the candidate"),
        signal("c", "state", "c_t", "c_t = f_t ⊙ c_{t−1} + i_t ⊙ c̃_t", "add",
               ["kept", "written"], stage="state",
               description="the new cell state (the memory going out)"),
        *tail,
        signal("tanh_c", "output", "tanh(c_t)", "tanh(c_t)", "tanh", ["c"], stage="output",
               range=SIGNED, description="the cell state squashed to [−1, 1]"),
        signal("h", "output", "h_t", "h_t = o_t ⊙ tanh(c_t)", "mul", ["o", "tanh_c"],
               stage="output", range=SIGNED, description="the new hidden state and output"),
    )


def prepare(params: dict, options: dict, H: int, halve_sigmoid_gates: bool = False) -> dict:
    prep = projection(params, IFOG, H, params["bias_ih"] + params["bias_hh"])
    w_hh = np.ascontiguousarray(permute_blocks(params["weight_hh"], IFOG, H))  # (4H, H)
    prep["w_hh"] = w_hh  # for the backward product d_pre·W_hh, never halved
    prep["w_hh_T"] = np.ascontiguousarray(w_hh.T)  # (H, 4H)
    if halve_sigmoid_gates:
        for k in ("w_ih_T", "w_hh_T", "bias"):
            prep[k][..., : 3 * H] *= 0.5
    for k in ("peephole_i", "peephole_f", "peephole_o"):
        if k in params:
            prep[k] = params[k]
    return prep


def _prepare_halved(params: dict, options: dict, H: int) -> dict:
    return prepare(params, options, H, halve_sigmoid_gates=True)


def forward(buf: np.ndarray, state: tuple, p: dict, holds=None) -> tuple:
    c, h = state
    H = c.shape[-1]
    w_hh_T = p["w_hh_T"]
    tmp = np.empty(c.shape[:-1] + (4 * H,), buf.dtype)  # (…, 4H)
    half = np.array(0.5, buf.dtype)  # a 0-d array: the cheapest scalar operand for a ufunc
    # At small H the per-call overhead is the cost: local names, positional `out` arguments,
    # and row views made by iterating column blocks in C rather than slicing each row.
    dot, tanh, mul, add = np.dot, np.tanh, np.multiply, np.add
    cols = LAYOUT.views(buf, H)
    pre, act = LAYOUT.span(buf, H, "i_pre", "g_pre"), LAYOUT.span(buf, H, "i", "g")
    sig = LAYOUT.span(buf, H, "i", "o")
    rows = zip(pre, act, sig, cols.i, cols.f, cols.o, cols.g, cols.kept, cols.written, cols.c,
               cols.tanh_c, cols.h, holds or repeat(None), strict=False)
    for pre_t, act_t, sig_t, i, f, o, g, kept, written, c_out, tanh_c, h_out, held in rows:
        add(pre_t, dot(h, w_hh_T, tmp), pre_t)  # (4H,): z/2 for i, f, o; z for g
        tanh(pre_t, act_t)
        mul(sig_t, half, sig_t)
        add(sig_t, half, sig_t)  # i, f, o = ½·tanh(z/2) + ½
        if held is not None:
            for name, value in (("i", i), ("f", f), ("o", o), ("g", g)):
                put(held, name, value)
        add(mul(f, c, kept), mul(i, g, written), c_out)
        if held is not None:
            put(held, "c", c_out)
        c = c_out
        h = mul(o, tanh(c, tanh_c), h_out)
        if held is not None:
            put(held, "h", h_out)
    LAYOUT.span(buf, H, "i_pre", "o_pre")[:] *= 2  # record the true pre-activations
    return c, h


def backward(cols, state0: tuple, d_in: dict, carry: tuple, p: dict, holds=None,
             params: bool = True, totals: bool = False) -> ChunkGradients:
    """Reverse of forward over one chunk. d_in["h"], d_in["c"]: dL/dh_t, dL/dc_t (n, …, H)."""
    c0, h0 = state0
    dc_next, dh_next = carry
    H, lead = cols.c.shape[-1], cols.c.shape[:-1]  # lead: (n,) steps (and any batch)
    mul, sub = np.multiply, np.subtract
    # Everything that is not the recurrence, for all steps at once: the local derivative
    # of each pre-activation times the factor its gate is multiplied with. Written into
    # the array that becomes δpre (the loop scales each row in place), with no other
    # chunk-sized temporaries: at training sizes fresh arrays cost more than the math.
    act = joined(cols.i, cols.f, cols.o, cols.g)  # the four gates, adjacent in the row
    if act is None:
        act = np.concatenate([cols.i, cols.f, cols.o, cols.g], axis=-1)  # (n, …, 4H)
    d_pre = sub(1, act)  # (n, …, 4H), internal order i, f, o, g; here 1 − a ...
    mul(d_pre, act, d_pre)  # ... σ′ = a·(1 − a) for i, f, o ...
    d4 = d_pre.reshape(*lead, 4, H)
    slope_g = d4[..., 3, :]
    mul(cols.g, cols.g, slope_g)
    sub(1, slope_g, slope_g)  # ... tanh′ = 1 − g² for g
    d4[..., 0, :] *= cols.g  # δi_pre = δc ⊙ g ⊙ σ′
    d4[:1, ..., 1, :] *= c0  # δf_pre = δc ⊙ c_{t−1} ⊙ σ′
    d4[1:, ..., 1, :] *= cols.c[:-1]
    slope_o = mul(d4[..., 2, :], cols.tanh_c)  # δo_pre = δh ⊙ tanh c ⊙ σ′ (kept aside:
    d4[..., 3, :] *= cols.i  # δg_pre = δc ⊙ i ⊙ tanh′            the loop overwrites d4's)
    via_h = mul(cols.tanh_c, cols.tanh_c)
    sub(1, via_h, via_h)
    mul(cols.o, via_h, via_h)  # ∂h/∂c, (n, …, H)
    record = {"h": np.empty_like(cols.c), "c": np.empty_like(cols.c)} if totals else None
    w_hh = p["w_hh"]
    dot, add = np.dot, np.add
    dc_next, dh_next = dc_next.copy(), dh_next.copy()
    dh, dc, tmp = (np.empty_like(dh_next) for _ in range(3))  # (…, H)
    dc_blocks = dc[..., None, :]  # dc against each of the four gate blocks
    # Rows walked last to first, as views made in C (at small H, per-call overhead counts).
    back = slice(None, None, -1)
    rows = zip(d_in["h"][back], d_in["c"][back], via_h[back], d4[back], slope_o[back],
               d4[back, ..., 2, :], d_pre[back], cols.f[back],
               record["h"][back] if totals else repeat(None),
               record["c"][back] if totals else repeat(None),
               reversed(holds) if holds is not None else repeat(None), strict=False)
    for dh_t, dc_t, via_h_t, d4_t, slope_o_t, d_o, d_pre_t, f, rec_h, rec_c, held in rows:
        add(dh_t, dh_next, dh)
        if rec_h is not None:
            rec_h[:] = dh
        if held is not None:
            cut(held, "h", dh)
        add(dc_t, dc_next, dc)
        if rec_c is not None:  # ∂/∂c_t with h_t held: the two are the state after step t
            rec_c[:] = dc
        add(dc, mul(dh, via_h_t, tmp), dc)
        if held is not None:
            cut(held, "c", dc)
        mul(d4_t, dc_blocks, d4_t)  # δi_pre, δf_pre, δg_pre in place (δo_pre, next)
        mul(slope_o_t, dh, d_o)
        if held is not None:
            for k, name in enumerate("ifog"):
                cut(held, name, d4_t[..., k, :])
        dot(d_pre_t, w_hh, dh_next)  # (…, H)
        mul(dc, f, dc_next)
    grads = {}
    if params:
        h_prev = previous_rows(h0, cols.h)  # (n, …, H)
        grads = {"weight_hh": to_canonical(as_rows(d_pre).T @ as_rows(h_prev), IFOG, H),
                 "bias_hh": to_canonical(as_rows(d_pre).sum(0), IFOG, H)}
    return ChunkGradients(d_pre, grads, (dc_next, dh_next), record)


LSTM = Spec(
    name="lstm", gate_letters="ifgo", block_order=IFOG, state_names=("c", "h"),
    option_table=(), describe=lambda: signals(peephole=False), layout=lambda options: LAYOUT,
    prepare=_prepare_halved, forward=forward, backward=backward, forget_letter="f",
)
