"""The LSTM exactly as torch.nn.LSTM, and the peephole LSTM with ONNX/TF semantics.

Internally the gate blocks are ordered i, f, o, g (canonical i, f, g, o), so the three
sigmoid gates are one contiguous slice and take one sigmoid call.
Peepholes (Gers & Schmidhuber 2000): i and f see c_{t−1}, o sees the new c_t.
"""

from __future__ import annotations

import numpy as np

from .signals import lstm_signals
from .spec import Spec, permute_blocks, projection, sigmoid_into

IFOG = [0, 1, 3, 2]  # canonical i,f,g,o -> internal i,f,o,g
STORED = ("i_pre", "f_pre", "o_pre", "g_pre", "i", "f", "o", "g",
          "kept", "written", "c", "tanh_c", "h")


def _stored(options: dict) -> tuple[str, ...]:
    return STORED


def _prepare(params: dict, options: dict, H: int) -> dict:
    prep = projection(params, IFOG, H, params["bias_ih"] + params["bias_hh"])
    prep["w_hh_T"] = np.ascontiguousarray(permute_blocks(params["weight_hh"], IFOG, H).T)  # (H, 4H)
    for k in ("peephole_i", "peephole_f", "peephole_o"):
        if k in params:
            prep[k] = params[k]
    return prep


def _recur(buf: np.ndarray, state: tuple, p: dict) -> tuple:
    c, h = state
    H = c.shape[0]
    w_hh_T = p["w_hh_T"]
    tmp = np.empty(4 * H, buf.dtype)
    for row in buf:
        pre, act = row[:4 * H], row[4 * H:8 * H]
        pre += np.dot(h, w_hh_T, out=tmp)  # (4H,)
        sigmoid_into(pre[:3 * H], act[:3 * H])  # i, f, o
        np.tanh(pre[3 * H:], out=act[3 * H:])  # g
        kept, written = row[8 * H:9 * H], row[9 * H:10 * H]
        np.multiply(act[H:2 * H], c, out=kept)
        np.multiply(act[:H], act[3 * H:], out=written)
        c = np.add(kept, written, out=row[10 * H:11 * H])
        tanh_c = np.tanh(c, out=row[11 * H:12 * H])
        h = np.multiply(act[2 * H:3 * H], tanh_c, out=row[12 * H:])
    return c, h


def _recur_peephole(buf: np.ndarray, state: tuple, p: dict) -> tuple:
    c, h = state
    H = c.shape[0]
    w_hh_T, p_i, p_f, p_o = p["w_hh_T"], p["peephole_i"], p["peephole_f"], p["peephole_o"]
    tmp = np.empty(4 * H, buf.dtype)
    for row in buf:
        pre, act = row[:4 * H], row[4 * H:8 * H]
        pre += np.dot(h, w_hh_T, out=tmp)
        pre[:H] += np.multiply(p_i, c, out=tmp[:H])
        pre[H:2 * H] += np.multiply(p_f, c, out=tmp[:H])
        sigmoid_into(pre[:2 * H], act[:2 * H])  # i, f see c_{t-1}
        np.tanh(pre[3 * H:], out=act[3 * H:])
        kept, written = row[8 * H:9 * H], row[9 * H:10 * H]
        np.multiply(act[H:2 * H], c, out=kept)
        np.multiply(act[:H], act[3 * H:], out=written)
        c = np.add(kept, written, out=row[10 * H:11 * H])
        pre[2 * H:3 * H] += np.multiply(p_o, c, out=tmp[:H])  # o sees the new c_t
        sigmoid_into(pre[2 * H:3 * H], act[2 * H:3 * H])
        tanh_c = np.tanh(c, out=row[11 * H:12 * H])
        h = np.multiply(act[2 * H:3 * H], tanh_c, out=row[12 * H:])
    return c, h


LSTM = Spec(
    name="lstm", gate_letters="ifgo", state_names=("c", "h"), options={},
    describe=lambda: lstm_signals(peephole=False), stored=_stored, prepare=_prepare,
    recur=_recur, forget_letter="f",
)

PEEPHOLE_LSTM = Spec(
    name="peephole_lstm", gate_letters="ifgo", state_names=("c", "h"), options={},
    describe=lambda: lstm_signals(peephole=True), stored=_stored, prepare=_prepare,
    recur=_recur_peephole, peepholes=True, forget_letter="f",
)
