"""Residual language models by their own tensor names: an embedding, blocks that each wrap
one recurrent cell in a norm and a residual connection (cells.models.blocks), a final norm
and a head.

- minGRU-pytorch's `minLM` ("Were RNNs All We Needed?", Feng et al. 2024, as
  lucidrains/minGRU-pytorch builds it): `token_emb`, `layers.{l}.{0..4}` = an optional
  causal depthwise + pointwise convolution added to the stream, RMSNorm, the minGRU or
  minLSTM (its `to_out` projection the block's `out`), RMSNorm, a GELU feed-forward;
  `norm` and `to_logits` (no bias). torch's RMSNorm without eps uses the machine epsilon
  of the tensors' dtype, and so does the block.
- Mamba ("Mamba: Linear-Time Sequence Modeling with Selective State Spaces", Gu and Dao
  2023) in the three layouts it is published in: `mamba_ssm`'s MambaLMHeadModel
  (`backbone.embedding`, `backbone.layers.{l}.mixer.*` and `.norm`, `backbone.norm_f`,
  `lm_head`, tied to the embedding when absent), Hugging Face `transformers`'
  MambaForCausalLM (`backbone.embeddings`, otherwise the same names) and `mambapy`'s LM
  (`embedding`, `mamba.layers.{l}.…`, `norm_f`, `lm_head`) or bare `Mamba` stack
  (`layers.{l}.…`: a model of numbers). Each layer is a pre-norm residual block around the
  `mamba` mixer; the sizes come from the tensors, ε from config.json when there is one
  (`rms_norm_eps`, `layer_norm_epsilon` or `norm_epsilon`; 1e-5, the libraries' default,
  otherwise); an RMSNorm with a bias is read as the LayerNorm mamba_ssm builds without
  `rms_norm`.
"""

from __future__ import annotations

import re

import numpy as np

from .common import LoadedWeights, check_options, shape_text
from .model_parts import BlockWeights, LayerWeights, ModelWeights, check_chain
from .tensor_files import TensorFile

_MIN_LM_CELL = re.compile(r"layers\.(\d+)\.2\.(to_hidden_and_gate|to_hidden_and_f_i_gate)"
                          r"\.weight")
_MIN_KINDS = {"to_hidden_and_gate": ("min_gru", 2), "to_hidden_and_f_i_gate": ("min_lstm", 3)}


_MAMBA_LAYER = re.compile(r"(.*?)layers\.(\d+)\.mixer\.A_log")
# canonical mamba parameter -> the reference modules' tensor under `mixer.`
_MAMBA_TENSORS = {"in_proj_weight": "in_proj.weight", "in_proj_bias": "in_proj.bias",
                  "conv_weight": "conv1d.weight", "conv_bias": "conv1d.bias",
                  "x_proj_weight": "x_proj.weight", "dt_proj_weight": "dt_proj.weight",
                  "dt_proj_bias": "dt_proj.bias", "A_log": "A_log", "D": "D",
                  "out_proj_weight": "out_proj.weight", "out_proj_bias": "out_proj.bias"}
_OPTIONAL = ("in_proj_bias", "conv_bias", "out_proj_bias")  # bias=False / conv_bias=False
_EPS_KEYS = ("rms_norm_eps", "layer_norm_epsilon", "norm_epsilon")
DEFAULT_EPS = 1e-5


def read_residual_lm(tensors: TensorFile, config: dict | None = None) -> ModelWeights | None:
    """The model when the file holds a residual language model this module knows, else
    None. `config`: the config.json beside it, as data."""
    names = set(tensors.names)
    if {"token_emb.weight", "to_logits.weight", "norm.weight"} <= names and any(
            _MIN_LM_CELL.fullmatch(n) for n in names):
        return _min_lm(tensors)
    if any(_MAMBA_LAYER.fullmatch(n) for n in names):
        return _mamba(tensors, config or {})
    return None


class _Reader:
    """Reads tensors by name and remembers which, so the rest can be listed as left out."""

    def __init__(self, tensors: TensorFile):
        self.tensors, self.used = tensors, set()

    def __contains__(self, name: str) -> bool:
        return name in self.tensors.names

    def get(self, name: str, ndim: int | None = None) -> np.ndarray:
        value = self.tensors.get(name)
        if ndim is not None and value.ndim != ndim:
            raise ValueError(f"{self.tensors.label}: {name} has shape "
                             f"{shape_text(value.shape)}; expected {ndim} dimensions")
        self.used.add(name)
        return value

    def left_out(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.tensors.names) - self.used))


def _min_lm(tensors: TensorFile) -> ModelWeights:
    label, read = tensors.label, _Reader(tensors)
    found = sorted((int(m[1]), m[2]) for m in map(_MIN_LM_CELL.fullmatch, tensors.names) if m)
    if [index for index, _ in found] != list(range(len(found))):
        raise ValueError(f"{label}: the minLM layers are numbered "
                         f"{[index for index, _ in found]}, not 0..{len(found) - 1}")
    embedding = read.get("token_emb.weight", 2)
    eps = float(np.finfo(embedding.dtype).eps)  # torch's RMSNorm(eps=None)
    layers = []
    for index, module in found:
        prefix = f"layers.{index}."
        kind, blocks = _MIN_KINDS[module]
        weight = read.get(f"{prefix}2.{module}.weight", 2)
        if weight.shape[0] % blocks:
            raise ValueError(f"{label}: {prefix}2.{module}.weight has shape "
                             f"{shape_text(weight.shape)}; expected ({blocks}·H, E)")
        cell = LoadedWeights(kind, {"weight_ih": weight,
                                    "bias_ih": np.zeros(weight.shape[0], weight.dtype)},
                             check_options(label, kind, {}))
        params = {"norm.weight": read.get(f"{prefix}1.weight", 1),
                  "ff_norm.weight": read.get(f"{prefix}3.weight", 1),
                  "ff.up.weight": read.get(f"{prefix}4.0.weight", 2),
                  "ff.up.bias": read.get(f"{prefix}4.0.bias", 1),
                  "ff.down.weight": read.get(f"{prefix}4.2.weight", 2),
                  "ff.down.bias": read.get(f"{prefix}4.2.bias", 1)}
        if f"{prefix}2.to_out.weight" in read:
            params["out.weight"] = read.get(f"{prefix}2.to_out.weight", 2)
        if f"{prefix}0.net.0.weight" in read:  # Conv1d(E, E, K, groups=E): (E, 1, K)
            depthwise = read.get(f"{prefix}0.net.0.weight", 3)
            pointwise = read.get(f"{prefix}0.net.1.weight", 3)  # (E, E, 1)
            params.update({"conv.weight": depthwise[:, 0, :],
                           "conv.bias": read.get(f"{prefix}0.net.0.bias", 1),
                           "conv.pointwise.weight": pointwise[:, :, 0],
                           "conv.pointwise.bias": read.get(f"{prefix}0.net.1.bias", 1)})
        options = {"norm": "rms", "eps": eps, "ff_activation": "gelu", "ff_gated": False}
        layers.append(LayerWeights({"forward": cell}, block=BlockWeights(params, options)))
    head = read.get("to_logits.weight", 2)
    weights = ModelWeights(
        label, tuple(layers), embedding=embedding, head_weight=head,
        head_bias=np.zeros(head.shape[0], head.dtype), activation="softmax",
        encoding="embedding",
        final_norm=BlockWeights({"norm.weight": read.get("norm.weight", 1)},
                                {"norm": "rms", "eps": eps}),
        left_out=read.left_out())
    check_chain(weights)
    return weights


def _eps(label: str, config: dict) -> float:
    for key in _EPS_KEYS:
        if key in config:
            value = config[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"{label}: config.json {key}={value!r} is not a positive "
                                 "number")
            return float(value)
    return DEFAULT_EPS


def _norm(read: _Reader, prefix: str, eps: float) -> BlockWeights:
    params = {"norm.weight": read.get(prefix + "weight", 1)}
    if prefix + "bias" in read:
        params["norm.bias"] = read.get(prefix + "bias", 1)
    return BlockWeights(params, {"norm": "layer" if "norm.bias" in params else "rms",
                                 "eps": eps})


def _mamba_mixer(label: str, read: _Reader, prefix: str) -> LoadedWeights:
    params = {}
    for name, theirs in _MAMBA_TENSORS.items():
        if name in _OPTIONAL and prefix + theirs not in read:
            continue
        params[name] = read.get(prefix + theirs)
    conv = params["conv_weight"]
    if conv.ndim == 3:  # Conv1d(E, E, K, groups=E): (E, 1, K)
        if conv.shape[1] != 1:
            raise ValueError(f"{label}: {prefix}conv1d.weight has shape "
                             f"{shape_text(conv.shape)}; expected (E, 1, K), a depthwise conv")
        params["conv_weight"] = conv[:, 0, :]
    in_proj, a_log = params["in_proj_weight"], params["A_log"]
    if in_proj.ndim != 2 or a_log.ndim != 2 or params["dt_proj_weight"].ndim != 2:
        raise ValueError(f"{label}: {prefix}in_proj.weight, A_log and dt_proj.weight must be "
                         "matrices")
    E, N = a_log.shape
    H = params["out_proj_weight"].shape[0]
    dtype = in_proj.dtype
    for name, rows in (("in_proj_bias", 2 * E), ("conv_bias", E), ("out_proj_bias", H)):
        params.setdefault(name, np.zeros(rows, dtype))
    if E % H:
        raise ValueError(f"{label}: {prefix}: {E} channels are not a multiple of d_model {H}")
    options = {"d_state": N, "d_conv": params["conv_weight"].shape[1], "expand": E // H,
               "dt_rank": params["dt_proj_weight"].shape[1]}
    return LoadedWeights("mamba", params, check_options(label, "mamba", options),
                         stated=frozenset(options))


def _mamba(tensors: TensorFile, config: dict) -> ModelWeights:
    label, read = tensors.label, _Reader(tensors)
    found = sorted((int(m[2]), m[1]) for m in map(_MAMBA_LAYER.fullmatch, tensors.names) if m)
    prefixes = {prefix for _, prefix in found}
    if len(prefixes) > 1 or [i for i, _ in found] != list(range(len(found))):
        raise ValueError(f"{label}: the Mamba layers are "
                         f"{[p + 'layers.' + str(i) for i, p in found]}, not one stack "
                         "numbered from 0")
    stack = prefixes.pop()
    inner = sorted(n for n in tensors.names if re.search(r"\.mixer\.(dt|B|C)_layernorm\.", n))
    if inner:  # mambapy's inner_layernorms: norms inside the mixer the mamba kind has not
        raise ValueError(f"{label}: {inner[0]}: this Mamba normalizes Δ, B and C inside its "
                         "mixer (mambapy's inner_layernorms=True), which gatescope's mamba "
                         "does not compute; load a model made without it")
    eps = _eps(label, config)
    layers = []
    for index, _ in found:
        at = f"{stack}layers.{index}."
        cell = _mamba_mixer(label, read, at + "mixer.")
        norm = _norm(read, at + "norm.", eps)
        layers.append(LayerWeights({"forward": cell}, block=norm))
    embedding = next((read.get(n, 2) for n in (f"{stack}embedding.weight",
                                               f"{stack}embeddings.weight", "embedding.weight")
                      if n in read), None)
    final = next((n for n in (f"{stack}norm_f.", "norm_f.") if n + "weight" in read), None)
    head = read.get("lm_head.weight", 2) if "lm_head.weight" in read else None
    if head is None and embedding is not None:  # tied: the head is the embedding
        head = embedding
    head_bias = None
    if head is not None:
        head_bias = (read.get("lm_head.bias", 1) if "lm_head.bias" in read
                     else np.zeros(head.shape[0], head.dtype))
    weights = ModelWeights(
        label, tuple(layers), embedding=embedding, head_weight=head, head_bias=head_bias,
        activation="softmax" if head is not None else None,
        encoding="embedding" if embedding is not None else None,
        final_norm=None if final is None else _norm(read, final, eps),
        left_out=read.left_out())
    check_chain(weights)
    return weights
