"""The NumPy pieces of the blocks whose box around the cell is more than
cells.models.blocks' generic Block (the xlstm library's mLSTM and sLSTM layers,
cells.formats.xlstm_models): norms, a per-head group norm, a causal convolution with a
state, linear maps and the xlstm feed-forward's activations. They reuse cells.models.blocks
(norms, activations, causal convolution) and add only what those layers need.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from .blocks import Norm, activation, causal_depthwise_conv


# -- the pieces ------------------------------------------------------------------------------
def layer_norm(x: np.ndarray, weight: np.ndarray | None, bias: np.ndarray | None = None,
               eps: float = 1e-5) -> np.ndarray:
    """torch.nn.functional.layer_norm over the last axis (biased variance)."""
    return Norm("layer", weight, bias, eps)(x)


def group_norm(x: np.ndarray, groups: int, weight: np.ndarray | None,
               bias: np.ndarray | None = None, eps: float = 1e-5) -> np.ndarray:
    """torch.nn.functional.group_norm of (T, C) rows: each of `groups` contiguous channel
    groups normalized on its own, then the per-channel weight and bias."""
    T, C = x.shape
    out = layer_norm(x.reshape(T, groups, C // groups), None, None, eps).reshape(T, C)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def rms_norm(x: np.ndarray, weight: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """x / sqrt(mean(x²) + eps) · weight over the last axis."""
    return Norm("rms", weight, None, eps)(x)


def causal_conv(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None,
                state: np.ndarray | None = None) -> np.ndarray:
    """Depthwise causal convolution along time (cells.models.blocks.causal_depthwise_conv);
    `state` (K−1, C): the inputs before x (zeros by default)."""
    if state is None:
        return causal_depthwise_conv(x, weight, bias)
    return causal_depthwise_conv(np.concatenate([state, x]), weight, bias)[len(state):]


def linear(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    """nn.Linear: x·Wᵀ + b."""
    y = x @ weight.T
    return y if bias is None else y + bias


def silu(x: np.ndarray) -> np.ndarray:
    return activation("silu", x)


# the xlstm library's feed-forward activations (its `_act_fn_registry`), by its names
ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "gelu": lambda x: activation("gelu", x),
    "relu": lambda x: activation("relu", x),
    "relu^2": lambda x: np.square(np.maximum(x, 0)),
    "sigmoid": lambda x: 0.5 * np.tanh(0.5 * x) + 0.5,
    "swish": silu,
    "selu": lambda x: 1.0507009873554805 * np.where(
        x > 0, x, 1.6732632423543772 * np.expm1(np.minimum(x, 0))),
}


def tensors_named(tensors: Mapping[str, np.ndarray], prefix: str, names: Sequence[str],
                  label: str) -> dict[str, np.ndarray]:
    """tensors[prefix + name] for each name, or a ValueError naming the first missing."""
    out = {}
    for name in names:
        key = prefix + name
        if key not in tensors:
            raise ValueError(f"{label}: {key} is missing")
        out[name] = tensors[key]
    return out
