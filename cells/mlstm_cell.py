"""An mLSTM cell and its trace: the math of cells.kinds.mlstm behind the names a Cell and a
Trace use (run, step, window, frame, backward, signals), for signals that are not H wide.

    cell = mlstm_cell.create(input_size=3, hidden_size=8, heads=2, seed=0)
    trace = cell.run(xs)                 # xs (T, I)
    trace["C"]                           # (T, heads, d, d): the memory after each step
    cell.signals["C"]                    # ["heads", "d", "d"]: its shape per step
    g = trace.backward({"h": dh})        # g.params, g.xs, g.state0 ({"C", "n", "m"})
    cell.run(xs, parallel=True)          # the closed (quadratic) form, the same numbers
    cell.parallel_max_abs_diff(xs)       # closed form vs recurrence, every signal
    trace.sensitivity(t, unit)           # ‖∂h_t[unit]/∂x_s‖ and ‖∂h_t[unit]/∂C_s‖

Steps are computed in blocks (BLOCK); every signal but C is kept for every step, C only at
the start of each block (it is heads·d² numbers a step) and recomputed, bit for bit, for
a window and for the backward pass. The closed form runs block by block too, carrying the
state, so its memory is O(BLOCK²) per head whatever the length.

cells.create("mlstm", ...) hands out this cell (cells.cell.create): the engine's
Cell and Trace keep every signal H wide in one row buffer, and these are not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .interventions import FIELDS as HOLD_FIELDS
from .interventions import Intervention, _check_item, holds_for
from .kinds import mlstm as math
from .params import as_dtype, as_float_array, check_sequence, check_size
from .signals import chosen_names, stages_of
from .weight_edits import WeightEdit, apply_weight_edits, check_weight_edits


def check_mlstm_options(options: dict) -> dict:
    """The mLSTM's defaults updated with `options`; unknown names or values raise."""
    table = {o.name: o for o in math.OPTION_TABLE}
    unknown = sorted(set(options) - set(table))
    if unknown:
        raise ValueError(f"unknown option(s) {unknown} for a mlstm; its options: "
                         f"{', '.join(table)}")
    out = {name: o.default for name, o in table.items()}
    for name, value in options.items():
        allowed = table[name].values
        if value not in allowed or type(value) is not type(allowed[0]):
            raise ValueError(f"option {name} must be one of {list(allowed)}, got {value!r}")
        out[name] = value
    return out


@dataclass
class MLSTMGradients:
    params: dict  # same names and shapes as cell.params
    xs: np.ndarray  # (T, I)
    state0: dict  # dL/d of the starting C, n, m


class MLSTMCell:
    kind = "mlstm"
    state_names = math.STATE_NAMES

    def __init__(self, params: dict, dtype: np.dtype, options: dict):
        self.params, self.dtype, self.options = params, dtype, options
        self.heads = options["heads"]
        self.input_size = params["weight_ih"].shape[1]
        self.hidden_size = math.hidden_size_of(len(params["bias_ih"]), self.heads,
                                               options["output_gate"])
        self.head_size = self.hidden_size // self.heads
        self.shapes = math.signal_shapes(self.hidden_size, self.heads, options["output_gate"])
        self.spec = math.MLSTM
        self.signals = math.signals(**options)  # Signal descriptions, shapes by axis names
        self.described = self.signals
        self.signal_axes = {s.name: s.to_dict()["shape"] for s in self.signals}
        self.names = tuple(s.name for s in self.signals)
        self.layout = math.layout(options)
        self.dims = math.dims(self.input_size, self.hidden_size, options)

    has_parallel = True

    def shape_of(self, name: str) -> tuple[int, ...]:
        """The per-step shape of a signal, in numbers."""
        return tuple(self.dims[axis] for axis in self.signal_axes[name])

    def width(self, signal) -> int:
        """How many numbers `signal` has per step."""
        return int(np.prod(self.shape_of(signal.name)))

    @property
    def step_multiply_adds(self) -> int:
        """Multiply-adds of one step: the projections, and per head the memory's decay,
        write and read (d² each)."""
        return int(self.params["weight_ih"].size + 3 * self.heads * self.head_size ** 2)

    def info(self) -> dict:
        """As cells.kind_info gives a kind: options, state, stages and the signals, each
        with its shape per step (axis names)."""
        shapes = self.signal_axes
        return {"kind": self.kind,
                "options": {o.name: {"values": list(o.values), "default": o.default}
                            for o in math.OPTION_TABLE},
                "state": list(self.state_names), "stages": stages_of(self.described),
                "signals": [{**s.to_dict(), "shape": shapes[s.name]} for s in self.described]}

    def check_interventions(self, interventions, steps: int) -> tuple[Intervention, ...]:
        """Interventions {"signal", "start", "stop", "units", "value"} checked for this cell:
        `units` index the signal's values at a step (a head for i and f)."""
        if interventions is None:
            return ()
        if isinstance(interventions, (str, bytes, dict)) or not isinstance(
                interventions, (list, tuple)):
            raise ValueError(f"interventions must be a list of {{{', '.join(HOLD_FIELDS)}}}")
        holdable = {s.name: s for s in self.described if s.name in math.HOLDABLE}
        out = []
        for n, item in enumerate(interventions):
            where = f"interventions[{n}]"
            item = item.to_dict() if isinstance(item, Intervention) else item
            if not isinstance(item, dict):
                raise ValueError(f"{where} must be an object with {', '.join(HOLD_FIELDS)}")
            name = item.get("signal")
            size = int(np.prod(self.shapes[name])) if name in holdable else self.hidden_size
            out.append(_check_item(item, where, HOLD_FIELDS, self.kind, holdable, steps, size))
        return tuple(out)

    def check_weight_edits(self, edits) -> tuple[WeightEdit, ...]:
        """Edits {"param", "row", "col", "value"} checked against weight_ih (R, I) and
        bias_ih (R,) (cells.weight_edits, by the kind's param_layout)."""
        return check_weight_edits("mlstm", edits, self.input_size, self.hidden_size,
                                  self.dtype, **self.options)

    def with_weights(self, edits) -> MLSTMCell:
        """A new cell with these entries of its parameters changed; this one unchanged."""
        return create(params=apply_weight_edits(self.params, self.check_weight_edits(edits)),
                      dtype=self.dtype, **self.options)

    def __repr__(self) -> str:
        opts = "".join(f", {k}={v!r}" for k, v in self.options.items())
        return (f"MLSTMCell(input_size={self.input_size}, hidden_size={self.hidden_size}, "
                f"dtype={self.dtype.name}{opts})")

    def zero_state(self) -> dict:
        heads, d = self.heads, self.head_size
        return {"C": np.zeros((heads, d, d), self.dtype), "n": np.zeros((heads, d), self.dtype),
                "m": np.zeros(heads, self.dtype)}

    def _state_tuple(self, given: dict | None) -> tuple:
        given = {k: v for k, v in (given or {}).items() if v is not None}
        unknown = sorted(set(given) - set(self.state_names))
        if unknown:
            raise ValueError(f"a mlstm has no state {unknown}; its state: "
                             f"{list(self.state_names)}")
        zero = self.zero_state()
        out = []
        for name in self.state_names:
            if name not in given:
                out.append(zero[name])
                continue
            a = as_float_array(given[name], f"initial state {name}", self.dtype)
            if a.shape != zero[name].shape:
                raise ValueError(f"initial state {name} has shape {a.shape}; expected "
                                 f"{zero[name].shape}")
            out.append(a)
        return tuple(out)

    def check_inputs(self, xs) -> np.ndarray:
        return check_sequence(xs, self.input_size, self.dtype)

    def run(self, xs, h0=None, c0=None, interventions=None, state: dict | None = None,
            parallel: bool = False) -> MLSTMTrace:
        """Every signal of every step from `state` ({"C", "n", "m"}, zeros by default; an
        mLSTM has no h or c state, so h0 and c0 are refused). `parallel`: by the closed
        form instead of step by step. `interventions`: signals held (see
        check_interventions; step by step only)."""
        if h0 is not None or c0 is not None:
            raise ValueError("a mlstm's state is C, n and m (give them as state=); it has "
                             "no h0 or c0")
        xs = self.check_inputs(xs)
        state0 = self._state_tuple(state)
        holds = holds_for(self.check_interventions(interventions, len(xs)), 0, len(xs))
        if parallel and holds is not None:
            raise ValueError("held signals need the step-by-step form; "
                             "run with parallel=False to hold signals")
        return MLSTMTrace(self, xs, state0, holds, interventions, parallel)

    def compute_block(self, xs: np.ndarray, state: tuple, holds, parallel: bool) -> dict:
        """Every signal of the steps xs from `state`, C included: the one computation of a
        block of steps, so that a recomputed block is bit-for-bit the first."""
        pre = math.project(self.params, xs, self.heads, self.options["output_gate"])
        if parallel:
            return math.forward_parallel(pre, state, self.options["forget"])
        return math.forward_steps(pre, state, self.options["forget"], holds)

    def parallel_max_abs_diff(self, xs, state: dict | None = None) -> float:
        """The largest difference, over every recorded signal of every step, between the
        closed form and the step-by-step recurrence."""
        a, b = self.run(xs, state=state), self.run(xs, state=state, parallel=True)
        return float(max(np.max(np.abs(a[name] - b[name])) for name in self.shapes))

    def step(self, x, state: dict | None = None) -> tuple[dict, dict]:
        """One step: (new state, frame of every signal)."""
        x = as_float_array(x, "x", self.dtype)
        trace = self.run(x[None], state=state)
        return trace.final_state, trace.frame(0)


# Steps are computed in blocks of BLOCK; the memory C (heads·d² per step) is kept only at the
# start of each block and recomputed for a window or the backward pass; every other signal
# (H or heads wide) is kept for every step.
BLOCK = 256
RECOMPUTED = ("C",)


class MLSTMTrace:
    def __init__(self, cell: MLSTMCell, xs: np.ndarray, state0: tuple, holds,
                 interventions=None, parallel: bool = False):
        self.cell, self.xs, self.state0, self.holds = cell, xs, state0, holds
        self.interventions = interventions
        self.parallel = parallel
        self.block = BLOCK  # this trace's block size, fixed at its first computation
        T = len(xs)
        self.records = {name: np.empty((T, *shape), cell.dtype)
                        for name, shape in cell.shapes.items() if name not in RECOMPUTED}
        self._checkpoints = [state0]  # the state before block k
        self._compute_from(0)

    def _compute_from(self, k0: int) -> None:
        """Blocks k0, k0 + 1, … to the end: their kept rows and the checkpoints after them
        (the checkpoint before block k0 is there)."""
        for a in range(k0 * self.block, len(self.xs), self.block):
            rec = self._block(a // self.block)
            for name, rows in self.records.items():
                rows[a:a + self.block] = rec[name]
            self._checkpoints.append(tuple(rec[name][-1].copy()
                                           for name in self.cell.state_names))

    def _block(self, k: int) -> dict:
        a, b = k * self.block, min((k + 1) * self.block, len(self.xs))
        holds = None if self.holds is None else self.holds[a:b]
        return self.cell.compute_block(self.xs[a:b], self._checkpoints[k], holds,
                                       self.parallel)

    def __len__(self) -> int:
        return len(self.xs)

    @property
    def names(self) -> tuple[str, ...]:
        return self.cell.names

    def __contains__(self, name: str) -> bool:
        return name in self.names

    def __getitem__(self, name: str) -> np.ndarray:
        return self.window(0, len(self), (name,))[name]

    @property
    def nbytes(self) -> int:
        kept = sum(a.nbytes for a in self.records.values())
        return int(self.xs.nbytes + kept + sum(a.nbytes for st in self._checkpoints for a in st))

    @property
    def final_state(self) -> dict:
        return dict(zip(self.cell.state_names, (a.copy() for a in self._checkpoints[-1]),
                        strict=True))

    def state_before(self, s: int) -> dict:
        """The state {"C", "n", "m"} before step s (the start state for s = 0)."""
        if not 0 <= s <= len(self):
            raise ValueError(f"step {s} is outside 0 … {len(self)}")
        if s % self.block == 0:
            state = self._checkpoints[s // self.block]
            return {name: a.copy() for name, a in zip(self.cell.state_names, state,
                                                      strict=True)}
        return {name: self.window(s - 1, s, (name,))[name][0] for name in self.cell.state_names}

    def window(self, start: int, stop: int, names=None) -> dict:
        """Signals for steps [start, stop): name -> (stop − start, …), fresh arrays; the
        memory C recomputed block by block from the block's checkpoint."""
        if not 0 <= start <= stop <= len(self):
            raise ValueError(f"window [{start}, {stop}) is outside the trace of {len(self)} steps")
        names = chosen_names(names, self.names, "mlstm")
        out = {}
        for name in names:
            if name == "x":
                out[name] = self.xs[start:stop].copy()
            elif name in self.records:
                out[name] = self.records[name][start:stop].copy()
            elif name.endswith("_prev"):  # the state before each step: the rows before
                state = name[:-len("_prev")]
                first = self.state_before(start)[state][None]
                rest = self.window(start, stop - 1, (state,))[state] if stop - 1 > start \
                    else first[:0]
                out[name] = np.concatenate([first, rest])[:stop - start]
        recomputed = [n for n in names if n in RECOMPUTED]
        if recomputed and stop > start:
            pieces = {n: [] for n in recomputed}
            for k in range(start // self.block, (stop - 1) // self.block + 1):
                rec, a = self._block(k), k * self.block
                for n in recomputed:
                    pieces[n].append(rec[n][max(start, a) - a:min(stop, a + self.block) - a])
            out.update({n: np.concatenate(p) for n, p in pieces.items()})
        elif recomputed:
            out.update({n: np.empty((0, *self.cell.shapes[n]), self.cell.dtype)
                        for n in recomputed})
        return out

    def frame(self, t: int) -> dict:
        return {name: a[0] for name, a in self.window(t, t + 1).items()}

    def extend(self, xs_more) -> MLSTMTrace:
        """Append steps and continue (the same start, holds and form), in place: only the
        last, partial block is recomputed, so the result equals a fresh run."""
        more = self.cell.check_inputs(xs_more)
        old = len(self)
        self.xs = np.concatenate([self.xs, more])
        held = self.cell.check_interventions(self.interventions, len(self.xs))
        self.holds = holds_for(held, 0, len(self.xs))
        k0 = old // self.block
        del self._checkpoints[k0 + 1:]
        grown = {name: np.empty((len(self.xs), *a.shape[1:]), a.dtype)
                 for name, a in self.records.items()}
        for name, a in grown.items():
            a[:k0 * self.block] = self.records[name][:k0 * self.block]
        self.records = grown
        self._compute_from(k0)
        return self

    def _backward(self, d_h: np.ndarray, start: int, stop: int, state: tuple,
                  totals: bool = False):
        """Blocks from the last to the first over steps [start, stop) (start a block start
        or the sensitivity window's start, `state` the state before it): (d_pre (n, R),
        carry at the start, dL/dC per step or None)."""
        cell = self.cell
        n = stop - start
        R = len(cell.params["bias_ih"])
        d_pre = np.empty((n, R), cell.dtype)
        dC = np.empty((n, *cell.shapes["C"]), cell.dtype) if totals else None
        carry = tuple(np.zeros_like(a) for a in state)
        size = self.block
        edges = sorted({start, stop, *range((start // size + 1) * size, stop, size)})
        for a, b in reversed(list(zip(edges[:-1], edges[1:], strict=True))):
            before = state if a == start else self._checkpoints[a // self.block]
            k = a // self.block
            rec = self._block(k)
            lo = a - k * self.block
            rows = {name: r[lo:lo + b - a] for name, r in rec.items()}
            if a != k * self.block:  # the window starts inside block k: the state before it
                before = tuple(rec[name][lo - 1] for name in cell.state_names)
            holds = None if self.holds is None else self.holds[a:b]
            res = math.backward_steps(rows, before, d_h[a - start:b - start], carry,
                                      cell.options["forget"], cell.options["output_gate"],
                                      holds, totals=totals)
            d_pre[a - start:b - start] = res.d_pre
            if totals:
                dC[a - start:b - start] = res.totals
            carry = res.carry
        return d_pre, carry, dC

    def backward(self, grad: dict) -> MLSTMGradients:
        """Gradients of a scalar loss given dL/d(recorded h) per step, {"h": (T, H)}."""
        cell = self.cell
        if not isinstance(grad, dict) or set(grad) - {"h"}:
            raise ValueError("give the gradients as {'h': (T, H)}")
        d_h = as_float_array(grad["h"], "gradient h", cell.dtype)
        if d_h.shape != (len(self), cell.hidden_size):
            raise ValueError(f"gradient h has shape {d_h.shape}; expected "
                             f"{(len(self), cell.hidden_size)}")
        d_pre, carry, _ = self._backward(d_h, 0, len(self), self.state0)
        params = {"weight_ih": d_pre.T @ self.xs, "bias_ih": d_pre.sum(0)}
        return MLSTMGradients(params, d_pre @ cell.params["weight_ih"],
                              dict(zip(cell.state_names, carry, strict=True)))

    def read_weights(self, t: int, head: int, window: int = 64) -> dict:
        """What the query of step t reads from head `head`'s memory, as weights on the values
        written: h̃_t = Σ_s w_s·v_s + r for s in [start, t], start = max(0, t − window + 1),
        with w_s = (Π_{s<r≤t} f_r)·i_s·(k_s·q_t) / den_t and r = (Π_{start≤r≤t} f_r)·
        C_{start−1} q_t / den_t (what the memory held before the window), den_t the read-out's
        denominator — the mLSTM's attention matrix, row t. Exact from the recorded gates,
        holds included; a held h̃_t is not this read. {"start", "t", "head", "weights" (n,),
        "from_state" (d,)}."""
        for what, v in (("t", t), ("head", head), ("window", window)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise ValueError(f"{what} must be an integer, got {v!r}")
        cell = self.cell
        if not 0 <= t < len(self):
            raise ValueError(f"t {t} is outside the trace of {len(self)} steps")
        if not 0 <= head < cell.heads:
            raise ValueError(f"head {head} is outside 0 … {cell.heads - 1}")
        if window < 1:
            raise ValueError(f"window must be at least 1, got {window}")
        start = max(0, t - window + 1)
        d = cell.head_size
        units = slice(head * d, (head + 1) * d)
        rows = self.window(start, t + 1, ("q", "k", "v", "i", "f", "n", "m"))
        q = rows["q"][-1, units]
        keys = rows["k"][:, units]  # (n, d)
        i, f = rows["i"][:, head], rows["f"][:, head]
        n_t, m_t = rows["n"][-1, head], rows["m"][-1, head]
        den = max(abs(float(n_t @ q)), float(np.exp(-m_t))) + math.EPS
        # Π_{s<r≤t} f_r for each s: the forget gates after s, a reversed cumulative product
        after = np.append(np.cumprod(f[::-1])[::-1][1:], 1.0)
        weights = after * i * (keys @ q) / den
        before = self.state_before(start)["C"][head]
        return {"start": start, "t": t, "head": head, "weights": weights,
                "from_state": np.prod(f) * (before @ q) / den}

    def sensitivity(self, t: int, unit: int, of: str = "h", window: int = 256) -> dict:
        """‖∂h_t[unit] / ∂v_s‖₂ for v = x (the input) and C (the memory after step s, every
        head's d×d of it; also under "h", the recurrent state's name the sessions read) for
        s in [max(0, t − window + 1), t]: how much of the output at t still depends on
        what each earlier step wrote."""
        for what, v in (("t", t), ("unit", unit), ("window", window)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise ValueError(f"{what} must be an integer, got {v!r}")
        cell = self.cell
        if of != "h":
            raise ValueError(f"of must be 'h' for a mlstm, got {of!r}")
        if not 0 <= t < len(self):
            raise ValueError(f"t {t} is outside the trace of {len(self)} steps")
        if not 0 <= unit < cell.hidden_size:
            raise ValueError(f"unit {unit} is outside 0 … {cell.hidden_size - 1}")
        if window < 1:
            raise ValueError(f"window must be at least 1, got {window}")
        start = max(0, t - window + 1)
        n = t + 1 - start
        seed = np.zeros((n, cell.hidden_size), cell.dtype)
        seed[-1, unit] = 1
        state = tuple(self.state_before(start)[name] for name in cell.state_names)
        d_pre, _, dC = self._backward(seed, start, t + 1, state, totals=True)
        memory = np.linalg.norm(dC.reshape(n, -1), axis=-1)
        return {"start": start, "t": t, "unit": unit, "of": of,
                "x": np.linalg.norm(d_pre @ cell.params["weight_ih"], axis=-1),
                # "h": the recurrent state's, as every kind reports it (here the memory C)
                "C": memory, "h": memory, "c": None}


def create_from_spec(input_size, hidden_size, seed, params, dtype, options) -> MLSTMCell:
    """cells.create's way to an mLSTM (cells.cell.create)."""
    return create(input_size, hidden_size, seed=seed, params=params, dtype=dtype,
                  **dict(options or {}))


def create(input_size: int | None = None, hidden_size: int | None = None, seed: int = 0,
           params: dict | None = None, dtype="float32", **options) -> MLSTMCell:
    """An mLSTM: initialised from `seed` (see cells.kinds.mlstm.init_params), or from
    canonical `params` (weight_ih (R, I), bias_ih (R,))."""
    opts = check_mlstm_options(options)
    dt = as_dtype(dtype)
    heads, gate = opts["heads"], opts["output_gate"]
    if params is None:
        if input_size is None or hidden_size is None:
            raise ValueError("give input_size and hidden_size, or params")
        I, H = check_size("input_size", input_size), check_size("hidden_size", hidden_size)
        if H % heads:
            raise ValueError(f"hidden_size {H} is not a multiple of heads {heads}")
        params = math.init_params(I, H, heads, check_size("seed", seed, low=0), dt, gate)
    unknown = sorted(set(params) - {"weight_ih", "bias_ih"})
    if unknown or "weight_ih" not in params:
        raise ValueError(f"a mlstm takes parameters weight_ih and bias_ih; got {sorted(params)}")
    w = as_float_array(params["weight_ih"], "parameter weight_ih", dt)
    H = math.hidden_size_of(w.shape[0], heads, gate) if w.ndim == 2 else None
    if H is None or w.shape[1] == 0:
        raise ValueError(f"parameter weight_ih has shape {w.shape}; a mlstm with {heads} "
                         f"head(s) expects ({4 if gate else 3}·H + 2·heads, input_size), "
                         f"H a multiple of heads")
    if hidden_size is not None and hidden_size != H:
        raise ValueError(f"hidden_size {hidden_size} does not match the weights (H={H})")
    b = as_float_array(params.get("bias_ih", np.zeros(len(w))), "parameter bias_ih", dt)
    if b.shape != (len(w),):
        raise ValueError(f"parameter bias_ih has shape {b.shape}; expected ({len(w)},)")
    for a in (w, b):
        a.setflags(write=False)
    return MLSTMCell({"weight_ih": w, "bias_ih": b}, dt, opts)
