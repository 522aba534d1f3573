"""A cell: a kind (its Spec), checked parameters, a dtype and options. Steps and runs."""

from __future__ import annotations

import numpy as np

from .interventions import check_interventions
from .kinds import (
    KINDS,
    OPTION_VALUES,
    SPECS,
    Spec,
    check_options,
    describe,
    kind_info,
    spec_for,
)
from .params import (
    as_dtype,
    as_float_array,
    check_params,
    check_sequence,
    check_size,
    init_params,
)
from .trace import Trace
from .weight_edits import apply_weight_edits, check_weight_edits

# Re-exported: the weight formats and older callers import these names from here.
__all__ = ["KINDS", "OPTION_VALUES", "SPECS", "Cell", "check_options", "create", "describe",
           "kind_info", "spec_for"]


# cell.run(parallel=...) -> the scan a kind's parallel form runs
PARALLEL_METHODS = {True: "doubling", "doubling": "doubling", "log": "log"}


class Cell:
    def __init__(self, spec: Spec, params: dict, dtype: np.dtype, options: dict):
        spec = spec.for_options(options)
        self.spec = spec
        self.kind = spec.name
        self.dtype = dtype
        self.options = options
        self.params = params
        self.hidden_size = params["weight_ih"].shape[0] // spec.gates
        self.input_size = params["weight_ih"].shape[1]
        self.signals = spec.describe(**options)
        self.names = tuple(s.name for s in self.signals)
        self.layout = spec.layout(options)
        # the kind's arrays made once from these weights (transposed, fused biases), which
        # the step and the backward pass (cells/gradients.py) both read
        self.prepared = spec.prepare(params, options, self.hidden_size)

    def __repr__(self) -> str:
        opts = "".join(f", {k}={v!r}" for k, v in self.options.items())
        return (f"Cell({self.kind!r}, input_size={self.input_size}, "
                f"hidden_size={self.hidden_size}, dtype={self.dtype.name}{opts})")

    @property
    def state_names(self) -> tuple[str, ...]:
        return self.spec.state_names

    def column(self, name: str) -> int:
        """Index of the H-wide column block holding a stored signal."""
        return self.layout.index[name]

    def zero_state(self) -> dict[str, np.ndarray]:
        return {k: np.zeros(self.hidden_size, self.dtype) for k in self.state_names}

    # -- checking inputs -----------------------------------------------------------
    def check_inputs(self, xs) -> np.ndarray:
        return check_sequence(xs, self.input_size, self.dtype)

    def _state_tuple(self, given: dict) -> tuple:
        unknown = sorted(k for k, v in given.items() if v is not None and k not in self.state_names)
        if unknown:
            raise ValueError(f"a {self.kind} has no state {unknown}; its state: "
                             f"{list(self.state_names)}")
        out = []
        for name in self.state_names:
            value = given.get(name)
            if value is None:
                out.append(np.zeros(self.hidden_size, self.dtype))
                continue
            a = as_float_array(value, f"initial state {name}", self.dtype)
            if a.shape != (self.hidden_size,):
                raise ValueError(f"initial state {name} has shape {a.shape}; "
                                 f"expected ({self.hidden_size},)")
            out.append(a)
        return tuple(out)

    # -- computing ------------------------------------------------------------------
    @property
    def row_width(self) -> int:
        """W: the width of one step's row of stored signals."""
        return len(self.layout) * self.hidden_size

    def compute_chunk(self, xs: np.ndarray, state: tuple, holds: list | None = None,
                      out: np.ndarray | None = None,
                      parallel: bool | str = False) -> tuple[np.ndarray, tuple]:
        """All stored signals for the rows of xs, from state: ((n, W) buffer, end state).
        `holds`: per row, None or the signals held at that step (cells.interventions);
        `out`: an (n, W) C-contiguous buffer to fill, or None for a new one;
        `parallel`: by the kind's parallel scan instead of step by step (see run)."""
        H, G = self.hidden_size, self.spec.gates
        buf = np.empty((len(xs), self.row_width), self.dtype) if out is None else out
        p = self.prepared
        names = self.layout.names
        proj = self.layout.span(buf, H, names[0], names[G - 1])  # the pre-activations
        # (n, G·H): all input projections of the chunk in one matmul, written in place
        np.matmul(xs, p["w_ih_T"], out=proj)
        proj += p["bias"]
        if parallel:
            return buf, self.spec.parallel(buf, state, p, PARALLEL_METHODS[parallel])
        return buf, self.spec.forward(buf, state, p, holds)

    def check_interventions(self, interventions, steps: int) -> tuple:
        """Interventions checked for this cell and a sequence of `steps` steps."""
        return check_interventions(self.kind, interventions, steps, self.hidden_size,
                                   **self.options)

    def check_weight_edits(self, edits) -> tuple:
        """Weight edits checked for this cell's parameters (see cells.weight_edits)."""
        return check_weight_edits(self.kind, edits, self.input_size, self.hidden_size,
                                  self.dtype, **self.options)

    def with_weights(self, edits) -> Cell:
        """A new cell with these weights changed ({"param", "row", "col", "value"} each;
        col None for a 1-D parameter). This cell is not changed. An edit changes the cell,
        so it applies to every step of a run."""
        checked = self.check_weight_edits(edits)
        return Cell(self.spec, apply_weight_edits(self.params, checked), self.dtype,
                    dict(self.options))

    @property
    def has_parallel(self) -> bool:
        """Whether the kind has a parallel form (cell.run(xs, parallel=True))."""
        return self.spec.parallel is not None

    def run(self, xs, h0=None, c0=None, interventions=None, on_chunk=None, state=None,
            parallel: bool | str = False) -> Trace:
        """Step the whole sequence xs (T, I) from (h0, c0) (zeros by default), holding the
        signals `interventions` name (see cells.interventions). `on_chunk(start, stop,
        rows)` sees each chunk's rows as they are made (see Trace). `state` gives any
        starting state by name (an sLSTM's n and m too); h0 and c0 win over it.
        `parallel`: compute by the kind's parallel scan (min_gru, min_lstm), not step by
        step; the recorded signals are the same up to rounding. True or "doubling": an
        associative scan in linear space, ⌈log₂ n⌉ vectorised passes per chunk; "log": the
        paper's log-space scan (a cumulative log-sum-exp), as its reference code computes."""
        start = {**(state or {}), **{k: v for k, v in (("h", h0), ("c", c0)) if v is not None}}
        state = self._state_tuple(start)
        xs = self.check_inputs(xs)
        held = self.check_interventions(interventions, len(xs))
        if parallel:
            if parallel not in PARALLEL_METHODS:
                raise ValueError(f"parallel must be False, True, 'doubling' or 'log', "
                                 f"got {parallel!r}")
            if not self.has_parallel:
                raise ValueError(f"a {self.kind} has no parallel form; kinds with one: "
                                 f"{', '.join(k for k, s in SPECS.items() if s.parallel)}")
            if held:
                raise ValueError("held signals need the step-by-step form; "
                                 "run with parallel=False to hold signals")
        return Trace(self, xs, state, interventions=held, on_chunk=on_chunk, parallel=parallel)

    def step(self, x, state: dict | None = None) -> tuple[dict, dict]:
        """One step: (new state, frame of every signal). x is (I,); state as zero_state()."""
        x = as_float_array(x, "x", self.dtype)
        if x.shape != (self.input_size,):
            raise ValueError(f"x has shape {x.shape}; expected ({self.input_size},)")
        st = self._state_tuple(dict(state or {}))
        buf, end = self.compute_chunk(x[None], st)
        H = self.hidden_size
        frame = {}
        for s in self.signals:
            if s.name == "x":
                frame["x"] = x
            elif s.name.endswith("_prev"):
                frame[s.name] = st[self.state_names.index(s.name[:-5])].copy()
            else:
                k = self.layout.index[s.name]
                frame[s.name] = buf[0, k * H:(k + 1) * H].copy()
        return dict(zip(self.state_names, (a.copy() for a in end), strict=True)), frame


def create(kind: str, input_size: int | None = None, hidden_size: int | None = None,
           seed: int = 0, params: dict | None = None, dtype="float32", **options) -> Cell:
    """A cell of `kind`: Xavier-initialised from `seed`, or from canonical `params`."""
    spec = spec_for(kind)
    dt = as_dtype(dtype)
    if spec.own_cell:  # a kind with its own cell class (Mamba, mLSTM)
        from .kinds.mamba_cell import create_mamba  # they import what cells.cell does
        from .mlstm_cell import create_from_spec

        made = {"mamba": create_mamba, "mlstm": create_from_spec}[kind]
        return made(input_size, hidden_size, seed, params, dt, options)
    opts = check_options(spec, options)
    if params is None:
        if input_size is None or hidden_size is None:
            raise ValueError("give input_size and hidden_size, or params")
        I, H = check_size("input_size", input_size), check_size("hidden_size", hidden_size)
        params = init_params(spec, I, H, check_size("seed", seed, low=0), dt, opts)
    params = check_params(spec, params, dt, input_size, hidden_size)
    return Cell(spec, params, dt, opts)
