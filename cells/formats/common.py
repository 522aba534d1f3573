"""What the weight formats share: the kinds' gate blocks, and checks that name the file."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..cell import OPTION_VALUES, SPECS
from ..params import BIASES, MATRICES, PEEPHOLES, WEIGHTS  # noqa: F401 - asked for here

# Gate blocks stacked along the G·H axis of weight_ih / weight_hh, per kind.
GATE_BLOCKS = {name: spec.gates for name, spec in SPECS.items()}
# The kind a file holds when only the block count is known.
KIND_OF_BLOCKS = {1: "rnn", 3: "gru", 4: "lstm"}
# Options each kind takes, with the engine's defaults.
DEFAULT_OPTIONS = {name: dict(spec.options) for name, spec in SPECS.items() if spec.options}
NONLINEARITIES = OPTION_VALUES["nonlinearity"]
FORWARD, BACKWARD = "forward", "backward"
BOTH_DIRECTIONS = (FORWARD, BACKWARD)
BRANCHES = ("then", "else")  # the branches of an ONNX If, as a caller names the one to take
# No tensor unpacks to more than this: compressed .npz and .h5 data could expand without
# bound, while the largest cell the server allows (H 1024, I 4096, float64) needs 134 MB.
MAX_TENSOR_BYTES = 1 << 30


@dataclass(frozen=True)
class LoadedWeights:
    """One cell's weights read from a file, in the canonical layout, and what else the file
    holds: a file may hold a stack of layers in one or two directions, while `params` are
    one cell's (the layer asked for, forward direction)."""

    kind: str  # one of GATE_BLOCKS
    # weight_ih (G·H, I), weight_hh (G·H, H), bias_ih and bias_hh (G·H,), peephole_* (H,)
    params: dict[str, np.ndarray]
    options: dict = field(default_factory=dict)  # e.g. {"reset_after": True} for gru
    layers: int = 1  # how many recurrent layers the file holds
    # ("forward",) or ("forward", "backward"): the directions the file's layers run in
    directions: tuple[str, ...] = ("forward",)
    # The option names whose value the file itself states (an ONNX GRU states reset_after
    # through linear_before_reset); the other options are the kind's defaults.
    stated: frozenset[str] = frozenset()


def is_backward_scope(name: str) -> bool:
    """Keras names the halves of a Bidirectional layer forward_* and backward_*."""
    return any(part.startswith("backward") for part in re.split(r"[./]", name))


def shape_text(shape: Sequence[int]) -> str:
    return str(tuple(int(n) for n in shape))


def a_kind(kind: str) -> str:
    """'an lstm', 'a gru': the kind with its article, for messages."""
    return f"{'an' if kind in ('rnn', 'lstm') else 'a'} {kind}"


def natural_key(text: str) -> list:
    """Sort key that puts lstm_2 before lstm_10 (Keras numbers its layers this way)."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def bfloat16_to_float32(raw: np.ndarray) -> np.ndarray:
    """bfloat16 is the top half of a float32, so widening is a 16-bit shift (exact)."""
    bits = np.ascontiguousarray(raw).view("<u2").astype(np.uint32) << 16
    return bits.view(np.float32)


def float_tensor(label: str, name: str, value: object) -> np.ndarray:
    """The array as float32 or float64; refuses anything the engine cannot run.

    float16 and bfloat16 widen to float32 (exactly). Non-native byte order is made native.
    """
    array = np.asarray(value)
    if array.dtype.name == "bfloat16" or array.dtype == np.float16:
        array = array.astype(np.float32)
    elif array.dtype.kind != "f" or array.dtype.itemsize not in (4, 8):
        raise ValueError(
            f"{label}: {name} has dtype {array.dtype}; expected floating point "
            "(float16, bfloat16, float32 or float64)"
        )
    array = array.astype(array.dtype.newbyteorder("="), copy=False)
    if np.isnan(array).any():
        raise ValueError(f"{label}: {name} contains NaN")
    if np.isinf(array).any():
        raise ValueError(f"{label}: {name} contains Inf")
    return array


def expect_shape(label: str, name: str, array: np.ndarray, expected: Sequence[int], what: str):
    if array.shape != tuple(expected):
        raise ValueError(
            f"{label}: {name} has shape {shape_text(array.shape)} "
            f"but {what} expects {shape_text(expected)}"
        )


def expect_matrix(label: str, name: str, array: np.ndarray, ndim: int, layout: str):
    if array.ndim != ndim or 0 in array.shape:
        raise ValueError(
            f"{label}: {name} has shape {shape_text(array.shape)}; "
            f"expected a non-empty {ndim}-D array {layout}"
        )


def gate_blocks(label: str, name: str, shape: Sequence[int], width: int, hidden: int) -> int:
    """How many gate blocks of `hidden` units make up `width` (the G·H axis of `name`)."""
    if hidden > 0 and width % hidden == 0 and width // hidden in KIND_OF_BLOCKS:
        return width // hidden
    raise ValueError(
        f"{label}: {name} has shape {shape_text(shape)}: {width} is not 1, 3 or 4 gate blocks "
        f"(rnn, gru, lstm) of hidden_size {hidden}"
    )


def reorder_blocks(array: np.ndarray, order: Sequence[int], axis: int = 0) -> np.ndarray:
    """Permute the gate blocks along `axis`: block k of the result is block order[k] of `array`."""
    blocks = np.split(array, len(order), axis=axis)
    return np.concatenate([blocks[k] for k in order], axis=axis)


def pick_layer(label: str, layer: int, found: Sequence[str], what: str = "layers") -> int:
    """Index of the requested layer; the message lists what the file holds."""
    if layer < len(found):
        return layer
    listing = ", ".join(f"{index}: {name}" for index, name in enumerate(found))
    raise ValueError(f"{label}: layer {layer} not found; {what} found: {listing}")


def listing(names: Sequence[str], limit: int = 12) -> str:
    """Sorted names for a message, cut short: a state dict can hold hundreds."""
    shown = sorted(names)[:limit]
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return (", ".join(shown) or "nothing") + more


def missing(label: str, name: str, present: Sequence[str]) -> ValueError:
    return ValueError(f"{label}: {name} is missing (found {listing(present)})")


def check_canonical(
    label: str, kind: str, params: Mapping[str, np.ndarray], names: Mapping[str, str] | None = None
) -> None:
    """Shapes agree with each other and with `kind`; `names` maps canonical to file names."""
    names = names or {}

    def called(key: str) -> str:
        return names.get(key, key)

    weight_ih = params["weight_ih"]
    expect_matrix(label, called("weight_ih"), weight_ih, 2, "(G·H, I)")
    if not SPECS[kind].recurrent:  # gates of x_t only (minGRU, minLSTM)
        rows, inputs = weight_ih.shape
        if rows % GATE_BLOCKS[kind]:
            raise ValueError(f"{label}: {called('weight_ih')} has {rows} rows; "
                             f"{a_kind(kind)} needs {GATE_BLOCKS[kind]}·H")
        what = f"{a_kind(kind)} with hidden_size {rows // GATE_BLOCKS[kind]}"
        expect_shape(label, called("bias_ih"), params["bias_ih"], (rows,), what)
        return
    weight_hh = params["weight_hh"]
    expect_matrix(label, called("weight_hh"), weight_hh, 2, "(G·H, H)")
    hidden, inputs = weight_hh.shape[1], weight_ih.shape[1]
    rows = GATE_BLOCKS[kind] * hidden
    what = f"{a_kind(kind)} with hidden_size {hidden} and input_size {inputs}"
    expect_shape(label, called("weight_hh"), weight_hh, (rows, hidden), what)
    expect_shape(label, called("weight_ih"), weight_ih, (rows, inputs), what)
    for key in ("bias_ih", "bias_hh"):
        expect_shape(label, called(key), params[key], (rows,), what)
    if kind == "peephole_lstm":
        for key in PEEPHOLES:
            expect_shape(label, called(key), params[key], (hidden,), what)


def one_dtype(params: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """All tensors in one dtype: float64 if any is float64 (widening float32 is exact)."""
    dtype = np.result_type(*params.values())
    return {key: value.astype(dtype, copy=False) for key, value in params.items()}


def check_options(label: str, kind: str, options: Mapping[str, object]) -> dict:
    """The kind's default options updated with `options`, the known ones checked."""
    merged = {**DEFAULT_OPTIONS.get(kind, {}), **options}
    if "nonlinearity" in merged and merged["nonlinearity"] not in NONLINEARITIES:
        raise ValueError(
            f"{label}: nonlinearity {merged['nonlinearity']!r} is not one of {NONLINEARITIES}"
        )
    if "reset_after" in merged and not isinstance(merged["reset_after"], bool):
        raise ValueError(f"{label}: reset_after {merged['reset_after']!r} is not true or false")
    return merged
