"""gatescope model files: a whole model in one .safetensors or .npz, read back exactly.

Tensors `layers.{l}.{direction}.{param}` (canonical names; `weight_hr` for a projected
LSTM), `embedding.weight`, `head.weight`, `head.bias`, and the vocabulary as code points
(`vocabulary.codepoints`, uint32) with each token's length (`vocabulary.lengths`). What is
not an array is text under one metadata key: `key=value` lines. No pickles, no JSON.

A file may leave the head's activation and the input's encoding unsaid (no `activation=` or
`encoding=` line), as the file it was converted from did (cells.convert_model): loading it
then decides them with the vocabulary given, as loading that file would.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

from ..kinds import SPECS
from .common import (
    GATE_BLOCKS,
    WEIGHTS,
    LoadedWeights,
    check_canonical,
    check_options,
    missing,
)
from .model_parts import BlockWeights, LayerWeights, ModelWeights, check_chain
from .own_params import OWN_PARAMS, checked_arrays
from .tensor_files import MODEL_KEY, TensorFile, decode_options, encode_options
from .vocabulary_files import Subwords, subwords

TOKENIZER_TENSOR = "vocabulary.tokenizer_json"  # a subword vocabulary's tokenizer.json bytes

FORMAT_VERSION = "1"
_CELL = re.compile(r"layers\.(\d+)\.(forward|backward)\.kind")
_ACTIVATIONS = ("linear", "softmax", "sigmoid")
_ENCODINGS = ("numbers", "one_hot", "embedding")

__all__ = ["MODEL_KEY", "model_file_contents", "read_model_file"]


def model_file_contents(label: str, weights: ModelWeights) -> tuple[dict[str, np.ndarray], str]:
    """(tensors, metadata text) that `read_model_file` turns back into `weights`."""
    tensors: dict[str, np.ndarray] = {}
    meta = {"format": FORMAT_VERSION, "layers": str(len(weights.layers)),
            "returns": weights.returns}
    for key in ("encoding", "activation"):  # left unsaid where the source left it open
        if getattr(weights, key) is not None:
            meta[key] = getattr(weights, key)
    if weights.tokenizer:
        meta["tokenizer"] = weights.tokenizer
    for index, layer in enumerate(weights.layers):
        meta[f"layers.{index}.reverse_output"] = "true" if layer.reverse_output else "false"
        for direction, cell in layer.cells.items():
            key = f"layers.{index}.{direction}"
            meta[f"{key}.kind"] = cell.kind
            meta[f"{key}.options"] = encode_options(label, cell.options)
            for name, value in cell.params.items():
                tensors[f"{key}.{name}"] = value
        if layer.block is not None:
            _write_block(label, f"layers.{index}.block", layer.block, tensors, meta)
    if weights.final_norm is not None:
        _write_block(label, "final_norm", weights.final_norm, tensors, meta)
    if weights.embedding is not None:
        tensors["embedding.weight"] = weights.embedding
    if weights.head_weight is not None:
        tensors["head.weight"], tensors["head.bias"] = weights.head_weight, weights.head_bias
    if weights.vocabulary is not None:
        tensors["vocabulary.codepoints"] = np.array(
            [ord(ch) for token in weights.vocabulary for ch in token], np.uint32)
        tensors["vocabulary.lengths"] = np.array([len(t) for t in weights.vocabulary], np.int64)
        if isinstance(weights.vocabulary, Subwords):  # the tokenizer that makes its ids
            tensors[TOKENIZER_TENSOR] = np.frombuffer(weights.vocabulary.json.encode(),
                                                      np.uint8)
    bad = [f"{k}={v!r}" for k, v in meta.items() if "\n" in v or "=" in k]
    if bad:
        raise ValueError(f"{label}: cannot write {', '.join(bad)}")
    return tensors, "\n".join(f"{k}={v}" for k, v in meta.items())


def read_model_file(tensors: TensorFile) -> ModelWeights:
    label = tensors.label
    meta = {}
    for line in tensors.metadata[MODEL_KEY].splitlines():
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"{label}: model metadata line {line!r} is not key=value")
        meta[key] = value
    if meta.get("format") != FORMAT_VERSION:
        raise ValueError(f"{label}: gatescope model format {meta.get('format')!r} is not "
                         f"{FORMAT_VERSION!r}")
    count = _count(label, meta)
    cells: dict[int, dict[str, LoadedWeights]] = {k: {} for k in range(count)}
    for key in sorted(meta):
        match = _CELL.fullmatch(key)
        if match:
            index, direction = int(match[1]), match[2]
            if index >= count:
                raise ValueError(f"{label}: metadata names layer {index} of {count}")
            cells[index][direction] = _cell(tensors, f"layers.{index}.{direction}", meta)
    layers = []
    for index in range(count):
        found = cells[index]
        if not found:
            raise ValueError(f"{label}: layer {index} has no cell")
        ordered = {d: found[d] for d in ("forward", "backward") if d in found}
        reverse = meta.get(f"layers.{index}.reverse_output", "false") == "true"
        layers.append(LayerWeights(ordered, reverse_output=reverse,
                                   block=_block(tensors, f"layers.{index}.block", meta)))
    head_weight = _tensor(tensors, "head.weight")
    head_bias = _tensor(tensors, "head.bias")
    if (head_weight is None) != (head_bias is None):
        raise missing(label, "head.bias" if head_bias is None else "head.weight", tensors.names)
    weights = ModelWeights(
        label, tuple(layers),
        embedding=_tensor(tensors, "embedding.weight"),
        head_weight=head_weight, head_bias=head_bias,
        activation=_choice(label, meta, "activation", _ACTIVATIONS, None),
        vocabulary=_vocabulary(tensors),
        tokenizer=meta.get("tokenizer"),
        encoding=_choice(label, meta, "encoding", _ENCODINGS, None),
        returns=_choice(label, meta, "returns", ("sequence", "last")),
        final_norm=_block(tensors, "final_norm", meta),
    )
    check_chain(weights)
    return weights


def _count(label: str, meta: Mapping[str, str]) -> int:
    text = meta.get("layers", "")
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{label}: model metadata layers={text!r} is not a positive count")
    return int(text)


def _choice(label: str, meta: Mapping[str, str], key: str, allowed: tuple,
            unsaid: str | None = "") -> str | None:
    """meta[key], one of `allowed`; when absent, `unsaid` ("" means allowed[0])."""
    if key not in meta and unsaid != "":
        return unsaid
    value = meta.get(key, allowed[0])
    if value not in allowed:
        raise ValueError(f"{label}: model metadata {key}={value!r} is not one of {allowed}")
    return value


def _tensor(tensors: TensorFile, name: str) -> np.ndarray | None:
    return tensors.get(name) if name in tensors.names else None


def _cell(tensors: TensorFile, key: str, meta: Mapping[str, str]) -> LoadedWeights:
    label = tensors.label
    kind = meta[f"{key}.kind"]
    if kind not in GATE_BLOCKS:
        raise ValueError(f"{label}: {key} has unknown kind {kind!r}; known: "
                         f"{', '.join(GATE_BLOCKS)}")
    prefix = f"{key}."
    params = {name[len(prefix):]: tensors.get(name) for name in tensors.names
              if name.startswith(prefix)}
    if kind in OWN_PARAMS:  # parameters by the kind's own names (Mamba)
        options = decode_options(label, meta.get(f"{key}.options", ""))
        return LoadedWeights(kind, checked_arrays(f"{label}: {key}", kind, params),
                             check_options(label, kind, options), stated=frozenset(options))
    # a kind whose gates read x_t only (minGRU, minLSTM) has no recurrent weights
    needed = WEIGHTS if SPECS[kind].recurrent else ("weight_ih", "bias_ih")
    for name in needed:
        if name not in params:
            raise missing(label, prefix + name, tensors.names)
    if "weight_hr" not in params:
        check_canonical(label, kind, params, {k: prefix + k for k in params})
    options = decode_options(label, meta.get(f"{key}.options", ""))
    return LoadedWeights(kind, params, check_options(label, kind, options),
                         stated=frozenset(options))


def _write_block(label: str, key: str, block: BlockWeights, tensors: dict, meta: dict) -> None:
    meta[f"{key}.options"] = encode_options(label, block.options)
    for name, value in block.params.items():
        tensors[f"{key}.{name}"] = value


def _block(tensors: TensorFile, key: str, meta: Mapping[str, str]) -> BlockWeights | None:
    """The block (or final norm) stored under `key`, or None; its names and shapes are
    checked when the model is built (cells.models.blocks)."""
    if f"{key}.options" not in meta:
        return None
    prefix = f"{key}."
    params = {name[len(prefix):]: tensors.get(name) for name in tensors.names
              if name.startswith(prefix)}
    options = decode_options(tensors.label, meta[f"{key}.options"])
    return BlockWeights(params, options)


def _vocabulary(tensors: TensorFile) -> tuple[str, ...] | None:
    label = tensors.label
    if "vocabulary.lengths" not in tensors.names:
        return None
    arrays = {}
    for name, kind in (("vocabulary.codepoints", "u"), ("vocabulary.lengths", "i")):
        value = tensors.read(name) if name in tensors.names else "is missing"
        if isinstance(value, str):
            raise ValueError(f"{label}: {name} {value}")
        if value.ndim != 1 or value.dtype.kind != kind:
            raise ValueError(f"{label}: {name} has dtype {value.dtype} and shape {value.shape}; "
                             "expected a 1-D integer array")
        arrays[name] = value
    codepoints, lengths = arrays["vocabulary.codepoints"], arrays["vocabulary.lengths"]
    if (lengths < 1).any() or lengths.sum() != len(codepoints) or (codepoints > 0x10FFFF).any():
        raise ValueError(f"{label}: vocabulary.lengths do not divide vocabulary.codepoints")
    text = "".join(map(chr, codepoints.tolist()))
    ends = np.cumsum(lengths).tolist()
    tokens = tuple(text[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True))
    if TOKENIZER_TENSOR not in tensors.names:
        return tokens
    raw = tensors.read(TOKENIZER_TENSOR)
    if isinstance(raw, str) or raw.ndim != 1 or raw.dtype != np.uint8:
        raise ValueError(f"{label}: {TOKENIZER_TENSOR} is not a 1-D array of bytes")
    try:
        json = raw.tobytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{label}: {TOKENIZER_TENSOR} is not UTF-8 ({error})") from None
    subwords(label, json)  # the tokenizer must read, whatever the vocabulary says
    return Subwords(tokens, json)
