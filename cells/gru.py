"""The GRU. reset_after=True is torch.nn.GRU (ONNX linear_before_reset=1): r scales the
recurrent product W_hn·h_{t−1} + b_hn. reset_after=False is Cho et al. 2014 and seed 004's
derivation (ONNX linear_before_reset=0): r gates h_{t−1} before the matmul.
"""

from __future__ import annotations

import numpy as np

from .signals import gru_signals
from .spec import Spec, projection, sigmoid_into

RZN = [0, 1, 2]


def _stored(options: dict) -> tuple[str, ...]:
    reset = ("n_rec", "n_rec_reset") if options["reset_after"] else ("h_reset",)
    return ("r_pre", "z_pre", "n_pre", "r", "z", *reset, "n", "kept", "written", "h")


def _prepare(params: dict, options: dict, H: int) -> dict:
    b_hh = params["bias_hh"]
    if options["reset_after"]:
        # b_hn stays inside r ⊙ (W_hn·h + b_hn); only the r and z parts fold into the projection.
        folded = params["bias_ih"] + np.concatenate([b_hh[:2 * H], np.zeros_like(b_hh[2 * H:])])
    else:
        folded = params["bias_ih"] + b_hh
    prep = projection(params, RZN, H, folded)
    prep["w_hh_T"] = np.ascontiguousarray(params["weight_hh"].T)  # (H, 3H)
    prep["w_hrz_T"] = np.ascontiguousarray(params["weight_hh"][:2 * H].T)  # (H, 2H)
    prep["w_hn_T"] = np.ascontiguousarray(params["weight_hh"][2 * H:].T)  # (H, H)
    prep["b_hn"] = b_hh[2 * H:]
    prep["reset_after"] = options["reset_after"]
    return prep


def _recur(buf: np.ndarray, state: tuple, p: dict) -> tuple:
    (h,) = state
    H = h.shape[0]
    tmp = np.empty(3 * H, buf.dtype)
    reset_after = p["reset_after"]
    w_hh_T, w_hrz_T, w_hn_T, b_hn = p["w_hh_T"], p["w_hrz_T"], p["w_hn_T"], p["b_hn"]
    # Column offsets (in H units) after r_pre z_pre n_pre r z: reset signals, then n kept written h.
    k = 7 if reset_after else 6
    for row in buf:
        pre, rz = row[:3 * H], row[3 * H:5 * H]
        if reset_after:
            np.dot(h, w_hh_T, out=tmp)
            pre[:2 * H] += tmp[:2 * H]
            sigmoid_into(pre[:2 * H], rz)
            n_rec = np.add(tmp[2 * H:], b_hn, out=row[5 * H:6 * H])
            pre[2 * H:] += np.multiply(rz[:H], n_rec, out=row[6 * H:7 * H])
        else:
            pre[:2 * H] += np.dot(h, w_hrz_T, out=tmp[:2 * H])
            sigmoid_into(pre[:2 * H], rz)
            h_reset = np.multiply(rz[:H], h, out=row[5 * H:6 * H])
            pre[2 * H:] += np.dot(h_reset, w_hn_T, out=tmp[:H])
        n = np.tanh(pre[2 * H:], out=row[k * H:(k + 1) * H])
        z = rz[H:]
        kept = np.multiply(z, h, out=row[(k + 1) * H:(k + 2) * H])
        written = np.subtract(1, z, out=row[(k + 2) * H:(k + 3) * H])
        written *= n
        h = np.add(kept, written, out=row[(k + 3) * H:])
    return (h,)


GRU = Spec(
    name="gru", gate_letters="rzn", state_names=("h",), options={"reset_after": True},
    describe=gru_signals, stored=_stored, prepare=_prepare, recur=_recur,
)
