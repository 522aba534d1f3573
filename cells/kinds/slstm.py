"""sLSTM (Beck et al. 2024, "xLSTM: Extended Long Short-Term Memory").

    raw = W·x_t + R·h_{t−1} + b, R block-diagonal over heads      (blocks ĩ, f̃, z̃, õ)
    m_t = max(ĩ, m_{t−1} + log σ(f̃))                              (the stabilizer)
    i_t = exp(ĩ − m_t)        f_t = exp(m_{t−1} + log σ(f̃) − m_t)
    c_t = f_t ⊙ c_{t−1} + i_t ⊙ tanh(z̃)      n_t = f_t ⊙ n_{t−1} + i_t
    h_t = σ(õ) ⊙ c_t / n_t

The input gate is exponential: a write can outweigh everything kept so far (revise a
stored value), which a σ gate bounded by 1 cannot. c and n are the true cell state and
normalizer scaled by exp(−m_t), so they stay finite; the scale cancels in c/n, which is why
h does not depend on the stabilizer at all (m only keeps exp from overflowing).

Heads (option `heads`): the units form `heads` contiguous groups of near-equal size
(unit u is in head ⌊u·heads/H⌋) and h_{t−1} of one head reaches only its own head's gates.
weight_hh keeps the canonical (4H, H) layout; its entries between heads are not wires:
they are masked to zero in every computation and never receive a gradient, and a weight
edit there is refused.

Canonical parameters: blocks i, f, z, o (xlstm's gate order in its cell's pre-activation).
"""

from __future__ import annotations

from itertools import repeat

import numpy as np

from ..signals import SIGNED, UNIT, Signal, c_prev_input, h_prev_input, signal, x_input
from .min_gru import log_sigmoid
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

HEADS = Option("heads", (1, 2, 4), 1)
# False: the plain exponential gates, m never updated (m_t = m_{t−1}, 0 from the start):
# i = exp(ĩ), f = σ(f̃) — the same h as with the stabilizer, while c and n are not rescaled
STABILIZED = Option("stabilized", (True, False), True)
IFZO = (0, 1, 2, 3)
# From this H on, equal heads are multiplied head by head (a batched matmul, then a strided
# add onto the gates' columns); below it one masked full product is faster (measured on one
# thread, float32: at H = 128 the batched form costs 1.8x the full one, at H = 256 0.4x)
HEADS_MATMUL_FROM = 256
# The order lets one call cover several signals where the step allows (see _forward_free):
# [z, o] from one tanh, [f, i] from one subtraction and one exp, [kept, ·, written] =
# [f, f, i]·[c, n, z] from one multiplication (f·n_{t−1} made in h's column, which is
# written only after) and [c, n] from one addition; kept beside m takes m_t's second copy
# from the maximum.
LAYOUT = Layout(("i_pre", "f_pre", "z_pre", "o_pre", "c", "n", "z", "o",
                 "f", "i", "m", "kept", "h", "written"))
SPLIT = 8  # the row's first SPLIT columns and the rest lie apart in _forward_free's line
RAW = "W·x_t + R·h_{t−1} + b"


def head_of_units(H: int, heads: int) -> np.ndarray:
    """The head of each unit: contiguous groups of near-equal size."""
    return np.arange(H) * heads // H


def recurrent_mask(options: dict, H: int) -> np.ndarray:
    """(4H, H) bool: weight_hh[g·H + u, j] is a wire when units u and j share a head."""
    head = head_of_units(H, options["heads"])
    return np.tile(head[:, None] == head[None, :], (4, 1))


def signals(heads: int = 1, stabilized: bool = True) -> tuple[Signal, ...]:
    def pre(letter, what):
        return signal(f"{letter}_pre", "pre", f"{letter}̃_t", f"W_{letter}·x_t + "
                      f"R_{letter}·h_{{t−1}} + b_{letter}", "affine",
                      description=f"the {what} before its activation"
                      + (" (R within each head)" if heads > 1 else ""))

    return (
        x_input(), h_prev_input(), c_prev_input(),
        signal("n_prev", "state", "n_{t−1}", "n_{t−1}", "input", stage="inputs",
               description="the previous normalizer"),
        signal("m_prev", "state", "m_{t−1}", "m_{t−1}", "input", stage="inputs",
               description="the previous stabilizer"),
        pre("i", "input gate"), pre("f", "forget gate"), pre("z", "candidate"),
        pre("o", "output gate"),
        signal("m", "state", "m_t", "m_t = max(ĩ_t, m_{t−1} + log σ(f̃_t))", "max_log",
               ["i_pre", "f_pre", "m_prev"],
               description="stabilizer: the log of the scale c and n are kept at, so that "
                           "exp never overflows; h does not depend on it")
        if stabilized else
        signal("m", "state", "m_t", "m_t = m_{t−1}", "identity", ["m_prev"],
               description="stabilizer, not updated (stabilized: False): the plain "
                           "exponential gates i = exp(ĩ), f = σ(f̃) when it starts at 0"),
        signal("i", "gate", "i_t", "i_t = exp(ĩ_t − m_t)", "exp_minus", ["i_pre", "m"],
               range=UNIT if stabilized else None,
               description="exponential input gate, stabilized (at most 1 since m_t ≥ ĩ_t; "
                           "unbounded before the stabilizer, so a write can outweigh all "
                           "that is kept)" if stabilized else
                           "exponential input gate: unbounded, so a write can outweigh all "
                           "that is kept"),
        signal("f", "gate", "f_t", "f_t = exp(m_{t−1} + log σ(f̃_t) − m_t)",
               "stabilized_forget", ["f_pre", "m_prev", "m"], range=UNIT,
               description="forget gate σ(f̃), stabilized: how much of c_{t−1} and n_{t−1} "
                           "is kept"),
        signal("z", "candidate", "z_t", "z_t = tanh(z̃_t)", "tanh", ["z_pre"], range=SIGNED,
               description="candidate: the new value that may be written"),
        signal("o", "gate", "o_t", "o_t = σ(õ_t)", "sigmoid", ["o_pre"], range=UNIT,
               description="output gate: how much of c_t/n_t is shown"),
        signal("kept", "product", "f_t ⊙ c_{t−1}", "f_t ⊙ c_{t−1}", "mul", ["f", "c_prev"],
               stage="forget", description="what the forget valve lets through of the old "
                                           "memory"),
        signal("written", "product", "i_t ⊙ z_t", "i_t ⊙ z_t", "mul", ["i", "z"],
               stage="write", description="what the exponential input valve lets in"),
        signal("c", "state", "c_t", "c_t = f_t ⊙ c_{t−1} + i_t ⊙ z_t", "add",
               ["kept", "written"], stage="state", description="the new cell state"),
        signal("n", "state", "n_t", "n_t = f_t ⊙ n_{t−1} + i_t", "mul_add",
               ["f", "n_prev", "i"], stage="state",
               description="normalizer: the total weight of everything written, kept as c is"),
        signal("h", "output", "h_t", "h_t = o_t ⊙ c_t / n_t", "mul_div", ["o", "c", "n"],
               stage="output", description="the new hidden state and output: the "
                                           "weighted average of what was written, gated "
                                           "(0 where n_t = 0: nothing written)"),
    )


def prepare(params: dict, options: dict, H: int) -> dict:
    prep = projection(params, IFZO, H, params["bias_ih"] + params["bias_hh"])  # new arrays
    mask = recurrent_mask(options, H)
    prep["mask"] = mask
    prep["w_hh"] = params["weight_hh"] * mask  # (4H, H): no wires between heads
    prep["w_hh_T"] = np.ascontiguousarray(prep["w_hh"].T)
    prep["stabilized"] = options["stabilized"]
    # The o block stored halved (exact in binary floating point), as the LSTM's sigmoid
    # gates: one tanh over [z̃, õ/2] gives z and, after ½·t + ½, o = σ(õ). The f block
    # stored negated (exact too), so the softplus(−f̃) in log σ(f̃) reads it directly.
    # forward doubles and negates the recorded pre-activations back; backward reads the
    # unscaled w_hh.
    for k in ("w_ih_T", "w_hh_T", "bias"):
        prep[k][..., 3 * H:] *= 0.5
        np.negative(prep[k][..., H:2 * H], out=prep[k][..., H:2 * H])
    heads = options["heads"]
    if heads > 1 and H % heads == 0 and H >= HEADS_MATMUL_FROM:
        # Equal heads: h_{t−1} of head k times its own (d, 4d) block only, one batched
        # matmul over heads (a 1/heads share of the masked full product's work). Columns
        # of block k: the gates i, f, z, o of head k's units, in that order.
        d = H // heads
        blocks = prep["w_hh_T"].reshape(heads, d, 4, heads, d)
        prep["w_hh_heads"] = np.ascontiguousarray(
            np.stack([blocks[k, :, :, k, :] for k in range(heads)]).reshape(heads, d, 4 * d))
        prep["w_hh_heads_half"] = prep["w_hh_heads"] * 0.5
    prep["w_hh_T_half"] = prep["w_hh_T"] * 0.5  # for h′ = 2·h (see _forward_free)
    return prep


def softplus_limit(dtype) -> float:
    """The largest −f̃ for which log(1 + exp(−f̃)) is computed as written (exp finite)."""
    return float(np.floor(np.log(np.finfo(dtype).max))) - 1


def forward(buf: np.ndarray, state: tuple, p: dict, holds=None) -> tuple:
    """log σ(f̃) = −log(1 + exp(−f̃)) in both loops: three cheap calls in place of one
    logaddexp, which at small H costs four times an exp; its error is a rounding of the
    log's argument, so an absolute one of about one unit in the last place. Only where
    exp(−f̃) overflows (f̃ below −87 in float32, −708 in float64) is it wrong, so a chunk
    with such a step is computed once more, with logaddexp in those units: the input
    projections are kept until the chunk is done."""
    H = state[0].shape[-1]
    raw = LAYOUT.span(buf, H, "i_pre", "o_pre")
    cols = LAYOUT.views(buf, H)
    projections = raw.copy()
    with np.errstate(over="ignore"):  # exp(−f̃) = inf, if it occurs, is redone below
        if holds is None:
            end = _forward_free(buf, state, p)
        else:
            end = _forward_general(buf, state, p, holds)
        limit = softplus_limit(buf.dtype)
        if len(buf) and cols.f_pre.max() > limit:  # −f̃, recorded negated until below
            raw[...] = projections
            end = _forward_general(buf, state, p, holds, limit)
    cols.o_pre[:] *= 2  # record the true pre-activations (halving, doubling and negating
    np.negative(cols.f_pre, out=cols.f_pre)  # are exact)
    return end


def _forward_free(buf: np.ndarray, state: tuple, p: dict) -> tuple:
    """Step by step without holds. At small H the cost is per call, not per number: each
    step makes only the calls the recurrence needs, each on one contiguous view (a
    broadcast over two rows costs three calls' time), and works in one line of its own
    whose views are made once — the state (c, n, m, h) carried in it in place — copied
    into the trace's row in two pieces (a copy costs a third of a ufunc call).

    The line, in columns of H: [ĩ's copy, a | the row's first SPLIT columns | 1 + exp(−f̃),
    f's copy | the row's other columns | i's copy], where a = m_{t−1} + log σ(f̃). So that
    each group of values one call makes or reads is contiguous: [a, ĩ] and [ĩ, a] (max of
    the two gives m_t twice, into m and kept's column; [a, ĩ] − [m_t, m_t] both gates'
    exponents), [o, 1 + exp(−f̃)] (one addition of 1 for both), [f, f, i]·[c, n, z] =
    [kept, f·n_{t−1}, written] and [kept, f·n_{t−1}] + [written, i] = [c, n].

    o and h are carried doubled: o′ = 1 + tanh(õ/2) = 2·o and h′ = o′·c/n = 2·h, with R
    halved (p["w_hh_T_half"]) so that R/2 · h′ = R·h; halving is exact in binary floating
    point, so the recorded o and h, halved once after the loop, are the same numbers as
    o = ½·tanh(õ/2) + ½ and h = o·c/n step by step (one call per step fewer)."""
    H = state[0].shape[-1]
    lead = state[0].shape[:-1]
    line = np.empty(lead + ((len(LAYOUT) + 5) * H,), buf.dtype)

    def at(first: str, last: str | None = None) -> np.ndarray:
        a, b = (LAYOUT.index[k] for k in (first, last or first))
        a, b = (k + 2 + 2 * (k >= SPLIT) for k in (a, b))  # after [ĩ's copy, a] and the gap
        return line[..., a * H:(b + 1) * H]

    first, second = line[..., 2 * H:(2 + SPLIT) * H], line[..., (4 + SPLIT) * H:-H]
    softplus = line[..., (2 + SPLIT) * H:(3 + SPLIT) * H]  # 1 + exp(−f̃), then its log
    f_copy = line[..., (3 + SPLIT) * H:(4 + SPLIT) * H]
    i_copy, a, i_last = line[..., :H], line[..., H:2 * H], line[..., -H:]
    a_i, i_a = line[..., H:3 * H], line[..., :2 * H]  # [a, ĩ], [ĩ's copy, a]
    o_softplus = line[..., (1 + SPLIT) * H:(3 + SPLIT) * H]  # [o, 1 + exp(−f̃)]
    f_f_i = line[..., (3 + SPLIT) * H:(6 + SPLIT) * H]  # [f's copy, f, i]
    written_i = line[..., -2 * H:]  # [written, i's copy]
    c, n, o, h = at("c"), at("n"), at("o"), at("h")
    c[...], n[...], at("m")[...] = state[:3]
    np.multiply(state[3], 2, out=h)  # h′ before the first step
    raw_in = LAYOUT.span(buf, H, "i_pre", "o_pre")  # W·x_t + b, per row
    raw = at("i_pre", "o_pre")
    zo_pre, zo = at("z_pre", "o_pre"), at("z", "o")
    i_pre, nf_pre, m, f, i = at("i_pre"), at("f_pre"), at("m"), at("f"), at("i")
    m_m, gates_fi = at("m", "kept"), at("f", "i")
    c_n_z, c_n = at("c", "z"), at("c", "n")
    products, kept_fn = at("kept", "written"), at("kept", "h")  # [kept, f·n_{t−1}, written]
    w_heads = p.get("w_hh_heads_half")
    h_in = h
    if w_heads is None:
        w_rec = p["w_hh_T_half"]
        tmp = np.empty(lead + (4 * H,), buf.dtype)
        raw_rows, tmp_sum = raw_in, tmp
    else:  # per head: (…, heads, 1, d) @ (heads, d, 4d), added onto its gates' columns
        heads, d = w_heads.shape[0], w_heads.shape[1]
        w_rec = w_heads
        h_in = h.reshape(lead + (heads, 1, d))
        tmp = np.empty(lead + (heads, 1, 4 * d), buf.dtype)
        tmp_sum = tmp.reshape(lead + (heads, 4, d))
        raw_rows = np.swapaxes(raw_in.reshape(raw_in.shape[:-1] + (4, heads, d)), -3, -2)
        raw = np.swapaxes(raw.reshape(raw.shape[:-1] + (4, heads, d)), -3, -2)
    if not np.shares_memory(h_in, line):  # a reshape that had to copy: made per step
        h_in = None
    one = np.array(1, buf.dtype)
    exp, log, tanh, mul, add, sub = np.exp, np.log, np.tanh, np.multiply, np.add, np.subtract
    product = np.dot if w_heads is None else np.matmul
    divide, maximum = np.divide, np.maximum
    stabilized = p["stabilized"]
    # n_t = 0 (nothing written) needs the guarded division. Stabilized it cannot follow a
    # step with n > 0 in every unit: m_t is ĩ or a, so i or f is exp(0) = 1 and
    # n_t = f·n_{t−1} + i ≥ min(1, n_{t−1}) > 0; so n is looked at only until then
    # (a reduction per step is as dear as a ufunc call at small H).
    watch_n = True
    rows = zip(raw_rows, buf[..., :SPLIT * H], buf[..., SPLIT * H:], strict=True)
    for raw_t, row_first, row_second in rows:
        if h_in is None:
            product(h.reshape(lead + (heads, 1, d)), w_rec, tmp)
        else:
            product(h_in, w_rec, tmp)
        add(raw_t, tmp_sum, raw)  # f̃ negated (negated weights)
        tanh(zo_pre, zo)  # z = tanh(z̃); tanh(õ/2) (halved weights)
        exp(nf_pre, softplus)
        add(o_softplus, one, o_softplus)  # o′ = 2·o; 1 + exp(−f̃)
        log(softplus, softplus)  # softplus(−f̃) = −log σ(f̃)
        sub(m, softplus, a)  # a = m_{t−1} + log σ(f̃)
        if stabilized:  # m_t = max(ĩ, a) into m and kept's columns, else m_t = m_{t−1}
            i_copy[...] = i_pre
            maximum(a_i, i_a, out=m_m)
            sub(a_i, m_m, gates_fi)
        else:
            sub(a, m, f)
            sub(i_pre, m, i)
        exp(gates_fi, gates_fi)  # f = exp(a − m_t), i = exp(ĩ − m_t)
        f_copy[...] = f
        i_last[...] = i
        mul(f_f_i, c_n_z, products)  # kept, f·n_{t−1} (in h's column for now), written
        add(kept_fn, written_i, c_n)  # c = kept + written, n = f·n_{t−1} + i
        mul(o, c, h)
        if watch_n and not n.all():  # nothing written in some unit: h reads 0 there
            written_any = n != 0
            divide(h, n, out=h, where=written_any)
            h[~written_any] = 0
        else:
            divide(h, n, h)
            watch_n = not stabilized
        row_first[...] = first
        row_second[...] = second
    cols = LAYOUT.views(buf, H)
    cols.o[:] *= 0.5  # o′ and h′ halved back (exact)
    cols.h[:] *= 0.5
    if len(buf) == 0:
        return state
    return cols.c[-1], cols.n[-1], cols.m[-1], cols.h[-1]


def _forward_general(buf: np.ndarray, state: tuple, p: dict, holds=None,
                     limit: float | None = None) -> tuple:
    """Step by step with holds: each value the step makes may be held in place. With
    `limit`, log σ(f̃) by logaddexp where −f̃ exceeds it (see forward)."""
    c, n, m, h = state
    H = c.shape[-1]
    lead = c.shape[:-1]
    cols = LAYOUT.views(buf, H)
    raw = LAYOUT.span(buf, H, "i_pre", "o_pre")
    gates_if = LAYOUT.span(buf, H, "f", "i")  # f and i side by side: one exp for both
    zo_pre, zo = LAYOUT.span(buf, H, "z_pre", "o_pre"), LAYOUT.span(buf, H, "z", "o")
    w_heads = p.get("w_hh_heads")
    if w_heads is None:
        w_rec = p["w_hh_T"]
        tmp = np.empty(lead + (4 * H,), buf.dtype)
        raw_rows, tmp_sum = raw, tmp
    else:  # per head: (…, heads, 1, d) @ (heads, d, 4d), added onto its gates' columns
        heads, d = w_heads.shape[0], w_heads.shape[1]
        w_rec = w_heads
        tmp = np.empty(lead + (heads, 1, 4 * d), buf.dtype)
        tmp_sum = tmp.reshape(lead + (heads, 4, d))
        raw_rows = np.swapaxes(raw.reshape(raw.shape[:-1] + (4, heads, d)), -3, -2)
    log_f = np.empty(lead + (H,), buf.dtype)  # a = m_{t−1} + log σ(f̃)
    half = np.array(0.5, buf.dtype)
    one = np.array(1, buf.dtype)
    dot, exp, log, mul, add, sub = np.dot, np.exp, np.log, np.multiply, np.add, np.subtract
    matmul, divide = np.matmul, np.divide
    stabilized = p["stabilized"]
    rows = zip(raw_rows, cols.i_pre, cols.f_pre, zo_pre, zo, gates_if, cols.i, cols.f,
               cols.z, cols.o, cols.m, cols.kept, cols.written, cols.c, cols.n, cols.h,
               holds or repeat(None), strict=False)
    for (raw_t, i_pre, nf_pre, zo_pre_t, zo_t, if_t, i, f, z, o, m_out, kept, written, c_out,
         n_out, h_out, held) in rows:
        if w_heads is None:
            dot(h, w_rec, tmp)
        else:
            matmul(h.reshape(lead + (heads, 1, d)), w_rec, tmp)
        add(raw_t, tmp_sum, raw_t)  # f̃ negated (negated weights)
        exp(nf_pre, log_f)
        add(log_f, one, log_f)
        log(log_f, log_f)  # softplus(−f̃) = −log σ(f̃)
        if limit is not None:
            beyond = nf_pre > limit
            if beyond.any():
                log_f[beyond] = np.logaddexp(0, nf_pre[beyond])
        sub(m, log_f, log_f)  # a = m_{t−1} + log σ(f̃)
        if stabilized:
            np.maximum(i_pre, log_f, out=m_out)
        else:
            np.copyto(m_out, m)
        sub(i_pre, m_out, i)
        sub(log_f, m_out, f)
        exp(if_t, if_t)  # i = exp(ĩ − m_t), f = exp(a − m_t)
        np.tanh(zo_pre_t, zo_t)  # z = tanh(z̃); õ/2 (halved weights) for o = ½tanh(õ/2) + ½
        mul(o, half, o)
        add(o, half, o)
        if held is not None:
            for name, value in (("i", i), ("f", f), ("z", z), ("o", o)):
                put(held, name, value)
        add(mul(f, c, kept), mul(i, z, written), c_out)
        add(mul(f, n, n_out), i, n_out)
        if held is not None:
            put(held, "c", c_out)
            put(held, "n", n_out)
        mul(o, c_out, h_out)
        if not n_out.all():  # nothing written in some unit: h reads 0 there
            written_any = n_out != 0
            divide(h_out, n_out, out=h_out, where=written_any)
            h_out[~written_any] = 0
        else:
            divide(h_out, n_out, h_out)
        if held is not None:
            put(held, "h", h_out)
        c, n, m, h = c_out, n_out, m_out, h_out
    return c, n, m, h


def backward(cols, state0: tuple, d_in: dict, carry: tuple, p: dict, holds=None,
             params: bool = True, totals: bool = False) -> ChunkGradients:
    """Reverse of forward over one chunk, through the stabilizer's max as computed (the
    branch it took), so gradients are exact also for a loss on the recorded c."""
    c0, n0, m0, h0 = state0
    dc_next, dn_next, dm_next, dh_next = (a.copy() for a in carry)
    H, lead = cols.c.shape[-1], cols.c.shape[:-1]
    c_prev, n_prev, m_prev = (previous_rows(s, col) for s, col in
                              ((c0, cols.c), (n0, cols.n), (m0, cols.m)))
    a = m_prev + log_sigmoid(cols.f_pre)
    took_i = cols.i_pre >= a  # which branch the max took
    forget_slope = 1 - np.exp(log_sigmoid(cols.f_pre))  # d log σ(f̃) / d f̃ = σ(−f̃)
    d_pre = np.empty(lead + (4 * H,), cols.c.dtype)
    d_i, d_f, d_z, d_o = (d_pre[..., k * H:(k + 1) * H] for k in range(4))
    record = {"h": np.empty_like(cols.c), "c": np.empty_like(cols.c)} if totals else None
    w_hh = p["w_hh"]
    stabilized = p["stabilized"]
    d_c_in = d_in.get("c")
    for j in range(lead[0] - 1, -1, -1):
        held = holds[j] if holds is not None else None
        i, f, z, o, c, n = cols.i[j], cols.f[j], cols.z[j], cols.o[j], cols.c[j], cols.n[j]
        dh = d_in["h"][j] + dh_next
        if record is not None:
            record["h"][j] = dh
        if held is not None:
            cut(held, "h", dh)
        read = n != 0  # where n_t = 0, h_t is held at 0: no gradient through the read-out
        inv_n = np.divide(1, n, out=np.zeros_like(n), where=read)
        d_o[j] = dh * c * inv_n
        dc = dc_next + (d_c_in[j] if d_c_in is not None else 0)
        if record is not None:
            record["c"][j] = dc
        dc = dc + dh * o * inv_n
        dn = dn_next - dh * o * c * inv_n * inv_n
        if held is not None:
            cut(held, "c", dc)
            cut(held, "n", dn)
        d_gate_f = dc * c_prev[j] + dn * n_prev[j]
        d_gate_i = dc * z + dn
        d_z[j] = dc * i
        if held is not None:
            cut(held, "f", d_gate_f)
            cut(held, "i", d_gate_i)
            cut(held, "z", d_z[j])
            cut(held, "o", d_o[j])
        d_a = d_gate_f * f
        d_i[j] = d_gate_i * i
        dm = dm_next - d_a - d_i[j]  # m_t enters both gates with a minus sign
        if stabilized:  # m_t = max(ĩ, a): to the branch the max took
            d_i[j] += np.where(took_i[j], dm, 0)
            d_a += np.where(took_i[j], 0, dm)
            dm_prev = d_a
        else:  # m_t = m_{t−1}, and a = m_{t−1} + log σ(f̃)
            dm_prev = d_a + dm
        d_f[j] = d_a * forget_slope[j]
        d_z[j] *= 1 - z * z
        d_o[j] *= o * (1 - o)
        dh_next = np.dot(d_pre[j], w_hh)
        dc_next, dn_next, dm_next = dc * f, dn * f, dm_prev
    grads = {}
    if params:
        h_prev = previous_rows(h0, cols.h)
        grads = {"weight_hh": (as_rows(d_pre).T @ as_rows(h_prev)) * p["mask"],
                 "bias_hh": as_rows(d_pre).sum(0)}
    return ChunkGradients(d_pre, grads, (dc_next, dn_next, dm_next, dh_next), record)


SLSTM = Spec(
    name="slstm", gate_letters="ifzo", block_order=IFZO, state_names=("c", "n", "m", "h"),
    option_table=(HEADS, STABILIZED), describe=signals, layout=lambda options: LAYOUT,
    prepare=prepare, forward=forward, backward=backward, forget_letter="f",
    # m and n are scales (n the total weight written, at the scale exp(−m)): hold the
    # gates that make them instead
    unholdable=frozenset({"m", "n"}), recurrent_mask=recurrent_mask,
)
