"""The non-recurrent parts around a layer's cell in a residual language model (Mamba,
xLSTM, minGRU/minLSTM language models), and the norm before a model's head.

A block reads the residual stream x_t (E values) and gives the stream on:

    u_t = x_t + pointwise(conv(x)_t)      a causal depthwise convolution, when present
    a_t = norm(u_t)                       what the cell reads (RMSNorm or LayerNorm)
    v_t = u_t + out(cell(a)_t)            the cell's output, projected back to E when present
    y_t = v_t + ff(ff_norm(v_t))          a feed-forward sub-block, when present

Which parts a block has is said by its tensors alone (names in PARTS), so a file reader
only renames; what is not a tensor (the norm's kind, ε, the feed-forward's activation) is
in `options`. Every intermediate row is kept by the model's trace (SIGNALS), so the page
can draw the box around the cell with the numbers that went through it.

A block whose box is more than this (the xlstm library's mLSTM and sLSTM layers,
cells.formats.xlstm_models) keeps the same shape, which is all a Layer asks of a block:
`kind`; `params` and `options` (what a model file stores; `options["kind"]` names a
block that is not this one); `stream_width(cell)`, the width E of the stream it reads and
gives; `check(cell, where)`; `before(x) -> (what the cell reads, rows)`;
`after(rows, h) -> the stream on` (filling `rows`); `cast(dtype)`; `describe()`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ..params import weight_array

NORMS = ("rms", "layer")
FF_ACTIVATIONS = ("gelu", "gelu_tanh", "silu", "relu")
# tensor name -> what it is; shapes are checked against the stream's width E, the cell's
# input and output sizes, and the feed-forward's inner size F
PARTS = {
    "conv.weight": "(E, K) causal depthwise convolution, tap K−1 on the current step",
    "conv.bias": "(E,)",
    "conv.pointwise.weight": "(E, E) 1×1 convolution after the depthwise one",
    "conv.pointwise.bias": "(E,)",
    "norm.weight": "(E,) the norm before the cell",
    "norm.bias": "(E,) LayerNorm only",
    "out.weight": "(E, H) projection of the cell's output back to the stream",
    "out.bias": "(E,)",
    "ff_norm.weight": "(E,)",
    "ff_norm.bias": "(E,)",
    "ff.up.weight": "(F, E), or (2F, E) gated: activation(first half) ⊙ second half",
    "ff.up.bias": "(F,) or (2F,)",
    "ff.down.weight": "(E, F)",
    "ff.down.bias": "(E,)",
}
DEFAULT_OPTIONS = {"norm": "rms", "eps": 1e-5, "ff_activation": "gelu", "ff_gated": False}
# rows the trace keeps for a block, in the order they are made
SIGNALS = ("block_in", "conv", "norm", "cell_out", "residual", "ff", "block_out")


def _erf(x: np.ndarray) -> np.ndarray:
    # NumPy has no erf and scipy is not a dependency; math.erf is exact to the last bit
    return np.frompyfunc(math.erf, 1, 1)(x).astype(x.dtype)


def activation(name: str, x: np.ndarray) -> np.ndarray:
    if name == "gelu":  # torch's default GELU: x Φ(x)
        return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))
    if name == "gelu_tanh":
        return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))
    if name == "silu":
        return x / (1.0 + np.exp(-x))
    if name == "relu":
        return np.maximum(x, 0)
    raise ValueError(f"activation {name!r} is not one of {FF_ACTIVATIONS}")


@dataclass(frozen=True)
class Norm:
    """RMSNorm (x / √(mean x² + ε) · w) or LayerNorm ((x − μ) / √(var + ε) · w + b)."""

    kind: str
    weight: np.ndarray | None  # (E,); None: no gain (mambapy's muP RMSNorm)
    bias: np.ndarray | None = None
    eps: float = 1e-5

    def __post_init__(self):
        if self.kind not in NORMS:
            raise ValueError(f"norm {self.kind!r} is not one of {NORMS}")
        if self.bias is not None and self.kind != "layer":
            raise ValueError("an RMSNorm has no bias")
        if not (isinstance(self.eps, (int, float)) and self.eps > 0):
            raise ValueError(f"norm eps {self.eps!r} must be a positive number")

    @property
    def width(self) -> int | None:
        return None if self.weight is None else len(self.weight)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.kind == "layer":
            x = x - x.mean(axis=-1, keepdims=True)
        out = x / np.sqrt((x * x).mean(axis=-1, keepdims=True) + x.dtype.type(self.eps))
        if self.weight is not None:
            out = out * self.weight
        if self.bias is not None:
            out = out + self.bias
        return out


@dataclass(frozen=True)
class Block:
    """The parts around one layer's cell (see the module's docstring)."""

    params: Mapping[str, np.ndarray]
    options: Mapping[str, object] = field(default_factory=dict)
    kind = "residual"

    def __post_init__(self):
        unknown = sorted(set(self.params) - set(PARTS))
        if unknown:
            raise ValueError(f"block tensor(s) {unknown} are not block parts "
                             f"({', '.join(PARTS)})")
        bad = sorted(set(self.options) - set(DEFAULT_OPTIONS))
        if bad:
            raise ValueError(f"block option(s) {bad} are not one of {sorted(DEFAULT_OPTIONS)}")
        options = {**DEFAULT_OPTIONS, **self.options}
        if options["ff_activation"] not in FF_ACTIVATIONS:
            raise ValueError(f"block ff_activation {options['ff_activation']!r} is not one of "
                             f"{FF_ACTIVATIONS}")
        object.__setattr__(self, "options", options)
        for a, b in (("conv.bias", "conv.weight"), ("conv.pointwise.weight", "conv.weight"),
                     ("conv.pointwise.bias", "conv.pointwise.weight"),
                     ("out.bias", "out.weight"), ("ff.up.bias", "ff.up.weight"),
                     ("ff.down.weight", "ff.up.weight"), ("ff.up.weight", "ff.down.weight"),
                     ("ff.down.bias", "ff.down.weight"), ("ff_norm.weight", "ff.up.weight"),
                     ("norm.bias", "norm.weight"), ("ff_norm.bias", "ff_norm.weight")):
            if a in self.params and b not in self.params:
                raise ValueError(f"block has {a} but no {b}")

    def cast(self, dtype) -> Block:
        """Frozen C-contiguous arrays of the model's dtype, as every cell's parameters are
        (cells.params.weight_array)."""
        return Block({k: weight_array(v, f"block {k}", dtype) for k, v in self.params.items()},
                     self.options)

    def has(self, part: str) -> bool:
        return f"{part}.weight" in self.params

    @property
    def norm(self) -> Norm | None:
        return self._norm("norm")

    @property
    def ff_norm(self) -> Norm | None:
        return self._norm("ff_norm")

    def _norm(self, name: str) -> Norm | None:
        if not self.has(name):
            return None
        return Norm(self.options["norm"], self.params[f"{name}.weight"],
                    self.params.get(f"{name}.bias"), float(self.options["eps"]))

    def stream_width(self, cell) -> int:
        return cell.input_size  # the norm keeps the width; the cell reads the stream's

    def check(self, cell, where: str) -> None:
        """Every tensor fits the stream's width E and the cell's sizes."""
        width = cell_input = cell.input_size
        cell_output = getattr(cell, "output_size", cell.hidden_size)
        p = self.params
        expected = {"conv.bias": (width,), "conv.pointwise.weight": (width, width),
                    "conv.pointwise.bias": (width,), "norm.weight": (width,),
                    "norm.bias": (width,), "out.weight": (width, cell_output),
                    "out.bias": (width,), "ff_norm.weight": (width,), "ff_norm.bias": (width,),
                    "ff.down.bias": (width,)}
        if "conv.weight" in p:
            if p["conv.weight"].ndim != 2 or p["conv.weight"].shape[0] != width:
                raise ValueError(f"{where}: block conv.weight has shape "
                                 f"{p['conv.weight'].shape}, expected ({width}, K)")
        if "ff.up.weight" in p:
            down = p["ff.down.weight"]
            inner = down.shape[1] if down.ndim == 2 else -1
            rows = 2 * inner if self.options["ff_gated"] else inner
            expected["ff.up.weight"], expected["ff.up.bias"] = (rows, width), (rows,)
            expected["ff.down.weight"] = (width, inner)
        for name, shape in expected.items():
            if name in p and p[name].shape != shape:
                raise ValueError(f"{where}: block {name} has shape {p[name].shape}, "
                                 f"expected {shape}")
        if cell_input != width:
            raise ValueError(f"{where}: the cell reads {cell_input} values but the block's "
                             f"stream is {width} wide")
        if "out.weight" not in p and cell_output != width:
            raise ValueError(f"{where}: the cell gives {cell_output} values but the block's "
                             f"stream is {width} wide (and it has no out.weight)")

    def before(self, x: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """(what the cell reads (T, E), the rows made on the way) for the stream x (T, E)."""
        rows = {"block_in": x}
        u = x
        if self.has("conv"):
            conv = causal_depthwise_conv(x, self.params["conv.weight"],
                                         self.params.get("conv.bias"))
            if "conv.pointwise.weight" in self.params:
                conv = conv @ self.params["conv.pointwise.weight"].T
                if "conv.pointwise.bias" in self.params:
                    conv = conv + self.params["conv.pointwise.bias"]
            rows["conv"] = conv
            u = x + conv
        norm = self.norm
        a = u if norm is None else norm(u)
        rows["norm"] = a
        rows["_stream"] = u
        return a, rows

    def after(self, rows: dict[str, np.ndarray], h: np.ndarray) -> np.ndarray:
        """The block's output (T, E) from the cell's output h (T, H); fills `rows`."""
        out = h
        if "out.weight" in self.params:
            out = h @ self.params["out.weight"].T
            if "out.bias" in self.params:
                out = out + self.params["out.bias"]
        rows["cell_out"] = out
        v = rows.pop("_stream") + out
        rows["residual"] = v
        y = v
        if "ff.up.weight" in self.params:
            ff_norm = self.ff_norm
            z = v if ff_norm is None else ff_norm(v)
            up = z @ self.params["ff.up.weight"].T
            if "ff.up.bias" in self.params:
                up = up + self.params["ff.up.bias"]
            act = self.options["ff_activation"]
            if self.options["ff_gated"]:
                half = up.shape[-1] // 2
                inner = activation(act, up[:, :half]) * up[:, half:]
            else:
                inner = activation(act, up)
            ff = inner @ self.params["ff.down.weight"].T
            if "ff.down.bias" in self.params:
                ff = ff + self.params["ff.down.bias"]
            rows["ff"] = ff
            y = v + ff
        rows["block_out"] = y
        return y

    def describe(self) -> dict:
        """The block as plain data: its parts and options (for the page's box)."""
        parts = [name for name in ("conv", "norm", "out", "ff_norm", "ff.up") if self.has(name)]
        return {"kind": self.kind, "parts": [p.replace(".up", "") for p in parts],
                "options": dict(self.options),
                "signals": [s for s in SIGNALS if s in ("block_in", "norm", "cell_out",
                                                        "residual", "block_out")
                            or (s == "conv" and self.has("conv"))
                            or (s == "ff" and self.has("ff.up"))]}


def causal_depthwise_conv(x: np.ndarray, weight: np.ndarray,
                          bias: np.ndarray | None = None) -> np.ndarray:
    """out_t[e] = Σ_k weight[e, k] · x_{t−(K−1)+k}[e] (+ bias[e]), zeros before the start:
    torch's Conv1d(groups=E) on the sequence padded with K−1 zeros on the left."""
    T, K = len(x), weight.shape[1]
    out = np.zeros_like(x) if bias is None else np.broadcast_to(bias, x.shape).copy()
    for k in range(K):
        shift = K - 1 - k  # tap k reads `shift` steps back
        if shift < T:
            out[shift:] += weight[:, k] * x[:T - shift]
    return out
