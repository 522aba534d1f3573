"""A cell: a kind (its Spec), checked parameters, a dtype and options. Steps and runs."""

from __future__ import annotations

import numpy as np

from .gru import GRU
from .lstm import LSTM, PEEPHOLE_LSTM
from .params import as_dtype, as_float_array, check_params, check_size, init_params
from .rnn import RNN
from .seed004 import NORMALIZED_LSTM, PROTOTYPE_LSTM, PSEUDO_LSTM
from .signals import STAGES, Signal
from .spec import Spec
from .trace import Trace

SPECS: dict[str, Spec] = {s.name: s for s in (
    RNN, LSTM, PEEPHOLE_LSTM, GRU, PROTOTYPE_LSTM, NORMALIZED_LSTM, PSEUDO_LSTM)}
KINDS = tuple(SPECS)
OPTION_VALUES = {"nonlinearity": ("tanh", "relu"), "reset_after": (True, False)}


def spec_for(kind) -> Spec:
    if kind not in SPECS:
        raise ValueError(f"unknown cell kind {kind!r}; known kinds: {', '.join(KINDS)}")
    return SPECS[kind]


def check_options(spec: Spec, options: dict) -> dict:
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        allowed = ", ".join(spec.options) or "none"
        raise ValueError(f"unknown option(s) {unknown} for a {spec.name}; its options: {allowed}")
    out = dict(spec.options)
    for name, value in options.items():
        allowed = OPTION_VALUES[name]
        if value not in allowed or type(value) is not type(allowed[0]):
            raise ValueError(f"option {name} must be one of {list(allowed)}, got {value!r}")
        out[name] = value
    return out


def kind_info(kind: str) -> dict:
    """What a kind offers, as plain data: its options (allowed values, default), its state
    names, the stages its signals occupy (in computation order) and its signals with the
    default options. The one source the server and the page build their controls from."""
    spec = spec_for(kind)
    signals = spec.describe(**spec.options)
    present = {s.stage for s in signals}
    return {
        "kind": kind,
        "options": {name: {"values": list(OPTION_VALUES[name]), "default": default}
                    for name, default in spec.options.items()},
        "state": list(spec.state_names),
        "stages": [stage for stage in STAGES if stage in present],
        "signals": [s.to_dict() for s in signals],
    }


def describe(kind: str, **options) -> tuple[Signal, ...]:
    """The signals a kind produces, in computation order, without any weights."""
    spec = spec_for(kind)
    return spec.describe(**check_options(spec, options))


class Cell:
    def __init__(self, spec: Spec, params: dict, dtype: np.dtype, options: dict):
        self.spec = spec
        self.kind = spec.name
        self.dtype = dtype
        self.options = options
        self.params = params
        self.hidden_size = params["weight_hh"].shape[1]
        self.input_size = params["weight_ih"].shape[1]
        self.signals = spec.describe(**options)
        self.names = tuple(s.name for s in self.signals)
        self._columns = {name: k for k, name in enumerate(spec.stored(options))}
        self._prepared = spec.prepare(params, options, self.hidden_size)

    def __repr__(self) -> str:
        opts = "".join(f", {k}={v!r}" for k, v in self.options.items())
        return (f"Cell({self.kind!r}, input_size={self.input_size}, "
                f"hidden_size={self.hidden_size}, dtype={self.dtype.name}{opts})")

    @property
    def state_names(self) -> tuple[str, ...]:
        return self.spec.state_names

    def column(self, name: str) -> int:
        """Index of the H-wide column block holding a stored signal."""
        return self._columns[name]

    def zero_state(self) -> dict[str, np.ndarray]:
        return {k: np.zeros(self.hidden_size, self.dtype) for k in self.state_names}

    # -- checking inputs -----------------------------------------------------------
    def check_inputs(self, xs) -> np.ndarray:
        xs = as_float_array(xs, "sequence", self.dtype)
        if xs.ndim != 2 or xs.shape[1] != self.input_size:
            raise ValueError(f"sequence has shape {xs.shape}; expected (T, {self.input_size}) "
                             f"for input_size {self.input_size}")
        if len(xs) == 0:
            raise ValueError("sequence is empty; give at least one step")
        return np.ascontiguousarray(xs)

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
    def compute_chunk(self, xs: np.ndarray, state: tuple) -> tuple[np.ndarray, tuple]:
        """All stored signals for the rows of xs, from state: ((n, W) buffer, end state)."""
        H, G = self.hidden_size, self.spec.gates
        buf = np.empty((len(xs), len(self._columns) * H), self.dtype)
        p = self._prepared
        proj = buf[:, :G * H]
        proj[:] = xs @ p["w_ih_T"]  # (n, G·H): all input projections of the chunk in one matmul
        proj += p["bias"]
        return buf, self.spec.recur(buf, state, p)

    def run(self, xs, h0=None, c0=None) -> Trace:
        """Step the whole sequence xs (T, I) from (h0, c0) (zeros by default)."""
        state = self._state_tuple({"h": h0, "c": c0})
        return Trace(self, self.check_inputs(xs), state)

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
                k = self._columns[s.name]
                frame[s.name] = buf[0, k * H:(k + 1) * H].copy()
        return dict(zip(self.state_names, (a.copy() for a in end), strict=True)), frame


def create(kind: str, input_size: int | None = None, hidden_size: int | None = None,
           seed: int = 0, params: dict | None = None, dtype="float32", **options) -> Cell:
    """A cell of `kind`: Xavier-initialised from `seed`, or from canonical `params`."""
    spec = spec_for(kind)
    opts = check_options(spec, options)
    dt = as_dtype(dtype)
    if params is None:
        if input_size is None or hidden_size is None:
            raise ValueError("give input_size and hidden_size, or params")
        I, H = check_size("input_size", input_size), check_size("hidden_size", hidden_size)
        params = init_params(spec, I, H, check_size("seed", seed, low=0), dt)
    params = check_params(spec, params, dt, input_size, hidden_size)
    return Cell(spec, params, dt, opts)
