"""The plain LSTM's training pass, laid out for a batch: the benchmarked hot path.

The kind's own loops (cells.kinds.lstm) fill one row per step holding every signal the page
shows, (n, B, 13·H); with a batch axis each signal of a step is then a strided (B, H) view,
and NumPy pays for strides per row. Training needs only what the backward pass reads, so
here every array is contiguous per step:

    gates (n, B, 4H)   the activations o, i, f, g (written over their pre-activations)
    c     (n+1, B, H)  c_{−1} = the carried state, then c_0 … c_{n−1}
    tanh_c (n, B, H)
    h     (n+1, B, H)  h_{−1}, then h_0 … h_{n−1}: h[:-1] is h_{t−1}, h[1:] the output

Block order o, i, f, g (canonical i, f, g, o): the three sigmoid gates are adjacent for the
forward (σ(z) = ½·tanh(z/2) + ½ over them, their weights stored halved as the kind does,
halving being exact), and the three blocks scaled by δc are adjacent for the backward.

The math is the kind's (Written Memories, r2rt 2016):
    c_t = f ⊙ c_{t−1} + i ⊙ g;  h_t = o ⊙ tanh c_t
    δc_t = δc_{t+1} ⊙ f_{t+1} + δh_t ⊙ o ⊙ (1 − tanh²c_t)
    δo_pre = δh ⊙ tanh c ⊙ σ′;  δi_pre = δc ⊙ g ⊙ σ′;  δf_pre = δc ⊙ c_{t−1} ⊙ σ′;
    δg_pre = δc ⊙ i ⊙ (1 − g²);  δh_{t−1} = δpre·W_hh (+ the loss's δh_{t−1})
tests/cells/training check it against the kind's loops and torch autograd.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..kinds.spec import as_rows, permute_blocks, to_canonical

ORDER = (3, 0, 1, 2)  # block k here is canonical block ORDER[k]: o, i, f, g
SIGMOIDS = 3  # the first three blocks


def applies(cell) -> bool:
    """Whether a training cell is the plain LSTM this path computes."""
    return cell.spec.name == "lstm" and not cell.own


@dataclass
class LstmTape:
    """What the backward pass reads (see the module's docstring for the shapes)."""

    gates: np.ndarray
    c: np.ndarray
    tanh_c: np.ndarray
    h: np.ndarray
    inputs: np.ndarray | None  # (n, B, I) what the cell read, processing order; None: ids
    reversed: bool  # a backward-direction cell: processing step k is time n−1−k

    @property
    def output(self) -> np.ndarray:
        return self.h[1:]  # (n, B, H), processing order

    def signal(self, name: str) -> np.ndarray:
        """A recorded signal (n, B, H), processing order: a gate, c, tanh_c or h."""
        blocks = self.gates.reshape(self.gates.shape[:2] + (4, -1))
        stored = {"o": blocks[:, :, 0], "i": blocks[:, :, 1], "f": blocks[:, :, 2],
                  "g": blocks[:, :, 3], "c": self.c[1:], "tanh_c": self.tanh_c, "h": self.output}
        if name not in stored:
            raise ValueError(f"training keeps the LSTM's {sorted(stored)}, not {name!r}")
        return stored[name]


def input_weights(params: dict, H: int) -> tuple[np.ndarray, np.ndarray]:
    """(W_ihᵀ (I, 4H), b_ih + b_hh (4H,)) in this order, the sigmoid blocks halved."""
    w = np.ascontiguousarray(permute_blocks(params["weight_ih"], ORDER, H).T)
    b = permute_blocks(params["bias_ih"] + params["bias_hh"], ORDER, H)
    w[:, :SIGMOIDS * H] *= 0.5
    b[:SIGMOIDS * H] *= 0.5
    return w, b


def forward(net, key, params: dict, x: np.ndarray | None, ids: np.ndarray | None,
            start: tuple, reverse: bool) -> tuple[LstmTape, tuple]:
    """Run the window: x (n, B, I) or token ids (n, B) (one-hot), in time order; start
    (c, h) each (B, H). Returns the tape and the end state (c, h), in processing order."""
    w_ih_T, bias = input_weights(params, params["weight_hh"].shape[1])
    H = w_ih_T.shape[1] // 4
    n, B = (ids if x is None else x).shape[:2]
    dtype = w_ih_T.dtype
    gates = net.buffer(key + ("gates",), (n, B, 4 * H))
    c = net.buffer(key + ("c",), (n + 1, B, H))
    h = net.buffer(key + ("h",), (n + 1, B, H))
    tanh_c = net.buffer(key + ("tanh_c",), (n, B, H))
    read = None
    if x is None:  # x·W_ih + b of a one-hot x is row `id` of (W_ihᵀ + b): one gather
        np.take(w_ih_T + bias, ids[::-1] if reverse else ids, axis=0, out=gates)
    else:
        read = x[::-1] if reverse else x
        np.matmul(read, w_ih_T, out=gates)
        gates += bias
    c[0], h[0] = start
    w_hh_T = np.ascontiguousarray(permute_blocks(params["weight_hh"], ORDER, H).T)  # (H, 4H)
    w_hh_T[:, :SIGMOIDS * H] *= 0.5
    tmp, kept = np.empty((B, 4 * H), dtype), np.empty((B, H), dtype)
    half = np.array(0.5, dtype)  # a 0-d array: the cheapest scalar operand for a ufunc
    dot, tanh, mul, add = np.dot, np.tanh, np.multiply, np.add
    blocks = gates.reshape(n, B, 4, H)
    rows = zip(gates, gates[..., :SIGMOIDS * H], blocks[:, :, 0], blocks[:, :, 1],
               blocks[:, :, 2], blocks[:, :, 3], c[1:], tanh_c, h[1:], strict=True)
    c_prev, h_prev = c[0], h[0]
    for z, sig, o, i, f, g, c_t, tanh_c_t, h_t in rows:
        add(z, dot(h_prev, w_hh_T, tmp), z)  # z/2 for o, i, f; z for g
        tanh(z, z)
        mul(sig, half, sig)
        add(sig, half, sig)  # o, i, f = ½·tanh(z/2) + ½
        add(mul(i, g, c_t), mul(f, c_prev, kept), c_t)
        h_prev = mul(o, tanh(c_t, tanh_c_t), h_t)
        c_prev = c_t
    return LstmTape(gates, c, tanh_c, h, read, reverse), (c[n].copy(), h[n].copy())


def backward(net, key, params: dict, tape: LstmTape, d_h: np.ndarray
             ) -> tuple[np.ndarray, dict]:
    """(δpre (n, B, 4H) in this block order, {weight_hh, bias_hh} canonical) from the loss's
    δh (n, B, H) in processing order; nothing flows into the carried state (truncated)."""
    gates, c, tanh_c = tape.gates, tape.c, tape.tanh_c
    n, B, G = gates.shape
    H = G // 4
    w_hh = np.ascontiguousarray(permute_blocks(params["weight_hh"], ORDER, H))  # (4H, H)
    d_pre = net.buffer(key + ("d_pre",), (n, B, G))
    via_h = net.buffer(key + ("via_h",), (n, B, H))
    mul, sub, add, dot = np.multiply, np.subtract, np.add, np.dot
    # Everything but the recurrence, for all steps at once: each pre-activation's local
    # derivative times the factor its gate is multiplied with; the loop scales by δc or δh.
    # σ′ = a·(1 − a) for o, i, f, computed over all four blocks (one contiguous pass is
    # cheaper than a strided one over three); g's block is overwritten below.
    sub(1, gates, d_pre)
    mul(d_pre, gates, d_pre)
    a, d = gates.reshape(n, B, 4, H), d_pre.reshape(n, B, 4, H)
    o, i, g = a[:, :, 0], a[:, :, 1], a[:, :, 3]
    mul(d[:, :, 0], tanh_c, d[:, :, 0])  # o: × tanh c
    mul(d[:, :, 1], g, d[:, :, 1])  # i: × g
    mul(d[:, :, 2], c[:-1], d[:, :, 2])  # f: × c_{t−1}
    d_g = d[:, :, 3]
    mul(g, g, d_g)
    sub(1, d_g, d_g)
    mul(d_g, i, d_g)  # g: (1 − g²) × i
    mul(tanh_c, tanh_c, via_h)
    sub(1, via_h, via_h)
    mul(via_h, o, via_h)  # ∂h/∂c = o ⊙ (1 − tanh²c)
    dh, dc, dh_next, dc_next, tmp = (np.zeros((B, H), gates.dtype) for _ in range(5))
    dc_blocks = dc[:, None, :]  # δc against the i, f, g blocks
    back = slice(None, None, -1)
    rows = zip(d_h[back], via_h[back], d_pre[back], d[back, :, 0], d[back, :, 1:],
               a[back, :, 2], strict=True)
    for d_h_t, via_h_t, d_pre_t, d_o, d_ifg, f in rows:
        add(d_h_t, dh_next, dh)
        add(dc_next, mul(dh, via_h_t, tmp), dc)
        mul(d_ifg, dc_blocks, d_ifg)
        mul(d_o, dh, d_o)
        dot(d_pre_t, w_hh, dh_next)
        mul(dc, f, dc_next)
    flat = as_rows(d_pre)  # (n·B, 4H)
    grads = {"weight_hh": to_canonical(flat.T @ as_rows(tape.h[:-1]), ORDER, H),
             "bias_hh": to_canonical(flat.sum(0), ORDER, H)}
    return d_pre, grads
