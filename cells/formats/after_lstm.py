"""State dicts of the reference modules of the cells after the LSTM, by their own names.

- minGRU-pytorch's `minGRU`: `to_hidden_and_gate.weight` (2H, I), blocks hidden then gate,
  is our min_gru weight_ih as is (no bias: zeros).
- its `minLSTM`: `to_hidden_and_f_i_gate.weight` (3H, I), blocks hidden, f, i: our min_lstm.
  An output projection `to_out.weight` (expansion_factor ≠ 1) is not part of the cell; it is
  left out, and a notice says so.
- xlstm's `sLSTMLayer` (Beck et al. 2024): the gate modules `fgate`, `igate`, `zgate`, `ogate`
  (head-wise, (NH, DH, DH)), and the cell's `slstm_cell._recurrent_kernel_` (NH, 4·DH, DH)
  and `_bias_` (4H,), gate-major. The layer feeds the module *named* fgate into the input
  gate and igate into the forget gate (kept so on purpose upstream, for compatibility):
  gates are mapped by position, not by name, and a notice says so. Its group norm after
  the cell is left out (with a notice); a causal convolution before the gates
  (conv1d_kernel_size > 0) is refused, since then the gates read a window of steps.
- xlstm's bare `sLSTMCell`: `_recurrent_kernel_` and `_bias_` only; its input is the 4H-wide
  pre-activation itself, so weight_ih is the identity (I = 4H).

Several such modules in one file (a minLM's layers) are the layers, in order of their names.
"""

from __future__ import annotations

import re
import warnings

import numpy as np

from ..kinds import SPECS
from .common import LoadedWeights, check_options, pick_layer
from .tensor_files import KIND_KEY, OPTIONS_KEY, TensorFile, decode_options

MARKERS = {
    "to_hidden_and_gate.weight": "min_gru",
    "to_hidden_and_f_i_gate.weight": "min_lstm",
    "slstm_cell._recurrent_kernel_": "slstm",
}
SLSTM_GATE_MODULES = ("fgate", "igate", "zgate", "ogate")  # by position: i, f, z, o


class ReferenceModuleNotice(UserWarning):
    """A reference module's state dict was read with a mapping worth knowing: gates taken
    by position rather than by name, or tensors that are not part of the cell left out."""


def _natural(name: str) -> list:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


def find_modules(names) -> list[tuple[str, str]]:
    """(prefix, kind) of every reference module in the file, in layer order."""
    found = []
    for name in names:
        for marker, kind in MARKERS.items():
            if name == marker or name.endswith("." + marker):
                found.append((name[: len(name) - len(marker)], kind))
    if not found and "_recurrent_kernel_" in names and "_bias_" in names:
        found.append(("", "slstm_cell"))
    return sorted(found, key=lambda item: _natural(item[0]))


def read_after_lstm(tensors: TensorFile, layer: int) -> LoadedWeights | None:
    """The cell of layer `layer` when the file holds reference modules (or a cell without
    recurrent weights that write_weights made), else None."""
    kind = tensors.metadata.get(KIND_KEY)
    if kind in SPECS and not SPECS[kind].recurrent:
        pick_layer(tensors.label, layer, ["the single cell"], "cells")
        options = decode_options(tensors.label, tensors.metadata.get(OPTIONS_KEY, ""))
        params = {k: tensors.get(k) for k in ("weight_ih", "bias_ih")}
        return LoadedWeights(kind, params, check_options(tensors.label, kind, options),
                             stated=frozenset(options))
    modules = find_modules(tensors.names)
    if not modules:
        return None
    label = tensors.label
    index = pick_layer(label, layer, [p.rstrip(".") or kind for p, kind in modules])
    prefix, kind = modules[index]
    if kind == "min_gru" or kind == "min_lstm":
        loaded = _min_kind(tensors, prefix, kind)
    elif kind == "slstm":
        loaded = _slstm_layer(tensors, prefix)
    else:
        loaded = _slstm_cell(tensors, prefix)
    return LoadedWeights(loaded[0], loaded[1], check_options(label, loaded[0], loaded[2]),
                         layers=len(modules), stated=frozenset(loaded[2]))


def _min_kind(tensors: TensorFile, prefix: str, kind: str):
    marker = next(m for m, k in MARKERS.items() if k == kind)
    weight = tensors.get(prefix + marker)
    blocks = 2 if kind == "min_gru" else 3
    if weight.ndim != 2 or weight.shape[0] % blocks or weight.shape[0] == 0:
        raise ValueError(f"{tensors.label}: {prefix + marker} has shape {weight.shape}; "
                         f"expected ({blocks}·H, input_size)")
    if prefix + "to_out.weight" in tensors.names:
        warnings.warn(f"{tensors.label}: {prefix}to_out.weight, the projection after the "
                      f"{kind} cell, is left out: the cell's h is what gatescope shows",
                      ReferenceModuleNotice, stacklevel=4)
    params = {"weight_ih": weight, "bias_ih": np.zeros(weight.shape[0], weight.dtype)}
    return kind, params, {}


def recurrent_from_heads(kernel: np.ndarray, label: str, name: str) -> np.ndarray:
    """xlstm's internal recurrent kernel (NH, 4·DH, DH) as our weight_hh (4H, H): row
    g·H + k·DH + u reads column k·DH + j with R[k, g·DH + u, j]; zero between heads."""
    if kernel.ndim != 3 or kernel.shape[1] != 4 * kernel.shape[2]:
        raise ValueError(f"{label}: {name} has shape {kernel.shape}; expected "
                         "(heads, 4·head_dim, head_dim)")
    heads, _, d = kernel.shape
    H = heads * d
    out = np.zeros((4 * H, H), kernel.dtype)
    for k in range(heads):
        for g in range(4):
            out[g * H + k * d:g * H + (k + 1) * d, k * d:(k + 1) * d] = kernel[k, g * d:(g + 1) * d]
    return out


def _heads_option(label: str, heads: int) -> dict:
    return {"heads": int(heads)}


def _slstm_cell(tensors: TensorFile, prefix: str):
    kernel = tensors.get(prefix + "_recurrent_kernel_")
    w_hh = recurrent_from_heads(kernel, tensors.label, prefix + "_recurrent_kernel_")
    H = w_hh.shape[1]
    bias = tensors.get(prefix + "_bias_").reshape(-1)
    if bias.shape != (4 * H,):
        raise ValueError(f"{tensors.label}: {prefix}_bias_ has {bias.size} values; "
                         f"expected 4·H = {4 * H}")
    params = {"weight_ih": np.eye(4 * H, dtype=w_hh.dtype), "weight_hh": w_hh,
              "bias_ih": bias.astype(w_hh.dtype), "bias_hh": np.zeros(4 * H, w_hh.dtype)}
    return "slstm", params, _heads_option(tensors.label, kernel.shape[0])


def _slstm_layer(tensors: TensorFile, prefix: str):
    label = tensors.label
    if prefix + "conv1d.conv.weight" in tensors.names:
        raise ValueError(f"{label}: {prefix}conv1d.conv.weight: this sLSTM layer runs a causal "
                         "convolution before its i and f gates (conv1d_kernel_size > 0), so "
                         "they read a window of steps, not x_t; one cell cannot show that. "
                         "Load a layer made with conv1d_kernel_size=0")
    cell_prefix = prefix + "slstm_cell."
    kind, params, options = _slstm_cell(tensors, cell_prefix)
    H = params["weight_hh"].shape[1]
    blocks = []
    for module in SLSTM_GATE_MODULES:
        name = f"{prefix}{module}.weight"
        if name not in tensors.names:
            raise ValueError(f"{label}: {name} is missing (an sLSTM layer has "
                             f"{', '.join(SLSTM_GATE_MODULES)})")
        w = tensors.get(name)  # (NH, DH_out, DH_in), x of head k -> gate units of head k
        if w.ndim != 3 or w.shape[0] * w.shape[1] != H:
            raise ValueError(f"{label}: {name} has shape {w.shape}; expected "
                             f"(heads, head_dim, in_per_head) with heads·head_dim = {H}")
        heads, d_out, d_in = w.shape
        full = np.zeros((H, heads * d_in), w.dtype)
        for k in range(heads):
            full[k * d_out:(k + 1) * d_out, k * d_in:(k + 1) * d_in] = w[k]
        if f"{prefix}{module}.bias" in tensors.names:
            params["bias_ih"][len(blocks) * H:(len(blocks) + 1) * H] += tensors.get(
                f"{prefix}{module}.bias")
        blocks.append(full)
    params["weight_ih"] = np.concatenate(blocks).astype(params["weight_hh"].dtype)
    warnings.warn(f"{label}: xLSTM's sLSTM layer feeds the module named {prefix}fgate into "
                  f"the input gate and {prefix}igate into the forget gate (kept so upstream "
                  "for compatibility); the gates are mapped by position (fgate → i, igate → "
                  "f, zgate → z, ogate → o), not by name", ReferenceModuleNotice, stacklevel=4)
    left = [n for n in tensors.names if n.startswith(prefix + "group_norm.")]
    if left:
        warnings.warn(f"{label}: {', '.join(left)} (the group norm after the cell) left out: "
                      "the cell's h is what gatescope shows", ReferenceModuleNotice,
                      stacklevel=4)
    return kind, params, options


def read_after_lstm_model(tensors: TensorFile):
    """A file holding one reference module as a whole model (one layer, forward, no head),
    or None when it holds none. Several (a minLM's layers) are refused: norms and residual
    connections join them there, which a chain of cells would not reproduce."""
    from .model_parts import LayerWeights, ModelWeights

    modules = find_modules(tensors.names)
    if not modules:
        return None
    if len(modules) > 1:
        listed = ", ".join(p.rstrip(".") or kind for p, kind in modules)
        raise ValueError(f"{tensors.label}: holds {len(modules)} recurrent modules ({listed}), "
                         "joined in their model by norms and residual connections that a "
                         "chain of cells would not reproduce; load one with "
                         "cells.load(path, layer=N)")
    loaded = read_after_lstm(tensors, 0)
    return ModelWeights(tensors.label, (LayerWeights({"forward": loaded}),))
