"""Gradients through time: the backward pass over a trace, and the sensitivity of one unit.

The backward pass walks the trace's chunks from the last to the first. Each chunk's rows
come from the cache or are recomputed once from its checkpoint; the kind's ``backward``
runs the recurrence in reverse over them (the only part that must go step by step), and
everything else is one matmul per chunk over all its steps: dL/dW_ih = δpreᵀ·xs,
dL/dxs = δpre·W_ih, and inside the kind dL/dW_hh = δpreᵀ·h_{t−1}. Memory is the caller's
per-step gradients plus a few chunks, whatever the length of the trace.

Sensitivity (Written Memories, r2rt 2016: how much h_t still depends on what happened k
steps before) is one backward sweep of a one-hot seed over the window, recording the
gradient reaching the state after each step: not a Jacobian per step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .interventions import holds_for
from .kinds.spec import permute_blocks, to_canonical
from .params import as_float_array


@dataclass
class Gradients:
    """dL/d(everything the trace was computed from)."""

    params: dict  # same names and shapes as cell.params
    xs: np.ndarray  # (T, I)
    h0: np.ndarray | None  # (H,), where the kind's state has h
    c0: np.ndarray | None  # (H,), where the kind's state has c
    state0: dict | None = None  # every starting state by name (an sLSTM's n and m too)


def _integer(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{what} must be an integer, got {value!r}")
    return int(value)


def _input_weights(cell) -> np.ndarray:
    """W_ih with its gate blocks in the kind's internal order, (G·H, I), never halved."""
    return permute_blocks(cell.params["weight_ih"], cell.spec.block_order, cell.hidden_size)


def _loss_gradients(trace, grad) -> dict:
    """The per-step gradients given to backward, checked: name -> (T, H) array."""
    cell = trace.cell
    allowed = [n for n in ("h", "c") if n in cell.names]
    if not isinstance(grad, dict):
        raise ValueError(f"give the gradients as a dict with keys among {allowed}")
    unknown = sorted(set(grad) - set(allowed))
    if unknown:
        raise ValueError(f"a {cell.kind} has no signal {unknown} to take gradients of; "
                         f"give {' and/or '.join(allowed)}")
    out = {}
    shape = (len(trace), cell.hidden_size)
    for name in allowed:
        if grad.get(name) is None:
            out[name] = None
            continue
        a = as_float_array(grad[name], f"gradient {name}", cell.dtype)
        if a.shape != shape:
            raise ValueError(f"gradient {name} has shape {a.shape}; expected {shape}")
        out[name] = a
    return out


def backward(trace, grad: dict) -> Gradients:
    cell, spec = trace.cell, trace.cell.spec
    H, T = cell.hidden_size, len(trace)
    given = _loss_gradients(trace, grad)
    order = spec.block_order
    w_ih = _input_weights(cell)
    acc = {k: np.zeros_like(v) for k, v in cell.params.items()}
    dxs = np.empty((T, cell.input_size), cell.dtype)
    carry = tuple(np.zeros(H, cell.dtype) for _ in spec.state_names)
    zeros = None  # stands for a gradient not given; the longest chunk comes first or second
    for a, b, rows, state_before in trace.chunks_backward():
        if zeros is None or len(zeros) < b - a:
            zeros = np.zeros((b - a, H), cell.dtype)
        cols = cell.layout.views(rows, H)
        d_in = {name: (g[a:b] if g is not None else zeros[:b - a]) for name, g in given.items()}
        res = spec.backward(cols, state_before, d_in, carry, cell.prepared,
                            holds_for(trace.interventions, a, b), params=True)
        carry = res.carry
        np.dot(res.d_pre, w_ih, out=dxs[a:b])
        acc["weight_ih"] += to_canonical(res.d_pre.T @ trace.xs[a:b], order, H)
        acc["bias_ih"] += to_canonical(res.d_pre.sum(0), order, H)
        for name, g in res.params.items():
            acc[name] += g
    state = dict(zip(spec.state_names, carry, strict=True))
    return Gradients(acc, dxs, state.get("h"), state.get("c"), state)


def sensitivity(trace, t: int, unit: int, of: str = "h", window: int = 256) -> dict:
    cell, spec = trace.cell, trace.cell.spec
    H, T = cell.hidden_size, len(trace)
    t, unit, window = (_integer(v, w) for v, w in ((t, "t"), (unit, "unit"), (window, "window")))
    if not 0 <= t < T:
        raise ValueError(f"t {t} is outside the trace of {T} steps")
    if not 0 <= unit < H:
        raise ValueError(f"unit {unit} is outside 0 … {H - 1}")
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    state_signals = [n for n in ("h", "c") if n in cell.names]
    if of not in state_signals:
        raise ValueError(f"of must be one of {state_signals} for a {cell.kind}, got {of!r}")
    start = max(0, t - window + 1)
    n = t + 1 - start
    cols = cell.layout.views(trace.rows(start, t + 1), H)
    seed = {name: np.zeros((n, H), cell.dtype) for name in state_signals}
    seed[of][-1, unit] = 1
    carry = tuple(np.zeros(H, cell.dtype) for _ in spec.state_names)
    res = spec.backward(cols, trace.state_before(start), seed, carry, cell.prepared,
                        holds_for(trace.interventions, start, t + 1), params=False, totals=True)
    norms = {name: np.linalg.norm(g, axis=-1) for name, g in res.totals.items()}
    return {"start": start, "t": t, "unit": unit, "of": of,
            "x": np.linalg.norm(res.d_pre @ _input_weights(cell), axis=-1),
            "h": norms["h"], "c": norms.get("c")}
