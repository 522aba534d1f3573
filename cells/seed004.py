"""Seed 004's derived cells, with its state s named c. They reuse the LSTM layout: the i, f, o
blocks of weight_hh act on the state read r_{t−1} (c_{t−1}, or tanh(c_{t−1}) in the pseudo
LSTM) and the g block on o_t ⊙ r_{t−1}.

- prototype:  i, f, o = σ(W·r + U·x + b); c̃ = tanh(W_g·(o ⊙ r) + U_g·x + b_g);
              c = f ⊙ c_{t−1} + i ⊙ c̃; output h = c (r = c_{t−1})
- normalized: the prototype's new state divided by √(var(c) + 1), the variance over the H
              units (ddof 0): a soft bound on the state
- pseudo:     r = tanh(c_{t−1}) everywhere but the write; output h = tanh(c)
"""

from __future__ import annotations

import numpy as np

from .lstm import IFOG
from .signals import seed004_signals
from .spec import Spec, permute_blocks, projection, sigmoid_into

BASE = ("i_pre", "f_pre", "o_pre", "g_pre", "read", "i", "f", "o", "read_gated", "g",
        "kept", "written")


def _stored_for(variant: str):
    state = ("c_raw", "c_scale", "c") if variant == "normalized" else ("c",)
    names = BASE + state + ("h",)
    return lambda options: names


def _prepare(params: dict, options: dict, H: int) -> dict:
    prep = projection(params, IFOG, H, params["bias_ih"] + params["bias_hh"])
    w = permute_blocks(params["weight_hh"], IFOG, H)
    prep["w_ifo_T"] = np.ascontiguousarray(w[:3 * H].T)  # (H, 3H): reads r_{t-1}
    prep["w_g_T"] = np.ascontiguousarray(w[3 * H:].T)  # (H, H): reads o ⊙ r_{t-1}
    return prep


def _make_recur(variant: str):
    squash_read = variant == "pseudo"
    normalize = variant == "normalized"

    def recur(buf: np.ndarray, state: tuple, p: dict) -> tuple:
        (c,) = state
        H = c.shape[0]
        w_ifo_T, w_g_T = p["w_ifo_T"], p["w_g_T"]
        tmp = np.empty(3 * H, buf.dtype)
        for row in buf:
            pre, act = row[:4 * H], row[5 * H:9 * H]
            read = row[4 * H:5 * H]
            if squash_read:
                np.tanh(c, out=read)
            else:
                read[:] = c
            pre[:3 * H] += np.dot(read, w_ifo_T, out=tmp)
            sigmoid_into(pre[:3 * H], act[:3 * H])  # i, f, o
            read_gated = np.multiply(act[2 * H:3 * H], read, out=row[8 * H:9 * H])
            pre[3 * H:] += np.dot(read_gated, w_g_T, out=tmp[:H])
            g = np.tanh(pre[3 * H:], out=row[9 * H:10 * H])
            kept = np.multiply(act[H:2 * H], c, out=row[10 * H:11 * H])
            written = np.multiply(act[:H], g, out=row[11 * H:12 * H])
            if normalize:
                c_raw = np.add(kept, written, out=row[12 * H:13 * H])
                scale = row[13 * H:14 * H]
                scale[:] = np.sqrt(c_raw.var() + 1)
                c = np.divide(c_raw, scale, out=row[14 * H:15 * H])
            else:
                c = np.add(kept, written, out=row[12 * H:13 * H])
            out = row[-H:]
            if squash_read:
                np.tanh(c, out=out)
            else:
                out[:] = c
        return (c,)

    return recur


def _spec(name: str, variant: str) -> Spec:
    return Spec(
        name=name, gate_letters="ifgo", state_names=("c",), options={},
        describe=lambda: seed004_signals(variant), stored=_stored_for(variant),
        prepare=_prepare, recur=_make_recur(variant), forget_letter="f",
    )


PROTOTYPE_LSTM = _spec("prototype_lstm", "prototype")
NORMALIZED_LSTM = _spec("normalized_lstm", "normalized")
PSEUDO_LSTM = _spec("pseudo_lstm", "pseudo")
