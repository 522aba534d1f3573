"""The LSTM exactly as torch.nn.LSTM, and the peephole LSTM with ONNX/TF semantics.

Internally the gate blocks are ordered i, f, o, g (canonical i, f, g, o), so the three
sigmoid gates are one contiguous slice. The plain LSTM is the benchmarked hot path: its
sigmoid-gate weights are stored halved, so one tanh call over all four blocks gives
σ(z) = ½·tanh(z/2) + ½ for i, f, o and tanh(z) for g. Halving is exact in binary floating
point, so the values are bit-for-bit those of computing z first; the recorded
pre-activations are doubled back (exactly) after each chunk.
Peepholes (Gers & Schmidhuber 2000): i and f see c_{t−1}, o sees the new c_t.
"""

from __future__ import annotations

import numpy as np

from .signals import lstm_signals
from .spec import Spec, permute_blocks, projection, sigmoid_into

IFOG = [0, 1, 3, 2]  # canonical i,f,g,o -> internal i,f,o,g
STORED = (
    "i_pre",
    "f_pre",
    "o_pre",
    "g_pre",
    "i",
    "f",
    "o",
    "g",
    "kept",
    "written",
    "c",
    "tanh_c",
    "h",
)


def _stored(options: dict) -> tuple[str, ...]:
    return STORED


def _prepare(params: dict, options: dict, H: int, halve_sigmoid_gates: bool = False) -> dict:
    prep = projection(params, IFOG, H, params["bias_ih"] + params["bias_hh"])
    prep["w_hh_T"] = np.ascontiguousarray(permute_blocks(params["weight_hh"], IFOG, H).T)  # (H, 4H)
    if halve_sigmoid_gates:
        for k in ("w_ih_T", "w_hh_T", "bias"):
            prep[k][..., : 3 * H] *= 0.5
    for k in ("peephole_i", "peephole_f", "peephole_o"):
        if k in params:
            prep[k] = params[k]
    return prep


def _prepare_halved(params: dict, options: dict, H: int) -> dict:
    return _prepare(params, options, H, halve_sigmoid_gates=True)


def _recur(buf: np.ndarray, state: tuple, p: dict) -> tuple:
    c, h = state
    H = c.shape[0]
    w_hh_T = p["w_hh_T"]
    tmp = np.empty(4 * H, buf.dtype)
    half = np.array(0.5, buf.dtype)  # a 0-d array: the cheapest scalar operand for a ufunc
    # At small H the per-call overhead is the cost: local names, positional `out` arguments,
    # and row views made by iterating column blocks in C rather than slicing each row.
    dot, tanh, mul, add = np.dot, np.tanh, np.multiply, np.add
    columns = [buf[:, a * H:b * H] for a, b in (
        (0, 4), (4, 8), (4, 7), (4, 5), (5, 6), (6, 7), (7, 8), (8, 9), (9, 10), (10, 11),
        (11, 12), (12, 13))]
    rows = zip(*columns, strict=True)
    for pre, act, sig, i, f, o, g, kept, written, c_out, tanh_c, h_out in rows:
        add(pre, dot(h, w_hh_T, tmp), pre)  # (4H,): z/2 for i, f, o; z for g
        tanh(pre, act)
        mul(sig, half, sig)
        add(sig, half, sig)  # i, f, o = ½·tanh(z/2) + ½
        add(mul(f, c, kept), mul(i, g, written), c_out)
        c = c_out
        h = mul(o, tanh(c, tanh_c), h_out)
    buf[:, :3 * H] *= 2  # record the true pre-activations
    return c, h


def _recur_peephole(buf: np.ndarray, state: tuple, p: dict) -> tuple:
    c, h = state
    H = c.shape[0]
    w_hh_T, p_i, p_f, p_o = p["w_hh_T"], p["peephole_i"], p["peephole_f"], p["peephole_o"]
    tmp = np.empty(4 * H, buf.dtype)
    for row in buf:
        pre, act = row[: 4 * H], row[4 * H : 8 * H]
        pre += np.dot(h, w_hh_T, out=tmp)
        pre[:H] += np.multiply(p_i, c, out=tmp[:H])
        pre[H : 2 * H] += np.multiply(p_f, c, out=tmp[:H])
        sigmoid_into(pre[: 2 * H], act[: 2 * H])  # i, f see c_{t-1}
        np.tanh(pre[3 * H :], out=act[3 * H :])
        kept, written = row[8 * H : 9 * H], row[9 * H : 10 * H]
        np.multiply(act[H : 2 * H], c, out=kept)
        np.multiply(act[:H], act[3 * H :], out=written)
        c = np.add(kept, written, out=row[10 * H : 11 * H])
        pre[2 * H : 3 * H] += np.multiply(p_o, c, out=tmp[:H])  # o sees the new c_t
        sigmoid_into(pre[2 * H : 3 * H], act[2 * H : 3 * H])
        tanh_c = np.tanh(c, out=row[11 * H : 12 * H])
        h = np.multiply(act[2 * H : 3 * H], tanh_c, out=row[12 * H :])
    return c, h


LSTM = Spec(
    name="lstm",
    gate_letters="ifgo",
    state_names=("c", "h"),
    options={},
    describe=lambda: lstm_signals(peephole=False),
    stored=_stored,
    prepare=_prepare_halved,
    recur=_recur,
    forget_letter="f",
)

PEEPHOLE_LSTM = Spec(
    name="peephole_lstm",
    gate_letters="ifgo",
    state_names=("c", "h"),
    options={},
    describe=lambda: lstm_signals(peephole=True),
    stored=_stored,
    prepare=_prepare,
    recur=_recur_peephole,
    peepholes=True,
    forget_letter="f",
)
