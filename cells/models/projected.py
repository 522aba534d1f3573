"""The LSTM with a projection, exactly as torch.nn.LSTM(proj_size=P) (Sak, Senior and
Beaufays 2014, "LSTMP"): the cell is an LSTM of H units, but what it outputs and feeds back
is the projection h_t = W_hr·m_t of m_t = o_t ⊙ tanh(c_t), with P < H values.

The engine's kinds need a square weight_hh (G·H, H); here weight_hh is (4H, P), so the
projected LSTM is its own small cell with the same public face as the engine's: `run(xs,
h0=, c0=)` gives a trace with `[name]`, `window`, `frame`, `len`, `extend`, `final_state`,
`nbytes`. It records every LSTM signal plus `m` (H values) and the projected `h` (P
values): the projection is one more step after the output gate, its own stage
("projection", the last of `cells.STAGES`), so the page draws and walks it from here.

Sensitivity (Written Memories, r2rt 2016) walks the step backwards by hand, as the engine's
LSTM does, with one more link: h_t = W_hr·m_t, so δm = W_hrᵀ·δh. Gradients of a loss
(`backward`) and training are not here: they are refused by name.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..params import WEIGHTS as CELL_WEIGHTS
from ..params import as_float_array
from ..signals import Signal, stages_of
from . import kinds_api

WEIGHTS = (*CELL_WEIGHTS, "weight_hr")


NO_BACKWARD = ("an LSTM with proj_size has no gradients of a loss here yet (its sensitivity "
               "is computed)")


def projected_signals() -> tuple[Signal, ...]:
    """The LSTM's signals with h renamed m, then the projection h = W_hr·m (the
    "projection" stage, after the output gate)."""
    signals = []
    for signal in kinds_api.describe("lstm"):
        if signal.name == "h":
            signals.append(replace(
                signal, name="m", label="m_t", equation="m_t = o_t ⊙ tanh(c_t)",
                description="the output gate applied to tanh(c_t), before the projection",
            ))
            signals.append(replace(
                signal, name="h", label="h_t", equation="h_t = W_hr·m_t", op="affine",
                args=("m",), size="projection", range=None, stage="projection",
                description="the projected output (proj_size values), fed back as h_{t−1}",
            ))
        elif signal.name == "h_prev":
            signals.append(replace(signal, size="projection",
                                   description="the previous projected output, fed back"))
        else:
            signals.append(signal)
    return tuple(signals)


def projected_stages() -> list[str]:
    """The projected LSTM's stages in computation order: the LSTM's, then "projection"."""
    return stages_of(projected_signals())


class ProjectedLSTM:
    """An nn.LSTM(proj_size=P) layer's cell in one direction, from canonical weights."""

    kind = "lstm"
    state_names = ("c", "h")

    def __init__(self, params: dict[str, np.ndarray], dtype="float32"):
        self.dtype = np.dtype(dtype)
        self.params = {k: as_float_array(params[k], f"parameter {k}", self.dtype)
                       for k in WEIGHTS}
        for value in self.params.values():
            value.setflags(write=False)
        w_ih, w_hh, w_hr = (self.params[k] for k in ("weight_ih", "weight_hh", "weight_hr"))
        self.hidden_size, self.proj_size = w_hr.shape[1], w_hr.shape[0]  # H, P
        self.input_size = w_ih.shape[1]
        self.output_size = self.proj_size
        H, P = self.hidden_size, self.proj_size
        expected = {"weight_ih": (4 * H, self.input_size), "weight_hh": (4 * H, P),
                    "bias_ih": (4 * H,), "bias_hh": (4 * H,), "weight_hr": (P, H)}
        for name, shape in expected.items():
            if self.params[name].shape != shape:
                raise ValueError(
                    f"{name} has shape {self.params[name].shape} but an LSTM with hidden_size "
                    f"{H} and proj_size {P} expects {shape}"
                )
        self.options: dict = {}
        self.signals = projected_signals()
        self.names = tuple(s.name for s in self.signals)
        self.stages = projected_stages()
        self._w_ih_T = np.ascontiguousarray(w_ih.T)  # (I, 4H)
        self._w_hh_T = np.ascontiguousarray(w_hh.T)  # (P, 4H)
        self._w_hr_T = np.ascontiguousarray(w_hr.T)  # (H, P)
        self._bias = self.params["bias_ih"] + self.params["bias_hh"]  # (4H,)

    def __repr__(self) -> str:
        return (f"ProjectedLSTM(input_size={self.input_size}, hidden_size={self.hidden_size}, "
                f"proj_size={self.proj_size}, dtype={self.dtype.name})")

    def width(self, signal: Signal) -> int:
        """How many values `signal` has per step: I, P (h and h_prev) or H."""
        return {"input": self.input_size, "projection": self.proj_size}.get(signal.size,
                                                                          self.hidden_size)

    def zero_state(self) -> dict[str, np.ndarray]:
        return {"c": np.zeros(self.hidden_size, self.dtype),
                "h": np.zeros(self.proj_size, self.dtype)}

    def check_inputs(self, xs) -> np.ndarray:
        xs = np.ascontiguousarray(np.asarray(xs, self.dtype))
        if xs.ndim != 2 or xs.shape[1] != self.input_size or len(xs) == 0:
            raise ValueError(f"sequence has shape {xs.shape}; expected (T, {self.input_size}) "
                             f"with T ≥ 1")
        if not np.isfinite(xs).all():
            raise ValueError("sequence holds NaN or infinite values")
        return xs

    def check_interventions(self, interventions, steps: int) -> tuple:
        """Holding signals is the engine kinds' (cells.interventions); here it is refused by
        name rather than ignored."""
        if list(interventions or ()):
            raise ValueError("an LSTM with proj_size cannot hold signals (what if) yet; hold "
                             "them in a cell without proj_size")
        return ()

    def run(self, xs, h0=None, c0=None) -> ProjectedTrace:
        xs = self.check_inputs(xs)
        h = self._initial("h", h0, self.proj_size)
        c = self._initial("c", c0, self.hidden_size)
        return ProjectedTrace(self, xs, c, h)

    def _initial(self, name: str, value, size: int) -> np.ndarray:
        if value is None:
            return np.zeros(size, self.dtype)
        value = np.asarray(value, self.dtype)
        if value.shape != (size,):
            raise ValueError(f"initial state {name} has shape {value.shape}; expected ({size},)")
        return value.copy()


def _steps(cell: ProjectedLSTM, xs: np.ndarray, c: np.ndarray, h: np.ndarray) -> dict:
    """Every stored signal of the steps over xs, from state (c, h): name -> (T, n)."""
    T, H = len(xs), cell.hidden_size
    pre = xs @ cell._w_ih_T + cell._bias  # (T, 4H): gate blocks i, f, g, o
    act = np.empty_like(pre)
    c_all, tanh_c, m, h_all = (np.empty((T, n), cell.dtype) for n in (H, H, H, cell.proj_size))
    kept, written = np.empty((T, H), cell.dtype), np.empty((T, H), cell.dtype)
    c, h = c.copy(), h.copy()
    for t in range(T):
        pre[t] += h @ cell._w_hh_T
        i_pre, f_pre, g_pre, o_pre = np.split(pre[t], 4)
        i, f, g, o = np.split(act[t], 4)
        for gate, z in ((i, i_pre), (f, f_pre), (o, o_pre)):
            gate[:] = 0.5 * np.tanh(0.5 * z) + 0.5  # σ(z) without overflow
        np.tanh(g_pre, out=g)
        np.multiply(f, c, out=kept[t])
        np.multiply(i, g, out=written[t])
        c = np.add(kept[t], written[t], out=c_all[t])
        np.multiply(o, np.tanh(c, out=tanh_c[t]), out=m[t])
        h = np.dot(m[t], cell._w_hr_T, out=h_all[t])  # (P,)
    blocks = dict(zip(("i", "f", "g", "o"), np.split(act, 4, axis=1), strict=True))
    pres = dict(zip(("i_pre", "f_pre", "g_pre", "o_pre"), np.split(pre, 4, axis=1),
                    strict=True))
    return {"x": xs, **pres, **blocks, "kept": kept, "written": written,
            "c": c_all, "tanh_c": tanh_c, "m": m, "h": h_all}


class ProjectedTrace:
    """Every signal of every step of a ProjectedLSTM run, held in full (in the blocks that
    `run` and each `extend` computed, joined when read)."""

    def __init__(self, cell: ProjectedLSTM, xs: np.ndarray, c: np.ndarray, h: np.ndarray):
        self.cell = cell
        self._initial = {"c": c.copy(), "h": h.copy()}
        self._blocks = [_steps(cell, xs, c, h)]
        self._joined: dict | None = None

    @property
    def _signals(self) -> dict[str, np.ndarray]:
        if self._joined is None:
            blocks = self._blocks
            self._joined = (blocks[0] if len(blocks) == 1 else
                            {n: np.concatenate([b[n] for b in blocks]) for n in blocks[0]})
            self._blocks = [self._joined]
        return self._joined

    def extend(self, xs_more) -> ProjectedTrace:
        """Append steps, run on from the final state (as the engine's Trace.extend)."""
        xs_more = self.cell.check_inputs(xs_more)
        last = self._blocks[-1]
        self._blocks.append(_steps(self.cell, xs_more, last["c"][-1], last["h"][-1]))
        self._joined = None
        return self

    @property
    def nbytes(self) -> int:
        return int(sum(a.nbytes for b in self._blocks for a in b.values()))

    def sensitivity(self, t: int, unit: int, of: str = "h", window: int = 256) -> dict:
        """‖∂ of_t[unit] / ∂v_s‖₂ for v = x, h, c and s in [max(0, t − window + 1), t], as
        the engine's `Trace.sensitivity`: h_s and c_s are the state after step s, each held
        as an independent variable (the other fixed). `of="h"` takes a unit of the P values
        of h; `of="c"` one of the H of c."""
        cell = self.cell
        H, P = cell.hidden_size, cell.proj_size
        for value, what in ((t, "t"), (unit, "unit"), (window, "window")):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ValueError(f"{what} must be an integer, got {value!r}")
        if not 0 <= t < len(self):
            raise ValueError(f"t {t} is outside the trace of {len(self)} steps")
        if of not in ("h", "c"):
            raise ValueError(f"of must be one of ['h', 'c'] for an LSTM, got {of!r}")
        size = P if of == "h" else H
        if not 0 <= unit < size:
            whose = f"h has proj_size {P} values" if of == "h" else f"c has {H} values"
            raise ValueError(f"unit {unit} is outside 0 … {size - 1} ({whose})")
        if window < 1:
            raise ValueError(f"window must be at least 1, got {window}")
        start = max(0, int(t) - int(window) + 1)
        n = int(t) + 1 - start
        rows = self.window(start, int(t) + 1, ("i", "f", "g", "o", "tanh_c", "c_prev"))
        w_ih, w_hh, w_hr = (cell.params[k] for k in ("weight_ih", "weight_hh", "weight_hr"))
        d_h, d_c = np.zeros(P, cell.dtype), np.zeros(H, cell.dtype)  # ∂/∂h_s, ∂/∂c_s
        (d_h if of == "h" else d_c)[unit] = 1
        norms = {v: np.empty(n, cell.dtype) for v in ("x", "h", "c")}
        for k in range(n - 1, -1, -1):
            i, f, g, o, tanh_c, c_prev = (rows[name][k] for name in
                                          ("i", "f", "g", "o", "tanh_c", "c_prev"))
            norms["h"][k], norms["c"][k] = np.linalg.norm(d_h), np.linalg.norm(d_c)
            d_m = d_h @ w_hr  # (H,): h_s = W_hr·m_s
            d_cell = d_c + d_m * o * (1 - tanh_c * tanh_c)  # c_s through m_s, and held c_s
            d_pre = np.concatenate([d_cell * g * i * (1 - i), d_cell * c_prev * f * (1 - f),
                                    d_cell * i * (1 - g * g), d_m * tanh_c * o * (1 - o)])
            norms["x"][k] = np.linalg.norm(d_pre @ w_ih)  # canonical blocks i, f, g, o
            d_h, d_c = d_pre @ w_hh, d_cell * f  # to the state after step s − 1
        return {"start": start, "t": int(t), "unit": int(unit), "of": of, **norms}

    def backward(self, grads) -> None:
        raise ValueError(NO_BACKWARD)

    @property
    def names(self) -> tuple[str, ...]:
        return self.cell.names

    @property
    def xs(self) -> np.ndarray:
        return self._signals["x"]

    def __len__(self) -> int:
        return sum(len(b["x"]) for b in self._blocks)

    def __contains__(self, name: str) -> bool:
        return name in self.names

    def __getitem__(self, name: str) -> np.ndarray:
        return self.window(0, len(self), names=(name,))[name]

    @property
    def final_state(self) -> dict[str, np.ndarray]:
        last = self._blocks[-1]
        return {"c": last["c"][-1].copy(), "h": last["h"][-1].copy()}

    def frame(self, t: int) -> dict[str, np.ndarray]:
        return {k: v[0] for k, v in self.window(t, t + 1).items()}

    def window(self, start: int, stop: int, names=None) -> dict[str, np.ndarray]:
        """Signals for steps [start, stop): name -> (stop − start, n), fresh arrays."""
        if not (isinstance(start, (int, np.integer)) and isinstance(stop, (int, np.integer))
                and 0 <= start <= stop <= len(self)):
            raise ValueError(f"window [{start}, {stop}) is outside the trace of {len(self)} steps")
        names = self.names if names is None else tuple(names)
        unknown = [n for n in names if n not in self.names]
        if unknown:
            raise ValueError(f"unknown signal(s) {unknown}; known: {list(self.names)}")
        signals = self._signals
        out = {}
        for name in names:
            if name.endswith("_prev"):  # the state before each step: row s − 1, or the start
                state = signals[name[:-5]]
                before = state[max(0, start - 1):max(0, stop - 1)]
                if start == 0 and stop > 0:
                    before = np.concatenate([self._initial[name[:-5]][None], before])
                out[name] = np.ascontiguousarray(before)
            else:
                out[name] = np.ascontiguousarray(signals[name][start:stop])
        return out
