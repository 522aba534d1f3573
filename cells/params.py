"""Canonical parameters (PyTorch layout): checking them and initialising them.

weight_ih (G·H, I), weight_hh (G·H, H), bias_ih (G·H,), bias_hh (G·H,); peephole_i/f/o (H,).
"""

from __future__ import annotations

import numpy as np

from .kinds.spec import Spec

DTYPES = {"float32": np.float32, "float64": np.float64}
WEIGHTS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")  # every kind's, in this order
MATRICES, BIASES = WEIGHTS[:2], WEIGHTS[2:]
PEEPHOLES = ("peephole_i", "peephole_f", "peephole_o")


def as_dtype(dtype) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise ValueError(f"dtype {dtype!r} is not understood; use 'float32' or 'float64'") from exc
    if dt not in (np.float32, np.float64):
        raise ValueError(f"dtype {dt.name!r} is not supported; use 'float32' or 'float64'")
    return dt


def as_float_array(value, what: str, dtype: np.dtype) -> np.ndarray:
    """A finite, C-contiguous float array of `dtype` (always a copy), or a ValueError that
    names `what`.

    Every parameter enters the engine through here, so the engine computes with the same
    arrays whichever file they came from: a Keras kernel read as a transposed view and the
    same numbers re-read from a safetensors file give bit-equal results on any CPU, because
    BLAS picks its kernel by memory layout and would otherwise round differently."""
    try:
        a = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} is not a numeric array: {exc}") from exc
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise ValueError(f"{what} must hold numbers, found dtype {a.dtype}")
    if np.issubdtype(a.dtype, np.complexfloating):
        raise ValueError(f"{what} must be real, found dtype {a.dtype}")
    a = np.array(a, dtype=dtype, order="C", copy=True)
    if not np.isfinite(a).all():
        bad = "NaN" if np.isnan(a).any() else "Inf"
        raise ValueError(f"{what} contains {bad}")
    return a


def weight_array(value, what: str, dtype: np.dtype) -> np.ndarray:
    """A weight as the engine holds it: as_float_array's array, frozen (read-only). An
    array that is already so (frozen: read-only down to the memory it owns, C-contiguous,
    of `dtype`, finite) is taken as it is: nothing can change it, so sharing it is as good
    as a copy. A model read from a file (whose reader freezes each tensor it reads) so
    holds each tensor once, and a tied head and embedding stay one array."""
    if _frozen(value, dtype):
        if not _all_finite(value):
            bad = "NaN" if np.isnan(value).any() else "Inf"
            raise ValueError(f"{what} contains {bad}")
        return value
    a = as_float_array(value, what, dtype)
    a.flags.writeable = False
    return a


def _frozen(value, dtype: np.dtype) -> bool:
    if not isinstance(value, np.ndarray) or value.dtype != dtype \
            or not value.flags.c_contiguous:
        return False
    a = value
    while isinstance(a, np.ndarray):
        if a.flags.writeable:
            return False
        if a.base is None:
            return True
        a = a.base
    return False  # memory of another object's, which may change


def _all_finite(a: np.ndarray, rows: int = 2**20) -> bool:
    """np.isfinite(a).all() a million numbers at a time (no mask as large as a)."""
    flat = a.reshape(-1)
    return all(np.isfinite(flat[i:i + rows]).all() for i in range(0, flat.size, rows))


def check_sequence(xs, input_size: int, dtype: np.dtype) -> np.ndarray:
    """A sequence a cell reads: (T, input_size) with T ≥ 1, C-contiguous in the cell's
    dtype; a ValueError that says the shape otherwise (every cell class asks here)."""
    xs = as_float_array(xs, "sequence", dtype)
    if xs.ndim != 2 or xs.shape[1] != input_size:
        raise ValueError(f"sequence has shape {xs.shape}; expected (T, {input_size}) "
                         f"for input_size {input_size}")
    if len(xs) == 0:
        raise ValueError("sequence is empty; give at least one step")
    return np.ascontiguousarray(xs)


def check_params(spec: Spec, params: dict, dtype: np.dtype,
                 input_size: int | None, hidden_size: int | None) -> dict:
    """Validate and copy canonical params; missing biases and peepholes are zeros."""
    allowed = set(WEIGHTS) if spec.recurrent else {"weight_ih", "bias_ih"}
    if spec.peepholes:
        allowed |= set(PEEPHOLES)
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown} for a {spec.name}; "
                         f"expected {sorted(allowed)}")
    for name in MATRICES if spec.recurrent else ("weight_ih",):
        if name not in params:
            raise ValueError(f"parameter {name} is missing for a {spec.name}")
    out = {k: as_float_array(v, f"parameter {k}", dtype) for k, v in params.items()}
    G = spec.gates
    if spec.recurrent:
        w_hh = out["weight_hh"]
        if w_hh.ndim != 2 or w_hh.shape[1] == 0 or w_hh.shape[0] != G * w_hh.shape[1]:
            raise ValueError(f"parameter weight_hh has shape {w_hh.shape}; a {spec.name} "
                             f"expects ({G}·H, H) = ({G}*H, H)")
        H = w_hh.shape[1]
    else:  # no recurrent weights: H from the gate blocks of weight_ih
        rows = out["weight_ih"].shape[0] if out["weight_ih"].ndim == 2 else 0
        if rows == 0 or rows % G:
            raise ValueError(f"parameter weight_ih has shape {out['weight_ih'].shape}; a "
                             f"{spec.name} expects ({G}·H, input_size)")
        H = rows // G
    w_ih = out["weight_ih"]
    if w_ih.ndim != 2 or w_ih.shape[0] != G * H or w_ih.shape[1] == 0:
        raise ValueError(f"parameter weight_ih has shape {w_ih.shape}; a {spec.name} with "
                         f"hidden_size {H} expects ({G * H}, input_size)")
    I = w_ih.shape[1]
    if hidden_size is not None and hidden_size != H:
        raise ValueError(f"hidden_size {hidden_size} does not match the weights (H={H})")
    if input_size is not None and input_size != I:
        raise ValueError(f"input_size {input_size} does not match weight_ih {w_ih.shape} (I={I})")
    expected = {"bias_ih": (G * H,), "bias_hh": (G * H,)} if spec.recurrent else {
        "bias_ih": (G * H,)}
    if spec.peepholes:
        expected.update({k: (H,) for k in PEEPHOLES})
    for name, shape in expected.items():
        if name not in out:
            out[name] = np.zeros(shape, dtype)
        elif out[name].shape != shape:
            raise ValueError(f"parameter {name} has shape {out[name].shape}; expected {shape}")
    for a in out.values():
        a.setflags(write=False)
    return out


def init_params(spec: Spec, input_size: int, hidden_size: int, seed: int,
                dtype: np.dtype, options: dict | None = None) -> dict:
    """Xavier-Glorot uniform per gate block: U(±√(6/(fan_in + fan_out))), as Written
    Memories (r2rt, 2016) derives it.

    Each H-row gate block is its own layer, so its fans are (I, H) for weight_ih and (H, H)
    for weight_hh. Biases start at 0 but the forget gate's, which starts at 1 so that the
    cell remembers by default. Peepholes, being diagonal, use U(±√(3/H)).
    """
    rng = np.random.default_rng(seed)
    G, H, I = spec.gates, hidden_size, input_size

    def blocks(fan_in: int) -> np.ndarray:
        bound = np.sqrt(6.0 / (fan_in + H))
        return np.concatenate([rng.uniform(-bound, bound, (H, fan_in)) for _ in range(G)])

    params = {"weight_ih": blocks(I), "weight_hh": blocks(H),
              "bias_ih": np.zeros(G * H), "bias_hh": np.zeros(G * H)}
    if not spec.recurrent:  # gates of x_t only (minGRU, minLSTM)
        del params["weight_hh"], params["bias_hh"]
    elif spec.recurrent_mask is not None:  # no wires between heads (sLSTM)
        params["weight_hh"] *= spec.recurrent_mask(options or spec.options, H)
    if spec.forget_letter:
        k = spec.gate_letters.index(spec.forget_letter)
        params["bias_ih"][k * H:(k + 1) * H] = 1.0
    if spec.peepholes:
        bound = np.sqrt(3.0 / H)
        params.update({k: rng.uniform(-bound, bound, H) for k in PEEPHOLES})
    return {k: v.astype(dtype) for k, v in params.items()}


def check_size(name: str, value, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be at least {low}, got {value}")
    return int(value)
