"""From the weights a file holds (ModelWeights) to a runnable Model, and back."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..formats.common import LoadedWeights
from ..formats.model_parts import BlockWeights, LayerWeights, ModelWeights
from . import kinds_api
from .blocks import DEFAULT_OPTIONS, Block, Norm
from .encoder import Encoder, vocabulary_tokens
from .model import Head, Layer, Model
from .projected import ProjectedLSTM
from .reserved_tokens import encoder_for, vocabulary_tokenizer

PRESET_PREFIX = "preset:"


def build_model(weights: ModelWeights, vocabulary=None, dtype=None,
                options: Mapping | None = None, path: Path | None = None) -> Model:
    """A Model from a file's weights. `vocabulary`: tokens (a str is characters), a vocab
    file path, a preset or "preset:NAME"; else the file's own, else a sidecar beside `path`."""
    label = weights.label
    dtype = _dtype(weights, dtype)
    options = dict(options or {})
    _check_options_known(label, weights, options)
    stack = []
    for index, layer in enumerate(weights.layers):
        cells = {d: _cell(label, index, d, w, dtype, options) for d, w in layer.cells.items()}
        try:
            block = None if layer.block is None else block_of(layer.block, label)
            stack.append(Layer(cells, reverse_output=layer.reverse_output, block=block))
        except ValueError as error:
            raise ValueError(f"{label}: layer {index}: {error}") from None
    tokens, tokenizer = _vocabulary(label, weights, vocabulary, path)
    first = stack[0].input_size
    try:
        if weights.embedding is not None:
            encoder = encoder_for("embedding", first, tokens, tokenizer,
                                  np.asarray(weights.embedding, dtype))
        elif tokens is not None or weights.encoding == "one_hot":
            encoder = encoder_for("one_hot", first, tokens, tokenizer)
        else:
            encoder = Encoder("numbers", first)
        head = None
        if weights.head_weight is not None:
            activation = weights.activation or (
                "linear" if encoder.encoding == "numbers" else "softmax")
            head = Head(np.asarray(weights.head_weight, dtype),
                        np.asarray(weights.head_bias, dtype), activation)
        return Model(stack, encoder, head, returns=weights.returns, notices=notices_of(weights),
                     final_norm=_final_norm(weights.final_norm))
    except ValueError as error:
        raise ValueError(f"{label}: {error}") from None


def block_of(weights: BlockWeights, label: str):
    """The block a file stored: the generic residual Block, or one of the xlstm library's
    (its options say its kind)."""
    if weights.options.get("kind", Block.kind) != Block.kind:
        from ..formats.xlstm_models import block_of as xlstm_block

        return xlstm_block(weights.params, weights.options, label)
    return Block(weights.params, {k: v for k, v in weights.options.items() if k != "kind"})


def _final_norm(weights: BlockWeights | None) -> Norm | None:
    if weights is None:
        return None
    options = {**DEFAULT_OPTIONS, **weights.options}
    unknown = sorted(set(weights.params) - {"norm.weight", "norm.bias"})
    if unknown:
        raise ValueError(f"the final norm has tensors {unknown} besides norm.weight/bias")
    return Norm(options["norm"], weights.params.get("norm.weight"),
                weights.params.get("norm.bias"), float(options["eps"]))


def notices_of(weights: ModelWeights) -> tuple[str, ...]:
    """What a page shows beside the model: the tensors left out, and what the numbers are."""
    left_out = (f"left out {len(weights.left_out)} tensor(s) the model does not use: "
                f"{', '.join(weights.left_out)}",) if weights.left_out else ()
    return left_out + tuple(weights.notices)


def model_weights(model: Model, label: str) -> ModelWeights:
    """What save_model writes: the model's parts as plain arrays."""
    layers = []
    for layer in model.stack:
        cells = {d: LoadedWeights(c.kind, dict(c.params), dict(c.options))
                 for d, c in layer.cells.items()}
        block = None if layer.block is None else BlockWeights(dict(layer.block.params),
                                                              dict(layer.block.options))
        layers.append(LayerWeights(cells, reverse_output=layer.reverse_output, block=block))
    encoder, head, norm = model.encoder, model.head, model.final_norm
    final_norm = None if norm is None else BlockWeights(
        {k: v for k, v in (("norm.weight", norm.weight), ("norm.bias", norm.bias))
         if v is not None}, {"norm": norm.kind, "eps": norm.eps})
    return ModelWeights(
        label, tuple(layers), embedding=encoder.embedding,
        head_weight=None if head is None else head.weight,
        head_bias=None if head is None else head.bias,
        activation=None if head is None else head.activation,
        vocabulary=encoder.vocabulary, tokenizer=encoder.tokenizer,
        encoding=encoder.encoding,
        returns=model.returns,
        final_norm=final_norm,
    )


def with_options(weights: ModelWeights, options: Mapping[str, object]) -> ModelWeights:
    """The same weights with options the source states (e.g. an nn.RNN's nonlinearity)."""
    layers = []
    for layer in weights.layers:
        cells = {}
        for direction, cell in layer.cells.items():
            own = {k: v for k, v in options.items() if k in cell.options}
            cells[direction] = replace(cell, options={**cell.options, **own},
                                       stated=cell.stated | frozenset(own))
        layers.append(replace(layer, cells=cells))
    return replace(weights, layers=tuple(layers))


def _names_a_file(text: str) -> bool:
    """A str vocabulary is a path when it ends as a vocabulary file does or holds a folder
    separator: a character vocabulary holds each character once, so "vocab.txt" (two t's)
    or "data/chars.json" (two a's) cannot be one."""
    from ..formats.vocabulary_files import SUFFIXES

    return text.lower().endswith(SUFFIXES) or (os.sep in text and len(set(text)) < len(text))


def _dtype(weights: ModelWeights, dtype) -> np.dtype:
    if dtype is not None:
        dt = np.dtype(dtype) if str(dtype) in ("float32", "float64") else None
        if dt is None:
            raise ValueError(f"dtype {dtype!r} is not supported; use 'float32' or 'float64'")
        return dt
    arrays = [a for layer in weights.layers for w in layer.cells.values()
              for a in w.params.values()]
    return np.dtype(np.float64 if any(a.dtype == np.float64 for a in arrays) else np.float32)


def _check_options_known(label: str, weights: ModelWeights, options: Mapping) -> None:
    offered = {k for layer in weights.layers for w in layer.cells.values() for k in w.options}
    unknown = sorted(set(options) - offered)
    if unknown:
        raise ValueError(f"{label}: option(s) {unknown} do not apply to this model's cells "
                         f"(their options: {sorted(offered) or 'none'})")


def _cell(label: str, index: int, direction: str, weights: LoadedWeights, dtype,
          options: Mapping):
    where = f"{label}: layer {index} {direction}"
    mine = {k: v for k, v in options.items() if k in weights.options}
    for name, value in mine.items():
        if name in weights.stated and weights.options[name] != value:
            raise ValueError(f"{where}: the file states {name}={weights.options[name]!r}; "
                             f"{name}={value!r} would compute something else")
    try:
        if "weight_hr" in weights.params:
            return ProjectedLSTM(weights.params, dtype)
        return kinds_api.create(weights.kind, params=weights.params, dtype=dtype.name,
                                **{**weights.options, **mine})
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None


def vocabulary_of(label: str, given, path: Path | None):
    """(tokens, tokenizer) for a model whose file holds no vocabulary of its own: `given`
    (as build_model takes it) or a sidecar beside `path` (a tokenizer.json too), else
    (None, None)."""
    from types import SimpleNamespace

    return _vocabulary(label, SimpleNamespace(vocabulary=None, tokenizer=None), given, path)


def _vocabulary(label: str, weights: ModelWeights, given, path: Path | None):
    """(tokens, tokenizer) or (None, None)."""
    if given is None:
        if weights.vocabulary is not None:
            return weights.vocabulary, weights.tokenizer or vocabulary_tokenizer(
                weights.vocabulary)
        from ..formats.vocabulary_files import read_vocabulary_file, sidecars

        found = [p for p in sidecars(path) if p.is_file()] if path is not None else []
        if not found:
            return None, None
        tokens = read_vocabulary_file(found[0])
        where = found[0].name
    else:
        tokens, where = _given_vocabulary(given)
    try:
        tokens = vocabulary_tokens(tokens)
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None
    return tokens, vocabulary_tokenizer(tokens)


def _given_vocabulary(given) -> tuple[object, str]:
    if isinstance(given, str) and _names_a_file(given):
        given = Path(given)
    if isinstance(given, os.PathLike):
        from ..formats.vocabulary_files import read_vocabulary_file

        path = Path(given)
        if not path.is_file():
            raise ValueError(f"vocabulary file {str(path)!r} "
                             f"{'is a directory' if path.is_dir() else 'does not exist'}")
        return read_vocabulary_file(path), path.name
    if hasattr(given, "vocabulary") and hasattr(given, "encode"):  # a cells.presets Preset
        return given.vocabulary, f"preset {given.name!r}"
    if isinstance(given, str) and given.startswith(PRESET_PREFIX):
        import cells

        preset = cells.presets.get(given[len(PRESET_PREFIX):])
        return preset.vocabulary, f"preset {preset.name!r}"
    if isinstance(given, (str, list, tuple)):
        return given, "the vocabulary given"
    raise ValueError(f"vocabulary must be a str of characters, a list of tokens, a vocab file "
                     f"path or a preset, not {type(given).__name__}")
