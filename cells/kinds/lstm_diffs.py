"""The pseudo LSTM with the "LSTM diffs" of Written Memories (r2rt, 2016), "an empirical
comparison of the basic LSTM and the pseudo LSTM": the three ways the basic LSTM differs
from the pseudo LSTM, in every combination (the article's eight architectures).

    diff 1 (the hiccup): read comes after write, so a shadow state h_t = o_t ⊙ tanh(c_t) is
           passed to step t + 1, and the candidate is computed from it: its read gate o_t
           was computed at the previous step;
    diff 2: the gates are computed from the read-gated state instead of tanh(c_{t−1});
    diff 3: the output is the read-gated o_t ⊙ tanh(c_t) instead of tanh(c_t).

With diff 1 the gated state the gates read (diff 2) is the shadow h_{t−1}; without it
(architectures 5–7) the read gate is computed at time t from tanh(c_{t−1}) first, and the
write and forget gates read o_t ⊙ tanh(c_{t−1}). "123" is the basic LSTM (TensorFlow's
BasicLSTMCell, torch.nn.LSTM): the same parameters give the same numbers.

    r = tanh(c_{t−1})
    diff 1:   i, f, o = σ(W·a + U·x_t + b), a = h_{t−1} (diff 2) or r
              c̃ = tanh(W_g·h_{t−1} + U_g·x_t + b_g)
    no 1:     o = σ(W_o·r + U_o·x_t + b_o);  r̂ = o ⊙ r
              i, f = σ(W·a + U·x_t + b), a = r̂ (diff 2) or r
              c̃ = tanh(W_g·r̂ + U_g·x_t + b_g)
    c_t = f ⊙ c_{t−1} + i ⊙ c̃
    output: o ⊙ tanh(c_t) (diff 3) or tanh(c_t); with diff 1, h_t = o ⊙ tanh(c_t) is the
    state passed on, and the output is column tanh_c where diff 3 is absent.

The option value "" is the plain pseudo LSTM (cells.kinds.prototype_family).
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
    previous_rows,
    put,
    sigmoid_into,
    to_canonical,
)

DIFFS = ("", "1", "2", "3", "12", "13", "23", "123")
PRE = ("i_pre", "f_pre", "o_pre", "g_pre")  # internal block order i, f, o, g (IFOG)
C_SUM = "f_t ⊙ c_{t−1} + i_t ⊙ c̃_t"
READ = "tanh(c_{t−1})"


def layout(diffs: str) -> Layout:
    if "1" in diffs:
        read = () if "2" in diffs else ("read",)
        return Layout(PRE + read + ("i", "f", "o", "g", "kept", "written", "c", "tanh_c", "h"),
                      output="h" if "3" in diffs else "tanh_c")
    tail = ("tanh_c", "h") if "3" in diffs else ("h",)
    return Layout(PRE + ("read", "o", "read_gated", "i", "f", "g", "kept", "written", "c")
                  + tail)


def states(diffs: str) -> tuple[str, ...]:
    return ("c", "h") if "1" in diffs else ("c",)


def _gate(letter: str, name: str, role: str, read_label: str) -> tuple[Signal, Signal]:
    affine = f"W_{letter}·{read_label} + U_{letter}·x_t + b_{letter}"
    return (signal(f"{letter}_pre", "pre", f"pre({letter}_t)", affine, "affine",
                   description=f"the {name} gate before the sigmoid"),
            signal(letter, "gate", f"{letter}_t", f"{letter}_t = σ({affine})", "sigmoid",
                   [f"{letter}_pre"], range=UNIT, description=f"{name} gate: {role}"))


def signals(diffs: str) -> tuple[Signal, ...]:
    """The signals of one of the eight architectures, in computation order."""
    shadow = "1" in diffs
    out = [x_input(), c_prev_input()]
    if shadow:
        out.append(signal("h_prev", "input", "h_{t−1}", "h_{t−1} = o_{t−1} ⊙ tanh(c_{t−1})",
                          "input", stage="inputs",
                          description="the shadow state: the state read with the read gate "
                          "of the step before (LSTM diff 1)"))
    if not (shadow and "2" in diffs):
        out.append(signal("read", "state", READ, READ, "tanh", ["c_prev"],
                          description="the state as the gates read it (squashed)"))
    o_role = "how much of the state is read" + (" (into the shadow state h_t)" if shadow
                                               else "")
    if shadow:
        gated = "h_{t−1}" if "2" in diffs else READ
        gates = [_gate(k, n, r, gated) for k, n, r in (
            ("i", "write", "how much of the candidate is written"),
            ("f", "forget", "how much of c_{t−1} is kept"),
            ("o", "read", o_role))]
        out += [g[0] for g in gates] + [g[1] for g in gates]
        cand_read = "h_{t−1}"
    else:
        out += _gate("o", "read", o_role, READ)
        out.append(signal("read_gated", "product", f"o_t ⊙ {READ}", f"o_t ⊙ {READ}", "mul",
                          ["o", "read"], description="the read-gated prior state"))
        gated = f"(o_t ⊙ {READ})" if "2" in diffs else READ
        gates = [_gate(k, n, r, gated) for k, n, r in (
            ("i", "write", "how much of the candidate is written"),
            ("f", "forget", "how much of c_{t−1} is kept"))]
        out += [g[0] for g in gates] + [g[1] for g in gates]
        cand_read = f"(o_t ⊙ {READ})"
    g_eq = f"W·{cand_read} + U·x_t + b"
    out += [
        signal("g_pre", "pre", "pre(c̃_t)", g_eq, "affine",
               description="the candidate before the tanh"),
        signal("g", "candidate", "c̃_t", f"c̃_t = tanh({g_eq})", "tanh", ["g_pre"],
               range=SIGNED, description="candidate write"),
        signal("kept", "product", "f_t ⊙ c_{t−1}", "f_t ⊙ c_{t−1}", "mul", ["f", "c_prev"],
               stage="forget", description="what the forget gate keeps of the old state"),
        signal("written", "product", "i_t ⊙ c̃_t", "i_t ⊙ c̃_t", "mul", ["i", "g"],
               stage="write", description="what the write gate lets in of the candidate"),
        signal("c", "state", "c_t", f"c_t = {C_SUM}", "add", ["kept", "written"],
               stage="state", description="the new state"),
    ]
    if shadow or "3" in diffs:
        out.append(signal("tanh_c", "output", "tanh(c_t)", "tanh(c_t)", "tanh", ["c"],
                          stage="output", range=SIGNED,
                          description="the squashed state" + ("" if "3" in diffs or not shadow
                                                              else ": the output")))
        if shadow:
            what = ("the shadow state passed to the next step, and the output (LSTM diff 3)"
                    if "3" in diffs else "the shadow state passed to the next step (the "
                    "output is tanh(c_t))")
        else:
            what = "the output, read-gated (LSTM diff 3)"
        out.append(signal("h", "output", "h_t", "h_t = o_t ⊙ tanh(c_t)", "mul", ["o", "tanh_c"],
                          stage="output", range=SIGNED, description=what))
    else:
        out.append(signal("h", "output", "h_t", "h_t = tanh(c_t)", "tanh", ["c"],
                          stage="output", range=SIGNED,
                          description="the output: the squashed state"))
    return tuple(out)


def prepare(prep: dict, diffs: str, H: int) -> dict:
    """Adds to the pseudo LSTM's prepared weights the row blocks each architecture reads."""
    w = np.concatenate([prep["w_ifo"], prep["w_g"]])  # (4H, H), internal i, f, o, g
    prep["diffs"] = diffs
    for name, rows in (("w_if", slice(0, 2 * H)), ("w_o", slice(2 * H, 3 * H))):
        prep[name] = np.ascontiguousarray(w[rows])
        prep[name + "_T"] = np.ascontiguousarray(w[rows].T)
    return prep


def forward(buf: np.ndarray, state: tuple, p: dict, holds=None) -> tuple:
    diffs = p["diffs"]
    if "1" in diffs:
        return _forward_shadow(buf, state, p, holds, "2" in diffs)
    return _forward_now(buf, state, p, holds, "2" in diffs, "3" in diffs)


def _forward_shadow(buf, state, p, holds, gates_read_shadow: bool) -> tuple:
    """Diff 1: the candidate reads the shadow h_{t−1}; the gates h_{t−1} or tanh(c_{t−1})."""
    c, h = state
    H = c.shape[-1]
    lay = layout("12" if gates_read_shadow else "1")
    cols = lay.views(buf, H)
    tmp = np.empty(c.shape[:-1] + (3 * H,), buf.dtype)
    tmp_g = np.empty(c.shape, buf.dtype)
    reads = repeat(None) if gates_read_shadow else cols.read
    rows = zip(lay.span(buf, H, "i_pre", "o_pre"), lay.span(buf, H, "i", "o"), reads,
               cols.i, cols.f, cols.o, cols.g_pre, cols.g, cols.kept, cols.written, cols.c,
               cols.tanh_c, cols.h, holds or repeat(None), strict=False)
    for (ifo_pre, ifo, read, i, f, o, g_pre, g, kept, written, c_out, tanh_c, h_out,
         held) in rows:
        if gates_read_shadow:
            gated = h
        else:
            gated = np.tanh(c, out=read)
            if held is not None:
                put(held, "read", read)
        ifo_pre += np.dot(gated, p["w_ifo_T"], out=tmp)
        sigmoid_into(ifo_pre, ifo)
        g_pre += np.dot(h, p["w_g_T"], out=tmp_g)
        np.tanh(g_pre, out=g)
        if held is not None:
            for name, value in (("i", i), ("f", f), ("o", o), ("g", g)):
                put(held, name, value)
        np.add(np.multiply(f, c, out=kept), np.multiply(i, g, out=written), out=c_out)
        if held is not None:
            put(held, "c", c_out)
        np.multiply(o, np.tanh(c_out, out=tanh_c), out=h_out)
        if held is not None:
            put(held, "h", h_out)
        c, h = c_out, h_out
    return c, h


def _forward_now(buf, state, p, holds, gates_read_gated: bool, gated_output: bool) -> tuple:
    """No diff 1: the read gate at time t first, then the write and forget gates."""
    (c,) = state
    H = c.shape[-1]
    lay = layout(("2" if gates_read_gated else "") + ("3" if gated_output else ""))
    cols = lay.views(buf, H)
    tmp = np.empty(c.shape[:-1] + (2 * H,), buf.dtype)
    tmp_1 = np.empty(c.shape, buf.dtype)
    tanh_cs = cols.tanh_c if gated_output else repeat(None)
    rows = zip(lay.span(buf, H, "i_pre", "f_pre"), lay.span(buf, H, "i", "f"), cols.read,
               cols.o_pre, cols.o, cols.read_gated, cols.i, cols.f, cols.g_pre, cols.g,
               cols.kept, cols.written, cols.c, tanh_cs, cols.h, holds or repeat(None),
               strict=False)
    for (if_pre, if_, read, o_pre, o, read_gated, i, f, g_pre, g, kept, written, c_out, tanh_c,
         h_out, held) in rows:
        np.tanh(c, out=read)
        if held is not None:
            put(held, "read", read)
        o_pre += np.dot(read, p["w_o_T"], out=tmp_1)
        sigmoid_into(o_pre, o)
        if held is not None:
            put(held, "o", o)
        np.multiply(o, read, out=read_gated)
        if_pre += np.dot(read_gated if gates_read_gated else read, p["w_if_T"], out=tmp)
        sigmoid_into(if_pre, if_)
        g_pre += np.dot(read_gated, p["w_g_T"], out=tmp_1)
        np.tanh(g_pre, out=g)
        if held is not None:
            for name, value in (("i", i), ("f", f), ("g", g)):
                put(held, name, value)
        np.add(np.multiply(f, c, out=kept), np.multiply(i, g, out=written), out=c_out)
        if held is not None:
            put(held, "c", c_out)
        if gated_output:
            np.multiply(o, np.tanh(c_out, out=tanh_c), out=h_out)
        else:
            np.tanh(c_out, out=h_out)
        if held is not None:
            put(held, "h", h_out)
        c = c_out
    return (c,)


def backward(cols, state0: tuple, d_in: dict, carry: tuple, p: dict, holds=None,
             params: bool = True, totals: bool = False) -> ChunkGradients:
    """Reverse of forward over one chunk. d_in["h"], d_in["c"] (and d_in["tanh_c"], the
    output of diff 1 without diff 3): dL/d of each recorded signal per step."""
    diffs = p["diffs"]
    if "1" in diffs:
        return _backward_shadow(cols, state0, d_in, carry, p, holds, params, totals,
                                "2" in diffs)
    return _backward_now(cols, state0, d_in, carry, p, holds, params, totals, "2" in diffs,
                         "3" in diffs)


def _blocks(lead: tuple, H: int, dtype):
    d_pre = np.empty(lead + (4 * H,), dtype)  # internal order i, f, o, g
    d4 = d_pre.reshape(*lead, 4, H)
    return d_pre, [d4[..., k, :] for k in range(4)]


def _backward_shadow(cols, state0, d_in, carry, p, holds, params, totals,
                     gates_read_shadow: bool) -> ChunkGradients:
    c0, h0 = state0
    dc_next, dh_next = (a.copy() for a in carry)
    H, lead = cols.c.shape[-1], cols.c.shape[:-1]
    c_prev = previous_rows(c0, cols.c)
    h_prev = previous_rows(h0, cols.h)
    slope_i = cols.g * cols.i * (1 - cols.i)
    slope_f = c_prev * cols.f * (1 - cols.f)
    slope_o = cols.tanh_c * cols.o * (1 - cols.o)  # δo_pre = δh ⊙ tanh c ⊙ σ′
    slope_g = cols.i * (1 - cols.g * cols.g)
    via_tanh = 1 - cols.tanh_c * cols.tanh_c
    read_slope = None if gates_read_shadow else 1 - cols.read * cols.read
    d_tanh_in = d_in.get("tanh_c")
    d_pre, (d_i, d_f, d_o, d_g) = _blocks(lead, H, cols.c.dtype)
    d_ifo = d_pre[..., :3 * H]
    record = {"h": np.empty_like(cols.c), "c": np.empty_like(cols.c)} if totals else None
    dh, dc, d_tanh, d_read = (np.empty_like(dc_next) for _ in range(4))
    for j in range(lead[0] - 1, -1, -1):
        held = holds[j] if holds is not None else None
        np.add(d_in["h"][j], dh_next, out=dh)
        if record is not None:
            record["h"][j] = dh
        if held is not None:
            cut(held, "h", dh)
        np.multiply(dh, slope_o[j], out=d_o[j])
        np.multiply(dh, cols.o[j], out=d_tanh)
        if d_tanh_in is not None:
            d_tanh += d_tanh_in[j]
        np.add(d_in["c"][j], dc_next, out=dc)
        if record is not None:  # ∂/∂c_t with h_t held: the two are the state after step t
            record["c"][j] = dc
        dc += d_tanh * via_tanh[j]
        if held is not None:
            cut(held, "c", dc)
        np.multiply(dc, slope_i[j], out=d_i[j])
        np.multiply(dc, slope_f[j], out=d_f[j])
        np.multiply(dc, slope_g[j], out=d_g[j])
        if held is not None:
            for name, grad in (("i", d_i[j]), ("f", d_f[j]), ("o", d_o[j]), ("g", d_g[j])):
                cut(held, name, grad)
        np.dot(d_g[j], p["w_g"], out=dh_next)  # the candidate read h_{t−1}
        np.multiply(dc, cols.f[j], out=dc_next)
        if gates_read_shadow:
            dh_next += np.dot(d_ifo[j], p["w_ifo"], out=d_read)
        else:
            np.dot(d_ifo[j], p["w_ifo"], out=d_read)
            if held is not None:
                cut(held, "read", d_read)
            d_read *= read_slope[j]
            dc_next += d_read
    grads = {}
    if params:
        gated = h_prev if gates_read_shadow else cols.read
        w = np.concatenate([as_rows(d_ifo).T @ as_rows(gated),
                            as_rows(d_g).T @ as_rows(h_prev)])
        grads = {"weight_hh": to_canonical(w, IFOG, H),
                 "bias_hh": to_canonical(as_rows(d_pre).sum(0), IFOG, H)}
    return ChunkGradients(d_pre, grads, (dc_next, dh_next), record)


def _backward_now(cols, state0, d_in, carry, p, holds, params, totals, gates_read_gated: bool,
                  gated_output: bool) -> ChunkGradients:
    (c0,) = state0
    dc_next = carry[0].copy()
    H, lead = cols.c.shape[-1], cols.c.shape[:-1]
    c_prev = previous_rows(c0, cols.c)
    slope_i = cols.g * cols.i * (1 - cols.i)
    slope_f = c_prev * cols.f * (1 - cols.f)
    sig_o = cols.o * (1 - cols.o)
    slope_g = cols.i * (1 - cols.g * cols.g)
    read_slope = 1 - cols.read * cols.read
    if gated_output:
        via_h = cols.o * (1 - cols.tanh_c * cols.tanh_c)  # ∂h/∂c with o_t held
    else:
        via_h = 1 - cols.h * cols.h
    d_pre, (d_i, d_f, d_o, d_g) = _blocks(lead, H, cols.c.dtype)
    d_if = d_pre[..., :2 * H]
    record = {"h": np.array(d_in["h"], copy=True), "c": np.empty_like(cols.c)} \
        if totals else None
    dc, d_rg, d_read, d_out = (np.empty_like(dc_next) for _ in range(4))
    for j in range(lead[0] - 1, -1, -1):
        held = holds[j] if holds is not None else None
        dh = d_in["h"][j]
        if held is not None and "h" in held:
            dh = dh.copy()
            cut(held, "h", dh)
        np.add(d_in["c"][j], dc_next, out=dc)
        dc += dh * via_h[j]
        if record is not None:
            record["c"][j] = dc
        if held is not None:
            cut(held, "c", dc)
        np.multiply(dc, slope_i[j], out=d_i[j])
        np.multiply(dc, slope_f[j], out=d_f[j])
        np.multiply(dc, slope_g[j], out=d_g[j])
        if held is not None:
            for name, grad in (("i", d_i[j]), ("f", d_f[j]), ("g", d_g[j])):
                cut(held, name, grad)
        np.dot(d_g[j], p["w_g"], out=d_rg)  # δ(o ⊙ r)
        if gates_read_gated:
            d_rg += np.dot(d_if[j], p["w_if"], out=d_read)
        # δo: through o ⊙ r, and through the output o ⊙ tanh(c_t) (diff 3)
        np.multiply(d_rg, cols.read[j], out=d_out)
        if gated_output:
            d_out += dh * cols.tanh_c[j]
        np.multiply(d_out, sig_o[j], out=d_o[j])
        if held is not None:
            cut(held, "o", d_o[j])
        np.dot(d_o[j], p["w_o"], out=d_read)
        d_read += d_rg * cols.o[j]
        if not gates_read_gated:
            d_read += np.dot(d_if[j], p["w_if"], out=d_out)
        if held is not None:
            cut(held, "read", d_read)
        d_read *= read_slope[j]
        np.multiply(dc, cols.f[j], out=dc_next)
        dc_next += d_read
    grads = {}
    if params:
        gated = cols.read_gated if gates_read_gated else cols.read
        w = np.concatenate([as_rows(d_if).T @ as_rows(gated),
                            as_rows(d_o).T @ as_rows(cols.read),
                            as_rows(d_g).T @ as_rows(cols.read_gated)])
        grads = {"weight_hh": to_canonical(w, IFOG, H),
                 "bias_hh": to_canonical(as_rows(d_pre).sum(0), IFOG, H)}
    return ChunkGradients(d_pre, grads, (dc_next,), record)
