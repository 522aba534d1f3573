"""Vanilla (Elman) RNN: h_t = act(W_ih·x_t + b_ih + W_hh·h_{t−1} + b_hh), as torch.nn.RNN."""

from __future__ import annotations

import numpy as np

from .signals import rnn_signals
from .spec import Spec, projection


def _stored(options: dict) -> tuple[str, ...]:
    return ("h_pre", "h")


def _prepare(params: dict, options: dict, H: int) -> dict:
    prep = projection(params, [0], H, params["bias_ih"] + params["bias_hh"])
    prep["w_hh_T"] = np.ascontiguousarray(params["weight_hh"].T)  # (H, H)
    prep["relu"] = options["nonlinearity"] == "relu"
    return prep


def _recur(buf: np.ndarray, state: tuple, p: dict) -> tuple:
    (h,) = state
    H = h.shape[0]
    w_hh_T, relu = p["w_hh_T"], p["relu"]
    tmp = np.empty(H, buf.dtype)
    for row in buf:
        pre, h_new = row[:H], row[H:]
        pre += np.dot(h, w_hh_T, out=tmp)
        if relu:
            np.maximum(pre, 0, out=h_new)
        else:
            np.tanh(pre, out=h_new)
        h = h_new
    return (h,)


RNN = Spec(
    name="rnn", gate_letters="h", state_names=("h",), options={"nonlinearity": "tanh"},
    describe=rnn_signals, stored=_stored, prepare=_prepare, recur=_recur,
)
