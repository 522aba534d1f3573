"""A model's forward and backward pass over one training window, batched.

Shapes: n steps × B sequences. Every cell keeps its (n, B, W) row buffer, filled by the
kind's own forward loop (the loops step along the first axis and treat each signal as
(…, H), so B is a real axis: one matmul per step for the whole batch); the backward pass
calls the kind's own backward over the same buffer, layer by layer from the head down:

    head:    logits = y·Wᵀ + b                  dW = δlogitsᵀ·y      δy = δlogits·W
    cell:    the kind's backward gives δpre (n, B, G·H) and dW_hh, db_hh (and peepholes)
             dW_ih = δpreᵀ·x    db_ih = Σ δpre    δx = δpre·W_ih   (x: what the cell read)
    encoder: one-hot rows need no δx; an embedding gets dE = onehotᵀ·δx.

The plain LSTM (the benchmarked hot path) runs through lstm_batched instead, which keeps
only what its backward reads, contiguous per step. A product onehotᵀ·M (dW_ih of a one-hot
layer 0, dE) is summed per id, never multiplied out.

A backward-direction cell reads the window from its end: its inputs and δh are reversed in
time before its loops and its δx is put back in time order after. The state carried in from
the previous window is a constant here (truncated backprop through time).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..kinds.spec import as_rows, permute_blocks, to_canonical
from . import lstm_batched
from .losses import loss_and_delta
from .network import Network


@dataclass
class CellTape:
    """What one cell's backward needs: its row buffer, the state it started from and what it
    read (in its processing order; None for layer 0 of a one-hot model, which reads ids)."""

    buf: np.ndarray  # (n, B, W)
    state0: tuple  # each (B, H)
    inputs: np.ndarray | None  # (n, B, I)
    reversed: bool  # a backward-direction cell: processing step k is time n−1−k


@dataclass
class Tape:
    ids: np.ndarray | None  # (n, B) token ids, for one-hot and embedding encoders
    layers: list  # [layer] -> {direction: CellTape}
    y: np.ndarray  # (n, B, D·H) the last layer's output, in time order
    prediction: np.ndarray  # (n, B, O) the head's logits, or y when there is no head


def recorded(cell, cell_tape, name: str) -> np.ndarray:
    """One stored signal of a cell over the window (n, B, H), processing order."""
    if isinstance(cell_tape, lstm_batched.LstmTape):
        return cell_tape.signal(name)
    return getattr(cell.spec.layout(cell.options).views(cell_tape.buf, cell.hidden_size), name)


def zero_state(net: Network, batch: int) -> dict:
    """(layer, direction) -> the state tuple of zeros, (B, H) each ((B, *shape) for a kind
    with its own cell: a Mamba's conv line and h)."""
    return {(index, d): (tuple(np.zeros((batch,) + a.shape, net.dtype)
                               for a in c.prepared.zero_state().values()) if c.own else
                         tuple(np.zeros((batch, c.hidden_size), net.dtype)
                               for _ in c.spec.state_names))
            for index, layer in enumerate(net.layers) for d, c in layer.items()}


@dataclass
class OwnTape:
    """A kind with its own cell: each sequence of the batch run on its own (mamba_math's
    stored signals and checkpoints per sequence)."""

    runs: list  # [b] -> (stored signals, checkpoints)
    state0: tuple  # each (B, *shape)
    inputs: np.ndarray  # (n, B, I), processing order
    reversed: bool


def _own_forward(cell, x: np.ndarray, start: tuple, backward: bool):
    """(tape, output (n, B, H) in processing order, end state) of a kind with its own cell."""
    from ..kinds import mamba_math as mm

    read = x[::-1] if backward else x
    if cell.spec.name != "mamba":  # its cell's own run and backward, sequence by sequence
        return _whole_runs_forward(cell, read, start, backward)
    w, runs, outs, ends = cell.prepared.weights, [], [], []
    for b in range(read.shape[1]):
        conv0, h0 = (s[b] for s in start)
        stored, checkpoints, h_end = mm.forward(w, np.ascontiguousarray(read[:, b]), conv0, h0)
        runs.append((stored, checkpoints))
        outs.append(stored["out"])
        line = mm.conv_window(conv0, stored["x_in"])
        ends.append((line[len(line) - len(conv0):], h_end))
    end = tuple(np.stack([e[k] for e in ends]) for k in range(2))
    return OwnTape(runs, start, read, backward), np.stack(outs, axis=1), end


def _whole_runs_forward(cell, read: np.ndarray, start: tuple, backward: bool):
    """A cell whose trace differentiates itself (the mLSTM): each sequence of the batch run
    by cell.run from its state; the traces are the tape."""
    own = cell.prepared
    runs, outs, ends = [], [], []
    for b in range(read.shape[1]):
        state = {name: s[b] for name, s in zip(own.state_names, start, strict=True)}
        trace = own.run(np.ascontiguousarray(read[:, b]), state=state)
        runs.append(trace)
        outs.append(trace[own.layout.output])
        ends.append(tuple(trace.final_state[name] for name in own.state_names))
    end = tuple(np.stack([e[k] for e in ends]) for k in range(len(own.state_names)))
    return OwnTape(runs, start, read, backward), np.stack(outs, axis=1), end


def _own_backward(cell, t: OwnTape, d_h: np.ndarray) -> tuple[dict, np.ndarray]:
    """(parameter gradients, δx (n, B, I) in processing order) from δoutput (n, B, H)."""
    from ..kinds import mamba_math as mm

    if cell.spec.name != "mamba":  # traces that differentiate themselves (the mLSTM)
        grads, dx = {}, np.empty_like(t.inputs)
        for b, trace in enumerate(t.runs):
            g = trace.backward({cell.prepared.layout.output: np.ascontiguousarray(d_h[:, b])})
            for key, value in g.params.items():
                grads[key] = grads[key] + value if key in grads else value
            dx[:, b] = g.xs
        return grads, dx

    grads, dx = {}, np.empty_like(t.inputs)
    for b, (stored, checkpoints) in enumerate(t.runs):
        res = mm.backward(cell.prepared.weights, np.ascontiguousarray(t.inputs[:, b]), stored,
                          t.state0[0][b], checkpoints, d_out=np.ascontiguousarray(d_h[:, b]))
        for key, g in res["params"].items():
            grads[key] = grads[key] + g if key in grads else g
        dx[:, b] = res["xs"]
    return grads, dx


def _one_hot(ids: np.ndarray, size: int, dtype) -> np.ndarray:
    rows = np.zeros((ids.size, size), dtype)  # (n·B, V)
    rows[np.arange(ids.size), ids.reshape(-1)] = 1
    return rows


def _rows_summed_by_id(rows: np.ndarray, ids: np.ndarray, size: int) -> np.ndarray:
    """onehot(ids)ᵀ·rows without the one-hot matrix: row v of the result (size, W) is the
    sum of the rows whose id is v. rows (N, W), ids (N,). A matmul with the one-hot would
    spend N·size·W multiply-adds on what is N·W additions: the rows are sorted by id once
    and each id's run summed (one call per id that occurs)."""
    order = np.argsort(ids, kind="stable")
    grouped = rows[order]  # (N, W)
    out = np.zeros((size, rows.shape[1]), rows.dtype)
    ends = np.cumsum(np.bincount(ids, minlength=size)).tolist()
    begin = 0
    for v, end in enumerate(ends):
        if end > begin:
            grouped[begin:end].sum(axis=0, out=out[v])
        begin = end
    return out


def forward(net: Network, inputs: np.ndarray, state: dict) -> tuple[Tape, dict]:
    """Run one window. inputs: token ids (n, B) or numbers (n, B, I); state as zero_state.
    Returns the tape and the forward cells' end states (the backward ones start at zero)."""
    encoding = net.encoder.encoding
    ids = inputs if encoding != "numbers" else None
    if encoding == "embedding":
        x = net.embedding[ids]  # (n, B, E)
    elif encoding == "numbers":
        x = inputs
    else:
        x = None  # one-hot: layer 0 picks rows of W_ih by id instead of a matmul
    n, B = inputs.shape[:2]
    tapes, end = [], {}
    for index, layer in enumerate(net.layers):
        per_direction, outputs = {}, []
        for direction, cell in layer.items():
            backward = direction == "backward"
            if cell.own:
                dense = x if x is not None else _one_hot(ids, net.encoder.size, net.dtype) \
                    .reshape(n, B, -1)
                start = state[(index, direction)] if not backward else tuple(
                    np.zeros((B,) + a.shape, net.dtype)
                    for a in cell.prepared.zero_state().values())
                own, h, final = _own_forward(cell, dense, start, backward)
                if not backward:
                    end[(index, direction)] = final
                per_direction[direction] = own
                outputs.append(h[::-1] if backward and not net.reverse_output[index] else h)
                continue
            if lstm_batched.applies(cell):  # the hot path: contiguous per-step arrays
                start = state[(index, direction)] if not backward else tuple(
                    np.zeros((B, cell.hidden_size), net.dtype) for _ in range(2))
                lstm_tape, final = lstm_batched.forward(
                    net, (index, direction), cell.params, x, ids, start, backward)
                if not backward:
                    end[(index, direction)] = final
                per_direction[direction] = lstm_tape
                h = lstm_tape.output
                outputs.append(h[::-1] if backward and not net.reverse_output[index] else h)
                continue
            H, p, spec = cell.hidden_size, cell.prepared, cell.spec
            G = spec.gates
            width = len(spec.layout(cell.options)) * H
            buf = net.buffer((index, direction), (n, B, width))
            if x is None:
                # x·W_ih + b of a one-hot x is row `id` of (W_ihᵀ + b): one gather
                table = p["w_ih_T"] + p["bias"]  # (V, G·H)
                np.take(table, ids[::-1] if backward else ids, axis=0, out=buf[..., :G * H])
                read = None
            else:
                read = x[::-1] if backward else x
                np.matmul(read, p["w_ih_T"], out=buf[..., :G * H])  # (n, B, G·H)
                buf[..., :G * H] += p["bias"]
            start = state[(index, direction)] if not backward else tuple(
                np.zeros((B, H), net.dtype) for _ in spec.state_names)
            final = spec.forward(buf, start, p, None)
            if not backward:
                end[(index, direction)] = tuple(a.copy() for a in final)
            per_direction[direction] = CellTape(buf, start, read, backward)
            layout = spec.layout(cell.options)
            h = getattr(layout.views(buf, H), layout.output)  # (n, B, H)
            outputs.append(h[::-1] if backward and not net.reverse_output[index] else h)
        tapes.append(per_direction)
        x = outputs[0] if len(outputs) == 1 else np.concatenate(outputs, axis=-1)
    y = x  # (n, B, D·H)
    prediction = y
    if net.head_weight is not None:
        prediction = y @ net.head_weight.T  # (n, B, O)
        prediction += net.head_bias
    return Tape(ids, tapes, y, prediction), end


def backward(net: Network, tape: Tape, delta: np.ndarray) -> dict[str, np.ndarray]:
    """dL/d every trainable array (names as net.named()) from δprediction (n, B, O)."""
    grads: dict[str, np.ndarray] = {}
    if net.head_weight is not None:
        grads["head.weight"] = as_rows(delta).T @ as_rows(tape.y)  # (O, D·H)
        grads["head.bias"] = as_rows(delta).sum(0)
        d_y = delta @ net.head_weight  # (n, B, D·H)
    else:
        d_y = delta
    V = net.encoder.size
    for index in range(len(net.layers) - 1, -1, -1):
        layer, cell_tapes = net.layers[index], tape.layers[index]
        needs_dx = index > 0 or net.embedding is not None  # raw inputs need no gradient
        d_x = None
        offset = 0
        for direction, cell in layer.items():
            t = cell_tapes[direction]
            if cell.own:
                H = cell.hidden_size
                part = d_y[..., offset:offset + H]
                offset += H
                out_reversed = t.reversed and not net.reverse_output[index]
                own_grads, dx = _own_backward(cell, t, part[::-1] if out_reversed else part)
                for key, g in own_grads.items():
                    grads[f"layers.{index}.{direction}.{key}"] = g
                if needs_dx:
                    dx = dx[::-1] if t.reversed else dx
                    d_x = dx if d_x is None else d_x + dx
                continue
            spec, H = cell.spec, cell.hidden_size
            part = d_y[..., offset:offset + H]  # (n, B, H), time order
            offset += H
            out_reversed = t.reversed and not net.reverse_output[index]
            d_h = np.ascontiguousarray(part[::-1] if out_reversed else part)
            if isinstance(t, lstm_batched.LstmTape):
                order = lstm_batched.ORDER
                d_pre_steps, params = lstm_batched.backward(net, (index, direction),
                                                            cell.params, t, d_h)
            else:
                order = spec.block_order
                d_in = {spec.layout(cell.options).output: d_h}
                for name in ("h", "c"):
                    if name in cell.names and name not in d_in:
                        # no gradient from outside: a read-only zero view, not zeros
                        d_in[name] = np.broadcast_to(np.zeros((), d_h.dtype), d_h.shape)
                carry = tuple(np.zeros_like(s) for s in t.state0)
                cols = spec.layout(cell.options).views(t.buf, H)
                res = spec.backward(cols, t.state0, d_in, carry, cell.prepared, None,
                                    params=True)
                d_pre_steps, params = res.d_pre, res.params
            name = f"layers.{index}.{direction}."
            for key, g in params.items():
                grads[name + key] = g
            d_pre = as_rows(d_pre_steps)  # (n·B, G·H), internal block order
            if t.inputs is None:  # one-hot layer 0: ids in processing order
                ids = tape.ids[::-1] if t.reversed else tape.ids
                w = _rows_summed_by_id(d_pre, ids.reshape(-1), V).T  # (G·H, V)
            else:
                w = d_pre.T @ as_rows(t.inputs)
            grads[name + "weight_ih"] = to_canonical(w, order, H)
            # both biases are added to the pre-activations: where the kind's backward gave
            # bias_hh as Σ δpre (the plain LSTM's), bias_ih is the same sum
            grads[name + "bias_ih"] = params["bias_hh"].copy() if isinstance(
                t, lstm_batched.LstmTape) else to_canonical(d_pre.sum(0), order, H)
            if needs_dx:
                w_ih = permute_blocks(cell.params["weight_ih"], order, H)  # (G·H, I)
                dx = d_pre_steps @ w_ih  # (n, B, I), processing order
                if t.reversed:
                    dx = dx[::-1]
                d_x = dx if d_x is None else d_x + dx
        d_y = d_x
    if net.embedding is not None:
        grads["encoder.embedding"] = _rows_summed_by_id(as_rows(d_y), tape.ids.reshape(-1),
                                                        V)  # (V, E)
    named = net.named()
    return {k: grads[k].astype(net.dtype, copy=False) for k in named}


def loss_and_gradients(net: Network, inputs: np.ndarray, targets: np.ndarray,
                       state: dict | None = None) -> tuple[float, dict, dict]:
    """One window's loss, the gradient of every trainable array, and the end state.

    targets: integer class ids (n, B) (cross-entropy; negative ids are ignored) or numbers
    (n, B, O) (mean squared error)."""
    B = inputs.shape[1]
    tape, end = forward(net, inputs, zero_state(net, B) if state is None else state)
    loss, delta = loss_and_delta(net, tape.prediction, targets)
    return loss, backward(net, tape, delta), end
