"""The recurrence shared by the cells Written Memories (r2rt, 2016) derives before the LSTM:
the prototype LSTM and its normalized and pseudo variants, with the article's state s
named c. Each kind's own module holds its Spec, stored columns and signals; the math they
share is here once, switched by two flags (`squash_read`, `normalize`).

They reuse the LSTM layout: the i, f, o blocks of weight_hh act on the state read r_{t−1}
(c_{t−1}, or tanh(c_{t−1}) in the pseudo LSTM) and the g block on o_t ⊙ r_{t−1}.

    i, f, o = σ(W·r_{t−1} + U·x_t + b)        c̃ = tanh(W_g·(o ⊙ r_{t−1}) + U_g·x_t + b_g)
    ĉ_t = f ⊙ c_{t−1} + i ⊙ c̃
    prototype:  c_t = ĉ_t,  h_t = c_t
    normalized: c_t = ĉ_t / √(var(ĉ_t) + 1), the variance over the H units (ddof 0); h_t = c_t
    pseudo:     r = tanh(c_{t−1}), c_t = ĉ_t, h_t = tanh(c_t)
"""

from __future__ import annotations

from itertools import repeat

import numpy as np

from ..signals import SIGNED, UNIT, Signal, c_prev_input, signal, x_input
from .lstm import IFOG
from .spec import (
    ChunkGradients,
    Layout,
    as_rows,
    cut,
    permute_blocks,
    previous_rows,
    projection,
    put,
    sigmoid_into,
    to_canonical,
)

# Stored columns every member has, in computation order; each kind appends its state ones.
BASE = ("i_pre", "f_pre", "o_pre", "g_pre", "read", "i", "f", "o", "read_gated", "g",
        "kept", "written")
C_SUM = "f_t ⊙ c_{t−1} + i_t ⊙ c̃_t"


def shared_signals(pseudo: bool) -> tuple[Signal, ...]:
    """The signals every member has, from the input to the write (state and output apart)."""
    read_label = "tanh(c_{t−1})" if pseudo else "c_{t−1}"
    read = signal("read", "state", read_label, read_label, "tanh" if pseudo else "identity",
                  ["c_prev"], description="the state as the gates read it"
                  + (" (squashed)" if pseudo else ""))
    roles = (("i", "write", "how much of the candidate is written"),
             ("f", "forget", "how much of c_{t−1} is kept"),
             ("o", "read", "how much of the state the candidate sees"))
    pres, gates = [], []
    for letter, name, role in roles:
        affine = f"W_{letter}·{read_label} + U_{letter}·x_t + b_{letter}"
        pres.append(signal(f"{letter}_pre", "pre", f"pre({letter}_t)", affine, "affine",
                           description=f"the {name} gate before the sigmoid"))
        gates.append(signal(letter, "gate", f"{letter}_t", f"{letter}_t = σ({affine})",
                            "sigmoid", [f"{letter}_pre"], range=UNIT,
                            description=f"{name} gate: {role}"))
    g_eq = f"W·(o_t ⊙ {read_label}) + U·x_t + b"
    return (
        x_input(), c_prev_input(), read, *pres, *gates,
        signal("read_gated", "product", f"o_t ⊙ {read_label}", f"o_t ⊙ {read_label}", "mul",
               ["o", "read"],
               description="the gated prior state the candidate is computed from"),
        signal("g_pre", "pre", "pre(c̃_t)", g_eq, "affine",
               description="the candidate before the tanh"),
        signal("g", "candidate", "c̃_t", f"c̃_t = tanh({g_eq})", "tanh", ["g_pre"],
               range=SIGNED, description="candidate write"),
        signal("kept", "product", "f_t ⊙ c_{t−1}", "f_t ⊙ c_{t−1}", "mul", ["f", "c_prev"],
               stage="forget", description="what the forget gate keeps of the old state"),
        signal("written", "product", "i_t ⊙ c̃_t", "i_t ⊙ c̃_t", "mul", ["i", "g"],
               stage="write", description="what the write gate lets in of the candidate"),
    )


def prepare(params: dict, options: dict, H: int) -> dict:
    prep = projection(params, IFOG, H, params["bias_ih"] + params["bias_hh"])
    w = permute_blocks(params["weight_hh"], IFOG, H)  # (4H, H), internal i, f, o, g
    prep["w_ifo"] = np.ascontiguousarray(w[:3 * H])  # (3H, H): reads r_{t−1}
    prep["w_g"] = np.ascontiguousarray(w[3 * H:])  # (H, H): reads o ⊙ r_{t−1}
    prep["w_ifo_T"] = np.ascontiguousarray(prep["w_ifo"].T)
    prep["w_g_T"] = np.ascontiguousarray(prep["w_g"].T)
    return prep


def make_forward(layout: Layout, squash_read: bool, normalize: bool):
    def forward(buf: np.ndarray, state: tuple, p: dict, holds=None) -> tuple:
        (c,) = state
        H = c.shape[-1]
        w_ifo_T, w_g_T = p["w_ifo_T"], p["w_g_T"]
        tmp = np.empty(c.shape[:-1] + (3 * H,), buf.dtype)  # (…, 3H)
        tmp_g = np.empty(c.shape, buf.dtype)  # (…, H)
        cols = layout.views(buf, H)
        c_raw = cols.c_raw if normalize else repeat(None)
        c_scale = cols.c_scale if normalize else repeat(None)
        rows = zip(layout.span(buf, H, "i_pre", "o_pre"), layout.span(buf, H, "i", "o"),
                   cols.read, cols.i, cols.f, cols.o, cols.read_gated, cols.g_pre, cols.g,
                   cols.kept, cols.written, c_raw, c_scale, cols.c, cols.h,
                   holds or repeat(None), strict=False)
        for (ifo_pre, ifo, read, i, f, o, read_gated, g_pre, g, kept, written, raw, scale,
             c_out, h_out, held) in rows:
            if squash_read:
                np.tanh(c, out=read)
            else:
                read[:] = c
            if held is not None:
                put(held, "read", read)
            ifo_pre += np.dot(read, w_ifo_T, out=tmp)
            sigmoid_into(ifo_pre, ifo)  # i, f, o
            if held is not None:
                for name, value in (("i", i), ("f", f), ("o", o)):
                    put(held, name, value)
            np.multiply(o, read, out=read_gated)
            g_pre += np.dot(read_gated, w_g_T, out=tmp_g)
            np.tanh(g_pre, out=g)
            if held is not None:
                put(held, "g", g)
            np.multiply(f, c, out=kept)
            np.multiply(i, g, out=written)
            if normalize:
                np.add(kept, written, out=raw)
                if held is not None:
                    put(held, "c_raw", raw)
                scale[:] = np.sqrt(raw.var(-1, keepdims=True) + 1)  # over the units
                np.divide(raw, scale, out=c_out)
            else:
                np.add(kept, written, out=c_out)
            if held is not None:
                put(held, "c", c_out)
            c = c_out
            if squash_read:
                np.tanh(c, out=h_out)
            else:
                h_out[:] = c
            if held is not None:
                put(held, "h", h_out)
        return (c,)

    return forward


def make_backward(squash_read: bool, normalize: bool):
    def backward(cols, state0: tuple, d_in: dict, carry: tuple, p: dict, holds=None,
                 params: bool = True, totals: bool = False) -> ChunkGradients:
        """Reverse of forward over one chunk; d_in["c"] is dL/dc_t, d_in["h"] dL/dh_t for
        the output signal h (not fed back: its only path is through c_t)."""
        (c0,) = state0
        dc_next = carry[0].copy()
        H, lead = cols.c.shape[-1], cols.c.shape[:-1]
        c_prev = previous_rows(c0, cols.c)  # (n, …, H)
        slope_i = cols.g * cols.i * (1 - cols.i)
        slope_f = c_prev * cols.f * (1 - cols.f)
        slope_o = cols.read * cols.o * (1 - cols.o)
        slope_g = cols.i * (1 - cols.g * cols.g)
        via_h = 1 - cols.h * cols.h if squash_read else None  # ∂h/∂c
        read_slope = 1 - cols.read * cols.read if squash_read else None  # ∂read/∂c_{t−1}
        if normalize:
            inv_scale = 1 / cols.c_scale  # (n, …, H), one value per step
            # ∂s/∂ĉ as it enters δĉ = δc/s − (δc·c)/s² · (ĉ − mean ĉ)/H
            centred = (cols.c_raw - cols.c_raw.mean(-1, keepdims=True)) \
                / (H * cols.c_scale * cols.c_scale)
        d_pre = np.empty(lead + (4 * H,), cols.c.dtype)  # internal order i, f, o, g
        d4 = d_pre.reshape(*lead, 4, H)
        blocks = [d4[..., k, :] for k in range(4)]  # (n, …, H) each: δ of i, f, o, g _pre
        d_ifo = d_pre[..., :3 * H]
        record = {"h": np.array(d_in["h"], copy=True), "c": np.empty_like(cols.c)} \
            if totals else None
        w_ifo, w_g = p["w_ifo"], p["w_g"]
        dc, d_rg, d_read = (np.empty_like(dc_next) for _ in range(3))
        for j in range(lead[0] - 1, -1, -1):
            held = holds[j] if holds is not None else None
            d_i, d_f, d_o, d_g = (b[j] for b in blocks)
            dh = d_in["h"][j]
            if held is not None and "h" in held:
                dh = dh.copy()
                cut(held, "h", dh)
            np.add(d_in["c"][j], dc_next, out=dc)
            if squash_read:
                dc += dh * via_h[j]
            else:
                dc += dh
            if record is not None:
                record["c"][j] = dc
            if held is not None:
                cut(held, "c", dc)
            if normalize:
                d_raw = dc * inv_scale[j] - (dc * cols.c[j]).sum(-1, keepdims=True) * centred[j]
                if held is not None:
                    cut(held, "c_raw", d_raw)
            else:
                d_raw = dc
            np.multiply(d_raw, slope_i[j], out=d_i)
            np.multiply(d_raw, slope_f[j], out=d_f)
            np.multiply(d_raw, slope_g[j], out=d_g)
            if held is not None:
                for name, grad in (("i", d_i), ("f", d_f), ("g", d_g)):
                    cut(held, name, grad)
            np.dot(d_g, w_g, out=d_rg)  # δ(o ⊙ r)
            np.multiply(d_rg, slope_o[j], out=d_o)
            if held is not None:
                cut(held, "o", d_o)
            np.dot(d_ifo[j], w_ifo, out=d_read)
            d_read += d_rg * cols.o[j]
            if held is not None:
                cut(held, "read", d_read)
            if squash_read:
                d_read *= read_slope[j]
            np.multiply(d_raw, cols.f[j], out=dc_next)
            dc_next += d_read
        grads = {}
        if params:
            w = np.concatenate([as_rows(d_ifo).T @ as_rows(cols.read),
                                as_rows(blocks[3]).T @ as_rows(cols.read_gated)])
            grads = {"weight_hh": to_canonical(w, IFOG, H),
                     "bias_hh": to_canonical(as_rows(d_pre).sum(0), IFOG, H)}
        return ChunkGradients(d_pre, grads, (dc_next,), record)

    return backward
