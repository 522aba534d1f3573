"""The Mamba mixer as a cell: the engine's public face (run, step, with_weights, a trace with
window/frame/backward/sensitivity/extend) over signals of several widths.

The trace keeps B, C (N each) and out (H) of every step, and before every block of
mamba_math.BLOCK steps what that block reads besides its inputs: the conv's delay line
(K − 1 rows of x_in) and h (E × N). Every other signal of any window is computed again
from there, block by block (mamba_math.block_signals), bit for bit the first
computation; the last block computed is kept, so stepping through a block computes it
once. A step so costs 2·N + H stored numbers: at the 130M configuration (E = 1536,
N = 16, H = 768) 800, under 1 % of the 89,888 a record of every signal would hold, and
a window of one step costs one block of the layer's forward.
"""

from __future__ import annotations

import numpy as np

from ..interventions import check_interventions, holds_for
from ..params import as_float_array, check_sequence, check_size, weight_array
from ..signals import chosen_names
from ..weight_edits import apply_weight_edits, check_weight_edits
from . import mamba_math as mm
from .mamba import MAMBA, dims, init_params, options_from_params

PARALLEL_METHODS = {True: "doubling", "doubling": "doubling", "log": "log"}
KEPT = ("B", "C", "out")  # what a trace keeps of every step (the rest: mamba_math.block_signals)


def create_mamba(input_size=None, hidden_size=None, seed=0, params=None, dtype=None,
                 options=None) -> Mamba:
    """A Mamba cell initialised from `seed` (as mambapy does), or from canonical params
    whose shapes fix the sizes and options (options given must agree)."""
    from . import check_options

    options = dict(options or {})
    if params is None:
        if input_size is None or hidden_size is None:
            raise ValueError("give input_size and hidden_size, or params")
        opts = check_options(MAMBA, options)
        I, H = check_size("input_size", input_size), check_size("hidden_size", hidden_size)
        params = init_params(I, H, check_size("seed", seed, low=0), dtype, opts)
    else:
        unknown = sorted(set(params) - set(MAMBA_PARAMS))
        if unknown:
            raise ValueError(f"unknown parameter(s) {unknown} for a mamba; expected "
                             f"{list(MAMBA_PARAMS)}")
        implied, I, H = options_from_params(params, options)
        opts = check_options(MAMBA, implied)
        for name, size in (("input_size", input_size), ("hidden_size", hidden_size)):
            if size is not None and size != {"input_size": I, "hidden_size": H}[name]:
                raise ValueError(f"{name} {size} does not match the weights ({name} "
                                 f"{ {'input_size': I, 'hidden_size': H}[name]})")
    return Mamba(check_params(params, I, H, opts, dtype), dtype, opts)


MAMBA_PARAMS = ("in_proj_weight", "in_proj_bias", "conv_weight", "conv_bias", "x_proj_weight",
                "dt_proj_weight", "dt_proj_bias", "A_log", "D", "out_proj_weight",
                "out_proj_bias")
OPTIONAL_ZERO = ("in_proj_bias", "conv_bias", "out_proj_bias")  # absent in some modules


def check_params(params: dict, I: int, H: int, options: dict, dtype) -> dict:
    from .mamba import param_shapes

    shapes = param_shapes(I, H, options)
    out = {}
    for name, shape in shapes.items():
        if name not in params:
            if name not in OPTIONAL_ZERO:
                raise ValueError(f"parameter {name} is missing for a mamba")
            out[name] = np.zeros(shape, dtype)
        else:
            out[name] = weight_array(params[name], f"parameter {name}", dtype)
            if out[name].shape != shape:
                raise ValueError(f"parameter {name} has shape {out[name].shape}; expected "
                                 f"{shape}")
        out[name].setflags(write=False)
    return out


class Mamba:
    """A Mamba mixer: kind "mamba", its checked canonical params, dtype and options."""

    kind = "mamba"

    def __init__(self, params: dict, dtype, options: dict):
        self.spec = MAMBA
        self.params = params
        self.dtype = np.dtype(dtype)
        self.options = options
        H, E = params["out_proj_weight"].shape
        self.input_size = params["in_proj_weight"].shape[1]
        self.hidden_size = H  # the size of out, what a next layer reads
        self.dims = dims(self.input_size, H, options)  # E, N, K, R, … by name
        self.channels = E
        self.signals = MAMBA.describe(**options)
        self.names = tuple(s.name for s in self.signals)
        self.layout = MAMBA.layout(options)
        self.state_names = MAMBA.state_names
        self.weights = mm.weights(params)

    def __repr__(self) -> str:
        opts = "".join(f", {k}={v!r}" for k, v in self.options.items())
        return (f"Mamba(input_size={self.input_size}, hidden_size={self.hidden_size}, "
                f"channels={self.channels}, dtype={self.dtype.name}{opts})")

    has_parallel = True

    def shape_of(self, name: str) -> tuple[int, ...]:
        """The per-step shape of a signal, in numbers."""
        signal = next(s for s in self.signals if s.name == name)
        return tuple(self.dims[d] for d in signal.shape)

    @property
    def step_multiply_adds(self) -> int:
        """Multiply-adds of one step: every matrix once, and per state the decay, the write
        and the read-out."""
        matrices = sum(a.size for a in self.params.values() if a.ndim == 2)
        return int(matrices + 3 * self.channels * self.dims["N"])

    @property
    def kept_per_step(self) -> float:
        """Numbers its trace keeps per step: the input, B, C and out, and per block of
        mamba_math.BLOCK steps the delay line and h the block starts from (the module's
        docstring); every other signal is computed again when read."""
        E, N, lags = self.channels, self.dims["N"], self.dims["lags"]
        return self.input_size + 2 * N + self.hidden_size + (E * N + lags * E) / mm.BLOCK

    def width(self, signal) -> int:
        """How many numbers `signal` has per step (its shape's product)."""
        return int(np.prod([self.dims[d] for d in signal.shape]))

    def zero_state(self) -> dict[str, np.ndarray]:
        return {"conv": np.zeros((self.dims["lags"], self.channels), self.dtype),
                "h": np.zeros((self.channels, self.dims["N"]), self.dtype)}

    def check_inputs(self, xs) -> np.ndarray:
        return check_sequence(xs, self.input_size, self.dtype)

    def check_state(self, given: dict) -> dict:
        unknown = sorted(k for k, v in given.items() if v is not None
                         and k not in self.state_names)
        if unknown:
            raise ValueError(f"a mamba has no state {unknown}; its state: "
                             f"{list(self.state_names)}")
        out = self.zero_state()
        for name, value in given.items():
            if value is None:
                continue
            a = as_float_array(value, f"initial state {name}", self.dtype)
            if a.shape != out[name].shape:
                raise ValueError(f"initial state {name} has shape {a.shape}; expected "
                                 f"{out[name].shape}")
            out[name] = a
        return out

    def check_interventions(self, interventions, steps: int) -> tuple:
        """Holds of Δ, x_conv, decay, the output gate or h; `units` are channels."""
        return check_interventions("mamba", interventions, steps, self.channels,
                                   **self.options)

    def check_weight_edits(self, edits) -> tuple:
        return check_weight_edits("mamba", edits, self.input_size, self.hidden_size,
                                  self.dtype, **self.options)

    def with_weights(self, edits) -> Mamba:
        """A new cell with these weights changed (see cells.weight_edits)."""
        return Mamba(apply_weight_edits(self.params, self.check_weight_edits(edits)),
                     self.dtype, dict(self.options))

    def run(self, xs, h0=None, c0=None, interventions=None, on_chunk=None, state=None,
            parallel: bool | str = False) -> MambaTrace:
        """Every signal of the sequence xs (T, I) from `state` ({"conv", "h"}; zeros by
        default; h0 is h). `parallel`: the state by a scan, True or "doubling" (an
        associative scan per block) or "log" (the closed form by cumulative log-decay)."""
        if c0 is not None:
            raise ValueError("a mamba has no state c; its state: conv, h")
        start = self.check_state({**(state or {}), **({"h": h0} if h0 is not None else {})})
        xs = self.check_inputs(xs)
        held = self.check_interventions(interventions, len(xs))
        if parallel:
            if parallel not in PARALLEL_METHODS:
                raise ValueError(f"parallel must be False, True, 'doubling' or 'log', "
                                 f"got {parallel!r}")
            if held:
                raise ValueError("held signals need the step-by-step form; "
                                 "run with parallel=False to hold signals")
        return MambaTrace(self, xs, start, held, PARALLEL_METHODS.get(parallel, False))

    def step(self, x, state: dict | None = None) -> tuple[dict, dict]:
        """One step: (new state, frame of every signal)."""
        x = as_float_array(x, "x", self.dtype)
        if x.shape != (self.input_size,):
            raise ValueError(f"x has shape {x.shape}; expected ({self.input_size},)")
        trace = self.run(x[None], state=state)
        return trace.final_state, trace.frame(0)


class MambaTrace:
    """Every signal of one run of a Mamba cell (see the module docstring for what is kept)."""

    def __init__(self, cell: Mamba, xs: np.ndarray, state0: dict, interventions=(),
                 method: str | bool = False):
        self.cell = cell
        self.interventions = tuple(interventions)
        self.parallel = method
        self.state0 = state0
        self._xs = xs
        self._compute()

    def _compute(self, first_block: int = 0) -> None:
        """Compute from block `first_block` on (the blocks before it are kept as they are)."""
        holds = holds_for(self.interventions, 0, len(self._xs))
        a = first_block * mm.BLOCK
        if first_block == 0:
            line, h = self.state0["conv"], self.state0["h"]
        elif first_block == len(self._checkpoints):  # the blocks so far are all whole
            line, h = self._final["conv"], self._final["h"]
        else:
            line, h = self._lines[first_block], self._checkpoints[first_block]
        run = mm.forward(self.cell.weights, self._xs[a:], line, h,
                         holds[a:] if holds else None, self.parallel, keep=KEPT)
        if first_block == 0:
            self._stored = run.stored
            self._checkpoints, self._lines = run.h_before, run.line_before
        else:
            self._stored = {k: np.concatenate([v[:a], run.stored[k]])
                            for k, v in self._stored.items()}
            self._checkpoints = self._checkpoints[:first_block] + run.h_before
            self._lines = self._lines[:first_block] + run.line_before
        self._holds = holds
        self._recent = None  # (block index, its signals): the last block computed again
        self._final = {"conv": run.line_end, "h": run.h_end}

    # -- reading -------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._xs)

    @property
    def names(self) -> tuple[str, ...]:
        return self.cell.names

    def __contains__(self, name: str) -> bool:
        return name in self.names

    @property
    def xs(self) -> np.ndarray:
        return self._xs

    @property
    def final_state(self) -> dict:
        return {k: v.copy() for k, v in self._final.items()}

    @property
    def nbytes(self) -> int:
        return int(self._xs.nbytes + sum(a.nbytes for a in self._stored.values())
                   + sum(a.nbytes for a in self._checkpoints)
                   + sum(a.nbytes for a in self._lines))

    def __getitem__(self, name: str) -> np.ndarray:
        return self.window(0, len(self), names=(name,))[name]

    def frame(self, t: int) -> dict[str, np.ndarray]:
        return {k: v[0] for k, v in self.window(t, t + 1).items()}

    def window(self, start: int, stop: int, names=None) -> dict[str, np.ndarray]:
        """Signals for steps [start, stop): name -> (stop − start, *shape), fresh arrays."""
        start, stop = self._check_range(start, stop)
        names = chosen_names(names, self.names, "mamba")
        out = {}
        for name in names:
            if name == "x":
                out[name] = self._xs[start:stop].copy()
            elif name in self._stored:
                out[name] = self._stored[name][start:stop].copy()
        computed = [n for n in names if n not in out]
        if computed:
            out.update(self._computed(start, stop, computed))
        return {name: out[name] for name in names}

    def reads_at_once(self, t: int) -> bool:
        """Whether step t's frame is read without computing (its block is the one kept)."""
        recent = self._recent
        return recent is not None and recent[0] == t // mm.BLOCK

    def block(self, k: int) -> dict[str, np.ndarray]:
        """Every signal of block k (steps k·BLOCK … (k + 1)·BLOCK − 1) as the run computed
        it (read-only: shared with the next reader of the same block)."""
        recent = self._recent  # one read: another thread may replace it meanwhile
        if recent is not None and recent[0] == k:
            return recent[1]
        a = k * mm.BLOCK
        b = min(len(self), a + mm.BLOCK)
        signals = mm.block_signals(self.cell.weights, self._xs[a:b], self._lines[k],
                                   self._checkpoints[k],
                                   self._holds[a:b] if self._holds else None, self.parallel)
        for rows in signals.values():
            rows.flags.writeable = False
        self._recent = (k, signals)
        return signals

    def _computed(self, start: int, stop: int, names) -> dict[str, np.ndarray]:
        """The signals `names` of [start, stop) that the trace does not keep, from the
        blocks they fall in (h_prev_t = h_{t−1}: the checkpoint at a block's first step)."""
        out = {n: np.empty((stop - start, *self.cell.shape_of(n)), self.cell.dtype)
               for n in names}
        B = mm.BLOCK
        for k in range(start // B, (stop - 1) // B + 1 if stop > start else 0):
            a = k * B
            lo, hi = max(a, start), min(a + B, stop)
            signals = self.block(k)
            for name, rows in out.items():
                if name == "h_prev":
                    if lo == a:
                        rows[a - start] = self._checkpoints[k]
                    first = max(lo, a + 1)
                    rows[first - start:hi - start] = signals["h"][first - 1 - a:hi - 1 - a]
                elif name == "conv_prev":
                    line = mm.conv_window(self._lines[k], signals["x_in"])
                    lags = len(self._lines[k])
                    for t in range(lo, hi):
                        rows[t - start] = line[t - a:t - a + lags]
                else:
                    rows[lo - start:hi - start] = signals[name][lo - a:hi - a]
        return out

    def _check_range(self, start, stop) -> tuple[int, int]:
        for what, v in (("start", start), ("stop", stop)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise ValueError(f"{what} must be an integer, got {v!r}")
        if not 0 <= start <= stop <= len(self):
            raise ValueError(f"window [{start}, {stop}) is outside the trace of "
                             f"{len(self)} steps")
        return int(start), int(stop)

    # -- growing -------------------------------------------------------------------
    def extend(self, xs_more) -> MambaTrace:
        """Append steps, continuing from the final state: equal to a fresh run (the last,
        partial block is computed again with its new steps; the blocks before stay)."""
        more = self.cell.check_inputs(xs_more)
        first = len(self._xs) // mm.BLOCK
        self._xs = np.concatenate([self._xs, more])
        self._compute(first)
        return self

    # -- gradients -----------------------------------------------------------------
    def backward(self, grad: dict):
        """Gradients of a scalar loss given dL/d(recorded out) (T, H), y (T, E) and/or h
        (T, E, N) per step ({"out", "y", "h"}; any may be left out): cells.Gradients with
        params (canonical names), xs, h0 and state0 {"conv", "h"}. Held signals are
        constants."""
        from ..gradients import Gradients

        given = self._loss_gradients(grad)
        res = mm.backward(self.cell.weights, self._xs, self.tape(), self.state0["conv"],
                          self._checkpoints, given.get("out"), given.get("y"),
                          given.get("h"), self._holds)
        params = {k: res["params"][k].astype(self.cell.dtype) for k in self.cell.params}
        return Gradients(params, res["xs"], res["h0"], None,
                         {"conv": res["conv0"], "h": res["h0"]})

    def tape(self) -> dict[str, np.ndarray]:
        """What the backward pass reads of every step (mamba_math.TAPE), computed again."""
        return self.window(0, len(self), mm.TAPE)

    def _loss_gradients(self, grad) -> dict:
        cell, T = self.cell, len(self)
        shapes = {"out": (T, cell.hidden_size), "y": (T, cell.channels),
                  "h": (T, cell.channels, cell.dims["N"])}
        if not isinstance(grad, dict):
            raise ValueError(f"give the gradients as a dict with keys among {list(shapes)}")
        unknown = sorted(set(grad) - set(shapes))
        if unknown:
            raise ValueError(f"a mamba has no signal {unknown} to take gradients of; give "
                             f"{', '.join(shapes)}")
        out = {}
        for name, value in grad.items():
            if value is None:
                continue
            a = as_float_array(value, f"gradient {name}", cell.dtype)
            if a.shape != shapes[name]:
                raise ValueError(f"gradient {name} has shape {a.shape}; expected "
                                 f"{shapes[name]}")
            out[name] = a
        return out

    def state_before(self, s: int) -> dict:
        """The state {"conv", "h"} before step s."""
        if s == 0:
            return {k: v.copy() for k, v in self.state0.items()}
        if s == len(self):
            return self.final_state
        prev = self.window(s, s + 1, ("conv_prev", "h_prev"))
        return {"conv": prev["conv_prev"][0], "h": prev["h_prev"][0]}

    def sensitivity(self, t: int, unit: int, of: str = "y", window: int = 256) -> dict:
        """‖∂ of_t[unit] / ∂v_s‖₂ for v = x (the input) and h (the state after step s, all
        E × N of it) for s in [max(0, t − window + 1), t]; of "y" (unit: a channel; "h"
        means the same: the channel's read-out of its states) or "out" (unit < H)."""
        from ..gradients import _integer

        cell, T = self.cell, len(self)
        t, unit, window = (_integer(v, w) for v, w in ((t, "t"), (unit, "unit"),
                                                        (window, "window")))
        of = "y" if of == "h" else of
        if of not in ("y", "out"):
            raise ValueError(f"of must be one of ['y', 'out'] (or 'h', the read-out y) for "
                             f"a mamba, got {of!r}")
        width = cell.channels if of == "y" else cell.hidden_size
        if not 0 <= t < T:
            raise ValueError(f"t {t} is outside the trace of {T} steps")
        if not 0 <= unit < width:
            raise ValueError(f"unit {unit} is outside 0 … {width - 1}")
        if window < 1:
            raise ValueError(f"window must be at least 1, got {window}")
        start = max(0, t - window + 1)
        state, xs = self.state_before(start), self._xs[start:t + 1]
        holds = self._holds[start:t + 1] if self._holds else None
        run = mm.forward(cell.weights, xs, state["conv"], state["h"], holds, self.parallel,
                         keep=mm.TAPE)
        n = t + 1 - start
        seed = np.zeros((n, width), cell.dtype)
        seed[-1, unit] = 1
        res = mm.backward(cell.weights, xs, run.stored, state["conv"], run.h_before,
                          seed if of == "out" else None, seed if of == "y" else None, None,
                          holds, totals=True,
                          channel=unit if of == "y" and not any(holds or ()) else None)
        return {"start": start, "t": t, "unit": unit, "of": of,
                "x": np.linalg.norm(res["xs"], axis=-1),
                "h": np.linalg.norm(res["h"].reshape(n, -1), axis=-1), "c": None}

    def hidden_attention(self, channel: int, t: int, window: int = 64) -> dict:
        """The exact linear weights of u_s = x_conv_s[channel] in y_t'[channel] for t', s in
        [start, t], start = max(0, t − window + 1): {"start", "t", "channel", "weights"
        (n, n) lower-triangular, rows t', columns s, D on the diagonal; "from_state" (n,):
        what h before start adds; "x": u (n,), "y" (n,)}. Σ_s weights[t', s]·x[s] +
        from_state[t'] = y[t'] (see mamba_math.hidden_attention)."""
        from ..gradients import _integer

        cell, T = self.cell, len(self)
        t, channel, window = (_integer(v, w) for v, w in ((t, "t"), (channel, "channel"),
                                                           (window, "window")))
        if not 0 <= t < T:
            raise ValueError(f"t {t} is outside the trace of {T} steps")
        if not 0 <= channel < cell.channels:
            raise ValueError(f"channel {channel} is outside 0 … {cell.channels - 1}")
        if window < 1:
            raise ValueError(f"window must be at least 1, got {window}")
        start = max(0, t - window + 1)
        part = self.window(start, t + 1, ("delta", "B", "C", "x_conv", "y"))
        h_start = self.state_before(start)["h"][channel]
        res = mm.hidden_attention(cell.weights, part, channel, h_start)
        return {"start": start, "t": t, "channel": channel, **res,
                "x": part["x_conv"][:, channel].astype(np.float64),
                "y": part["y"][:, channel].astype(np.float64)}
