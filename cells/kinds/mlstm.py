"""mLSTM (Beck et al. 2024, "xLSTM: Extended Long Short-Term Memory"): a matrix memory.

Per head (the H = heads·d units form `heads` groups of d):

    q_t = W_q·x_t + b_q        k_t = (W_k·x_t + b_k)/√d        v_t = W_v·x_t + b_v
    ĩ_t = w_i·x_t + b_i        f̃_t = w_f·x_t + b_f              (one scalar per head)
    log f_t = log σ(f̃_t)   (option forget="exp": log f_t = f̃_t, the paper's other choice)
    m_t = max(log f_t + m_{t−1}, ĩ_t)                                (the stabilizer)
    i′_t = exp(ĩ_t − m_t)       f′_t = exp(log f_t + m_{t−1} − m_t)
    C_t = f′_t·C_{t−1} + i′_t·v_t k_tᵀ      (d×d: rows are value dims, columns key dims)
    n_t = f′_t·n_{t−1} + i′_t·k_t
    h̃_t = C_t q_t / (max(|n_tᵀ q_t|, exp(−m_t)) + ε)
    h_t = o_t ⊙ h̃_t,   o_t = σ(W_o·x_t + b_o)         (option output_gate=False: h_t = h̃_t)

The memory C is written by the outer product of a value and a key and read by a query, so a
head stores d×d numbers, not d. As in the sLSTM, C and n are kept at the scale exp(−m_t)
so exp never overflows; the scale cancels in h̃ up to ε. ε = 1e-6 is the xlstm library's
(its `recurrent_step_stabilized_simple` and `parallel_stabilized_simple`), and so is the
key scaling 1/√d, applied to k before it is written (the paper puts it in W_k).

There is no recurrent weight: every gate reads x_t only, so the whole sequence also has a
closed (parallel, quadratic) form, computed by `forward_parallel` — h̃_t is a weighted sum of
the values v_s with weights D[t, s]·(k_s·q_t), D[t, s] = exp(ĩ_s + Σ_{s<r≤t} log f_r − m_t),
and the stabilizer m_t is the maximum of the exponents (the running max of the recurrence,
unrolled). The starting state (C₀, n₀, m₀) enters as one more source, so both forms compute
the same numbers, not only the same h up to ε.

Canonical parameters: weight_ih (R, I) and bias_ih (R,), R = 4H + 2·heads, rows in the
blocks q (H), k (H), v (H), i (heads), f (heads), o (H) — the o block absent without the
output gate. One matmul gives every projection of a chunk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..signals import UNIT, Signal, signal, x_input
from .min_gru import log_sigmoid
from .slstm import HEADS  # the one list of head counts, the sLSTM's
from .spec import Layout, Option, Spec

FORGET = Option("forget", ("sigmoid", "exp"), "sigmoid")
OUTPUT_GATE = Option("output_gate", (True, False), True)
OPTION_TABLE = (HEADS, FORGET, OUTPUT_GATE)
EPS = 1e-6  # added to the read-out's denominator, as the xlstm library does
STATE_NAMES = ("C", "n", "m")
# every recorded signal in computation order, with the names of its axes per step
AXES = {"q": ("H",), "k": ("H",), "v": ("H",), "i_pre": ("heads",), "f_pre": ("heads",),
        "o_pre": ("H",), "m": ("heads",), "i": ("heads",), "f": ("heads",),
        "C": ("heads", "d", "d"), "n": ("heads", "d"), "h_tilde": ("H",), "o": ("H",),
        "h": ("H",)}
STATE_AXES = {"C": ("heads", "d", "d"), "n": ("heads", "d"), "m": ("heads",)}


# the signals a hold may replace (right after they are computed); C, n and m are the state
# at the scale exp(−m): hold the gates that make them instead
HOLDABLE = ("q", "k", "v", "i", "f", "h_tilde", "o", "h")


def signals(heads: int = 1, forget: str = "sigmoid", output_gate: bool = True
            ) -> tuple[Signal, ...]:
    """The mLSTM's signals in computation order; their shapes per step in shape_names."""
    log_f = "log σ(f̃_t)" if forget == "sigmoid" else "f̃_t"
    per_head = " (one per head)" if heads > 1 else ""
    out = [
        x_input(),
        signal("C_prev", "state", "C_{t−1}", "C_{t−1}", "input", stage="inputs",
               description="the previous memory: a d×d matrix per head",
               shape=STATE_AXES["C"]),
        signal("n_prev", "state", "n_{t−1}", "n_{t−1}", "input", stage="inputs",
               description="the previous normalizer: the keys written, kept as C is",
               shape=STATE_AXES["n"]),
        signal("m_prev", "state", "m_{t−1}", "m_{t−1}", "input", stage="inputs",
               description="the previous stabilizer", shape=STATE_AXES["m"]),
        signal("q", "candidate", "q_t", "q_t = W_q·x_t + b_q", "affine",
               description="query: the direction the memory is read in"),
        signal("k", "candidate", "k_t", "k_t = (W_k·x_t + b_k)/√d", "affine",
               description="key: the direction a value is written under (scaled by 1/√d)"),
        signal("v", "candidate", "v_t", "v_t = W_v·x_t + b_v", "affine",
               description="value: what is written"),
        signal("i_pre", "pre", "ĩ_t", "w_i·x_t + b_i", "affine",
               description="the input gate before its exponential" + per_head,
               shape=AXES["i_pre"]),
        signal("f_pre", "pre", "f̃_t", "w_f·x_t + b_f", "affine",
               description="the forget gate before its activation" + per_head,
               shape=AXES["f_pre"]),
    ]
    if output_gate:
        out.append(signal("o_pre", "pre", "õ_t", "W_o·x_t + b_o", "affine",
                          description="the output gate before the sigmoid"))
    out += [
        signal("m", "state", "m_t", f"m_t = max({log_f} + m_{{t−1}}, ĩ_t)", "max_log",
               ["i_pre", "f_pre", "m_prev"],
               description="stabilizer: the log of the scale C and n are kept at, so that "
                           "exp never overflows" + per_head, shape=AXES["m"]),
        signal("i", "gate", "i_t", "i_t = exp(ĩ_t − m_t)", "exp_minus", ["i_pre", "m"],
               range=UNIT, description="exponential input gate, stabilized: how strongly "
                                       "v kᵀ is written" + per_head, shape=AXES["i"]),
        signal("f", "gate", "f_t", f"f_t = exp({log_f} + m_{{t−1}} − m_t)",
               "stabilized_forget", ["f_pre", "m_prev", "m"], range=UNIT,
               description=("forget gate σ(f̃)" if forget == "sigmoid" else
                            "exponential forget gate exp(f̃)") + ", stabilized: how much of "
                           "C_{t−1} and n_{t−1} is kept" + per_head, shape=AXES["f"]),
        signal("C", "state", "C_t", "C_t = f_t·C_{t−1} + i_t·v_t k_tᵀ", "outer_write",
               ["f", "C_prev", "i", "v", "k"], stage="state",
               description="the memory: each head's d×d matrix, written by the outer "
                           "product of value and key", shape=AXES["C"]),
        signal("n", "state", "n_t", "n_t = f_t·n_{t−1} + i_t·k_t", "key_sum",
               ["f", "n_prev", "i", "k"], stage="state",
               description="normalizer: the sum of the keys written, kept as C is",
               shape=AXES["n"]),
        signal("h_tilde", "candidate", "h̃_t",
               "h̃_t = C_t q_t / (max(|n_tᵀ q_t|, exp(−m_t)) + ε)", "query_read",
               ["C", "q", "n", "m"], stage="output",
               description="what the query reads from the memory, normalized"),
    ]
    if output_gate:
        out += [
            signal("o", "gate", "o_t", "o_t = σ(õ_t)", "sigmoid", ["o_pre"], range=UNIT,
                   stage="output", description="output gate: how much of h̃_t is shown"),
            signal("h", "output", "h_t", "h_t = o_t ⊙ h̃_t", "mul", ["o", "h_tilde"],
                   stage="output", description="the output"),
        ]
    else:
        out.append(signal("h", "output", "h_t", "h_t = h̃_t", "identity", ["h_tilde"],
                          stage="output", description="the output (no output gate: the "
                                                      "block around the cell gates it)"))
    return tuple(out)


def param_layout(input_size: int, hidden_size: int, heads: int, output_gate: bool
                 ) -> list[dict]:
    """The canonical parameters as plain data: [{"name", "shape", "blocks", "columns"}],
    `blocks` the (letter, rows) of each block of rows in order."""
    rows = ", ".join(f"{letter} ({'heads' if letter in 'if' else 'H'})"
                     for letter in block_rows(hidden_size, heads, output_gate))
    R = rows_for(hidden_size, heads, output_gate)
    # blocks: None (the gate blocks of the recurrent kinds are H rows each; these are not)
    return [{"name": "weight_ih", "shape": [R, input_size], "blocks": None, "rows": rows,
             "columns": "input"},
            {"name": "bias_ih", "shape": [R], "blocks": None, "rows": rows, "columns": None}]


def block_rows(H: int, heads: int, output_gate: bool) -> dict[str, slice]:
    """The rows of weight_ih (and bias_ih) of each block: q, k, v, i, f, o."""
    sizes = {"q": H, "k": H, "v": H, "i": heads, "f": heads}
    if output_gate:
        sizes["o"] = H
    out, start = {}, 0
    for name, size in sizes.items():
        out[name] = slice(start, start + size)
        start += size
    return out


def rows_for(H: int, heads: int, output_gate: bool) -> int:
    return 4 * H + 2 * heads if output_gate else 3 * H + 2 * heads


def hidden_size_of(rows: int, heads: int, output_gate: bool) -> int | None:
    """H from the number of rows of weight_ih, or None where no H fits."""
    blocks = 4 if output_gate else 3
    if rows <= 2 * heads or (rows - 2 * heads) % blocks:
        return None
    H = (rows - 2 * heads) // blocks
    return H if H % heads == 0 else None


def signal_shapes(H: int, heads: int, output_gate: bool = True) -> dict[str, tuple]:
    """Per step, the shape of each recorded signal."""
    sizes = {"H": H, "heads": heads, "d": H // heads}
    return {name: tuple(sizes[axis] for axis in axes)
            for name, axes in shape_names(output_gate).items()}


def shape_names(output_gate: bool = True) -> dict[str, list[str]]:
    """Per step, the names of each recorded signal's axes (["H"], ["heads", "d", "d"])."""
    return {name: list(axes) for name, axes in AXES.items()
            if output_gate or name not in ("o_pre", "o")}


def init_params(input_size: int, hidden_size: int, heads: int, seed: int, dtype,
                output_gate: bool = True) -> dict:
    """Xavier-Glorot uniform per block (each block its own layer); the forget biases spread
    from 3 to 6 over the heads and the input biases 0, as the xlstm library starts them
    (so the memory keeps by default)."""
    rng = np.random.default_rng(seed)
    rows = block_rows(hidden_size, heads, output_gate)
    w = np.empty((rows_for(hidden_size, heads, output_gate), input_size))
    for block in rows.values():
        fan_out = block.stop - block.start
        bound = np.sqrt(6.0 / (input_size + fan_out))
        w[block] = rng.uniform(-bound, bound, (fan_out, input_size))
    b = np.zeros(len(w))
    b[rows["f"]] = np.linspace(3.0, 6.0, heads)
    return {"weight_ih": w.astype(dtype), "bias_ih": b.astype(dtype)}


@dataclass
class Projections:
    """The pre-activations of a chunk, per head: q, k (scaled), v (n, heads, d); ĩ, f̃
    (n, heads); õ (n, H) or None."""

    q: np.ndarray
    k: np.ndarray
    v: np.ndarray
    i_pre: np.ndarray
    f_pre: np.ndarray
    o_pre: np.ndarray | None


def project(params: dict, xs: np.ndarray, heads: int, output_gate: bool) -> Projections:
    """Every projection of the chunk xs (n, I) in one matmul."""
    W, b = params["weight_ih"], params["bias_ih"]
    H = hidden_size_of(len(b), heads, output_gate)
    rows = block_rows(H, heads, output_gate)
    pre = xs @ W.T + b  # (n, R)
    n, d = len(xs), H // heads

    def per_head(name):
        return pre[:, rows[name]].reshape(n, heads, d)

    return Projections(
        q=per_head("q"), k=per_head("k") / np.sqrt(d).astype(xs.dtype), v=per_head("v"),
        i_pre=pre[:, rows["i"]], f_pre=pre[:, rows["f"]],
        o_pre=pre[:, rows["o"]] if output_gate else None)


def log_forget(f_pre: np.ndarray, forget: str) -> np.ndarray:
    return log_sigmoid(f_pre) if forget == "sigmoid" else f_pre


def _hold(value: np.ndarray, held: dict | None, name: str) -> None:
    """Overwrite in place the held entries (flat indices of one step's signal)."""
    for index, v in (held or {}).get(name, ()):
        value.reshape(-1)[index] = v


def forward_steps(pre: Projections, state: tuple, forget: str, holds=None) -> dict:
    """Step by step from state (C (heads, d, d), n (heads, d), m (heads,)): every recorded
    signal, name -> (n_steps, …). `holds`: per step None or {name: [(flat index, value)]},
    applied right after the signal is computed."""
    C, n, m = state
    T, heads, d = pre.q.shape
    dt = pre.q.dtype
    rec = {name: np.empty((T, heads, d), dt) for name in ("q", "k", "v", "h_tilde")}
    rec.update({name: np.empty((T, heads), dt) for name in ("m", "i", "f")})
    rec["C"] = np.empty((T, heads, d, d), dt)
    rec["n"] = np.empty((T, heads, d), dt)
    lf = log_forget(pre.f_pre, forget)
    for t in range(T):
        held = holds[t] if holds is not None else None
        q, k, v = (rec[name][t] for name in ("q", "k", "v"))
        q[:], k[:], v[:] = pre.q[t], pre.k[t], pre.v[t]
        for name, value in (("q", q), ("k", k), ("v", v)):
            _hold(value, held, name)
        m_t = rec["m"][t]
        np.maximum(lf[t] + m, pre.i_pre[t], out=m_t)
        i, f = rec["i"][t], rec["f"][t]
        np.exp(pre.i_pre[t] - m_t, out=i)
        np.exp(lf[t] + m - m_t, out=f)
        _hold(i, held, "i")
        _hold(f, held, "f")
        C_t, n_t = rec["C"][t], rec["n"][t]
        np.multiply(f[:, None, None], C, out=C_t)
        C_t += i[:, None, None] * v[:, :, None] * k[:, None, :]  # + i′ v kᵀ
        np.multiply(f[:, None], n, out=n_t)
        n_t += i[:, None] * k
        read = np.einsum("had,hd->ha", C_t, q)  # C q
        qn = np.einsum("hd,hd->h", n_t, q)
        rec["h_tilde"][t] = read / (np.maximum(np.abs(qn), np.exp(-m_t)) + EPS)[:, None]
        _hold(rec["h_tilde"][t], held, "h_tilde")
        C, n, m = C_t, n_t, m_t
    return _finish(rec, pre, holds)


def _finish(rec: dict, pre: Projections, holds) -> dict:
    """Flatten the per-head vectors to H wide and add the output gate."""
    T, heads, d = pre.q.shape
    out = {name: rec[name].reshape(T, heads * d) for name in ("q", "k", "v", "h_tilde")}
    out.update(i_pre=pre.i_pre.copy(), f_pre=pre.f_pre.copy(), m=rec["m"], i=rec["i"],
               f=rec["f"], C=rec["C"], n=rec["n"])
    if pre.o_pre is not None:
        out["o_pre"] = pre.o_pre.copy()
        out["o"] = 1 / (1 + np.exp(-pre.o_pre))
        out["h"] = np.empty_like(out["h_tilde"])
        for t in range(T):
            held = holds[t] if holds is not None else None
            _hold(out["o"][t], held, "o")
            np.multiply(out["o"][t], out["h_tilde"][t], out=out["h"][t])
            _hold(out["h"][t], held, "h")
    else:
        out["h"] = out["h_tilde"].copy()
        for t in range(T):
            _hold(out["h"][t], holds[t] if holds is not None else None, "h")
    return out


def forward_parallel(pre: Projections, state: tuple, forget: str) -> dict:
    """The closed form: all steps at once, O(n²) per head, no loop over time.

    With L_t = Σ_{r≤t} log f_r, the weight of the write at step s in the memory at t ≥ s is
    exp(ĩ_s + L_t − L_s) and that of the starting state exp(m₀ + L_t); m_t is the largest
    of these exponents (what the recurrence's running max computes) and every weight is
    taken relative to it, so no exp overflows. The cumulative sums are taken in float64
    whatever the dtype (a float32 sum over a long chunk would drift from the recurrence)."""
    C0, n0, m0 = state
    T, heads, d = pre.q.shape
    dt = pre.q.dtype
    L = np.cumsum(log_forget(pre.f_pre, forget).astype(np.float64), axis=0)  # (T, heads)
    Lh, ih = L.T, pre.i_pre.T.astype(np.float64)  # (heads, T)
    causal = np.tri(T, dtype=bool)
    log_w = np.where(causal, ih[:, None, :] + Lh[:, :, None] - Lh[:, None, :], -np.inf)
    log_w0 = m0.astype(np.float64)[:, None] + Lh  # (heads, T): the starting state's
    m = np.maximum(log_w.max(axis=-1), log_w0)  # (heads, T)
    D = np.exp(log_w - m[:, :, None]).astype(dt)  # (heads, t, s)
    g = np.exp(log_w0 - m).astype(dt)  # (heads, t)
    q, k, v = (np.swapaxes(a, 0, 1) for a in (pre.q, pre.k, pre.v))  # (heads, T, d)
    m = m.astype(dt)
    # C_t = g_t C₀ + Σ_s D[t, s] v_s k_sᵀ, every t (the trace records each memory)
    outer = (v[:, :, :, None] * k[:, :, None, :]).reshape(heads, T, d * d)
    C = (D @ outer).reshape(heads, T, d, d) + g[:, :, None, None] * C0[:, None]
    n = D @ k + g[:, :, None] * n0[:, None, :]  # (heads, T, d)
    # the read h̃_t = C_t q_t, as weights on the values: Σ_s D[t, s](k_s·q_t) v_s
    scores = D * (q @ np.swapaxes(k, 1, 2))  # (heads, t, s)
    read = scores @ v + g[:, :, None] * np.einsum("had,htd->hta", C0, q)
    qn = scores.sum(-1) + g * np.einsum("hd,htd->ht", n0, q)
    h_tilde = read / (np.maximum(np.abs(qn), np.exp(-m)) + EPS)[:, :, None]
    lf = log_forget(pre.f_pre, forget)
    m_prev = np.concatenate([m0[None], m.T[:-1]])  # (T, heads)
    rec = {"q": pre.q.copy(), "k": pre.k.copy(), "v": pre.v.copy(),
           "h_tilde": np.swapaxes(h_tilde, 0, 1), "m": np.ascontiguousarray(m.T),
           "i": np.exp(pre.i_pre - m.T), "f": np.exp(lf + m_prev - m.T),
           "C": np.ascontiguousarray(np.swapaxes(C, 0, 1)),
           "n": np.ascontiguousarray(np.swapaxes(n, 0, 1))}
    return _finish(rec, pre, None)


@dataclass
class StepGradients:
    """What `backward_steps` returns: dL/d(each block's pre-activations), per step, in the
    canonical row order ((n, R), the k block unscaled: w.r.t. W_k·x + b_k), and dL/d of the
    starting state (C, n, m)."""

    d_pre: np.ndarray
    carry: tuple
    totals: np.ndarray | None = None  # (n, heads, d, d) dL/dC_t per step, when asked for


def backward_steps(rec: dict, state0: tuple, d_h: np.ndarray, carry: tuple, forget: str,
                   output_gate: bool, holds=None, totals: bool = False) -> StepGradients:
    """Reverse of forward_steps over recorded signals `rec` (either form's), given dL/dh
    (n, H) and the gradient `carry` reaching the state after the last step. Through the
    stabilizer's max and the read-out's max as computed (the branch each took); held
    signals are constants (no gradient to what they were computed from)."""
    C0, n0, m0 = state0
    dC_next, dn_next, dm_next = (a.copy() for a in carry)
    T, heads = rec["m"].shape
    d = rec["C"].shape[-1]
    H = heads * d
    q, k, v = (rec[name].reshape(T, heads, d) for name in ("q", "k", "v"))
    C, n, m, i, f = rec["C"], rec["n"], rec["m"], rec["i"], rec["f"]
    C_prev = np.concatenate([C0[None], C[:-1]])
    n_prev = np.concatenate([n0[None], n[:-1]])
    m_prev = np.concatenate([m0[None], m[:-1]])
    lf = log_forget(rec["f_pre"], forget)
    dt = d_h.dtype
    rows = block_rows(H, heads, output_gate)
    d_pre = np.zeros((T, rows_for(H, heads, output_gate)), dt)
    d_q, d_k, d_v = (d_pre[:, rows[name]].reshape(T, heads, d) for name in "qkv")
    d_i, d_f = d_pre[:, rows["i"]], d_pre[:, rows["f"]]
    d_h_tilde = d_h.copy()
    if output_gate:
        held_h = _held_mask(holds, "h", T, H)
        dh = np.where(held_h, 0, d_h)
        d_o = dh * rec["h_tilde"]
        d_o[_held_mask(holds, "o", T, H)] = 0
        d_pre[:, rows["o"]] = d_o * rec["o"] * (1 - rec["o"])
        d_h_tilde = dh * rec["o"]
    else:
        d_h_tilde[_held_mask(holds, "h", T, H)] = 0
    d_h_tilde[_held_mask(holds, "h_tilde", T, H)] = 0
    d_h_tilde = d_h_tilde.reshape(T, heads, d)
    record = np.empty_like(C) if totals else None
    for t in range(T - 1, -1, -1):
        held = holds[t] if holds is not None else None
        read = np.einsum("had,hd->ha", C[t], q[t])
        qn = np.einsum("hd,hd->h", n[t], q[t])
        floor = np.exp(-m[t])
        den = np.maximum(np.abs(qn), floor) + EPS
        d_read = d_h_tilde[t] / den[:, None]
        d_den = -np.einsum("ha,ha->h", d_h_tilde[t], read) / (den * den)
        by_qn = np.abs(qn) >= floor  # which branch the max took
        d_qn = np.where(by_qn, d_den * np.sign(qn), 0)
        dm = dm_next + np.where(by_qn, 0, -d_den * floor)
        dC = dC_next + d_read[:, :, None] * q[t][:, None, :]
        dn = dn_next + d_qn[:, None] * q[t]
        if record is not None:
            record[t] = dC
        d_q[t] = np.einsum("had,ha->hd", C[t], d_read) + d_qn[:, None] * n[t]
        d_gate_f = np.einsum("had,had->h", dC, C_prev[t]) + np.einsum("hd,hd->h", dn, n_prev[t])
        dC_v = np.einsum("had,hd->ha", dC, k[t])  # dC k
        d_gate_i = np.einsum("ha,ha->h", dC_v, v[t]) + np.einsum("hd,hd->h", dn, k[t])
        d_v[t] = i[t][:, None] * dC_v
        d_k[t] = i[t][:, None] * (np.einsum("had,ha->hd", dC, v[t]) + dn)
        if held is not None:
            for name, g in (("q", d_q[t]), ("k", d_k[t]), ("v", d_v[t]), ("i", d_gate_i),
                            ("f", d_gate_f)):
                _cut(g, held, name)
        d_ip = d_gate_i * i[t]
        d_a = d_gate_f * f[t]  # w.r.t. a = log f + m_{t−1}
        dm = dm - d_ip - d_a  # m_t enters both gates with a minus sign
        took_i = rec["i_pre"][t] > lf[t] + m_prev[t]  # where m_t = max(a, ĩ) took ĩ
        d_ip = d_ip + np.where(took_i, dm, 0)
        d_a = d_a + np.where(took_i, 0, dm)
        d_i[t] = d_ip
        d_f[t] = d_a * (np.exp(log_sigmoid(-rec["f_pre"][t])) if forget == "sigmoid" else 1)
        dC_next, dn_next, dm_next = f[t][:, None, None] * dC, f[t][:, None] * dn, d_a
    d_k *= 1 / np.sqrt(d)  # k = (W_k·x + b_k)/√d
    return StepGradients(d_pre, (dC_next, dn_next, dm_next), record)


def _cut(grad: np.ndarray, held: dict, name: str) -> None:
    for index, _ in held.get(name, ()):
        grad.reshape(-1)[index] = 0


def _held_mask(holds, name: str, T: int, width: int) -> np.ndarray:
    mask = np.zeros((T, width), bool)
    for t, held in enumerate(holds or ()):
        for index, _ in (held or {}).get(name, ()):
            mask[t].reshape(-1)[index] = True
    return mask


def dims(input_size: int, hidden_size: int, options: dict) -> dict:
    """The size of each dimension the signals' shapes name."""
    heads = options["heads"]
    return {"I": input_size, "H": hidden_size, "heads": heads, "d": hidden_size // heads}


def layout(options: dict) -> Layout:
    """The recorded signals by name (each its own array in the trace: their widths differ)."""
    return Layout(tuple(shape_names(options["output_gate"])), output="h")


MLSTM = Spec(
    name="mlstm", gate_letters="qkvifo", block_order=(0, 1, 2, 3, 4, 5),
    state_names=STATE_NAMES, option_table=OPTION_TABLE, describe=signals, layout=layout,
    # its own cell and trace (cells.mlstm_cell) run it: the row-buffer loops do not apply
    prepare=None, forward=None, backward=None, recurrent=False,
    unholdable=frozenset(set(AXES) - set(HOLDABLE)), parallel=True,
    own_cell=True, dims=dims,
    param_layout=lambda I, H, options: param_layout(I, H, options["heads"],
                                                    options["output_gate"]),
)
