"""Keras LSTM / GRU / SimpleRNN weights: kernel (I, G·H), recurrent_kernel (H, G·H), bias."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .common import (
    DEFAULT_OPTIONS,
    KIND_OF_BLOCKS,
    LoadedWeights,
    check_canonical,
    expect_matrix,
    expect_shape,
    gate_blocks,
    reorder_blocks,
    shape_text,
)

# Keras stacks LSTM gates i,f,c,o (= canonical i,f,g,o) and GRU gates z,r,h (canonical r,z,n).
_CANONICAL_ORDER = {"rnn": (0,), "lstm": (0, 1, 2, 3), "gru": (1, 0, 2)}


def from_keras(
    label: str,
    kernel: np.ndarray,
    recurrent_kernel: np.ndarray,
    bias: np.ndarray | None,
    names: Mapping[str, str],
) -> LoadedWeights:
    """Canonical weights of a Keras cell; `names` maps kernel/recurrent_kernel/bias to file names.

    Keras adds one bias to the input projection, so bias_hh is zero, except for a GRU with
    reset_after=True whose (2, 3H) bias holds the input row then the recurrent row, and
    Keras 2's CuDNNLSTM / CuDNNGRU whose (2·G·H,) bias holds both one after the other.
    """
    kernel_name, recurrent_name = names["kernel"], names["recurrent_kernel"]
    expect_matrix(label, recurrent_name, recurrent_kernel, 2, "(H, G·H)")
    expect_matrix(label, kernel_name, kernel, 2, "(I, G·H)")
    hidden, width = recurrent_kernel.shape
    kind = KIND_OF_BLOCKS[gate_blocks(label, recurrent_name, recurrent_kernel.shape, width, hidden)]
    what = f"a Keras {kind} with hidden_size {hidden}"
    expect_shape(label, kernel_name, kernel, (kernel.shape[0], width), what)
    bias_name = names.get("bias", "bias")
    bias_ih, bias_hh, options = _split_bias(label, kind, bias, width, bias_name, what)
    order = _CANONICAL_ORDER[kind]
    params = {
        "weight_ih": reorder_blocks(kernel.T, order),  # (G·H, I)
        "weight_hh": reorder_blocks(recurrent_kernel.T, order),  # (G·H, H)
        "bias_ih": reorder_blocks(bias_ih, order),
        "bias_hh": reorder_blocks(bias_hh, order),
    }
    check_canonical(label, kind, params)
    # A GRU's bias shape tells reset_after; without a bias the file does not say.
    stated = frozenset(options) if kind == "gru" and bias is not None else frozenset()
    return LoadedWeights(kind, params, options, stated=stated)


def _split_bias(label, kind, bias, width, name, what) -> tuple[np.ndarray, np.ndarray, dict]:
    """(bias_ih, bias_hh, options) from a Keras bias; a GRU's bias shape tells reset_after."""
    options = dict(DEFAULT_OPTIONS.get(kind, {}))  # Keras GRU defaults to reset_after=True
    if bias is None:  # use_bias=False
        zeros = np.zeros(width, np.float32)
        return zeros, zeros, options
    if bias.shape == (2 * width,) and kind != "rnn":  # CuDNN: input bias, recurrent bias
        bias = bias.reshape(2, width)
    if bias.shape == (2, width) and kind != "rnn":
        return bias[0], bias[1], {"reset_after": True} if kind == "gru" else options
    if bias.shape == (width,):
        if kind == "gru":
            options = {"reset_after": False}
        return bias, np.zeros_like(bias), options
    expected = shape_text((width,)) + (f" or {shape_text((2, width))}" if kind == "gru" else "")
    raise ValueError(
        f"{label}: {name} has shape {shape_text(bias.shape)} but {what} expects {expected}"
    )
