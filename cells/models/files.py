"""load_model / save_model: whole models from and to files."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ..weights_io import WRITE_SUFFIXES, read_model_weights, warn_about_load
from .build import build_model, model_weights, notices_of
from .model import Model
from .xlstm_files import load_xlstm


def load_model(path: str | os.PathLike, vocabulary=None, dtype=None,
               options: Mapping | None = None, names: Mapping | None = None,
               branch: str | Mapping | None = None, **parts) -> Model:
    """A whole model from .safetensors / .npz (a PyTorch state dict, a gatescope model file
    or any checkpoint of named tensors), .onnx, Keras .keras, legacy .h5 or .weights.h5.

    vocabulary: tokens (a str is its characters), a vocab file path (str or Path), a preset
    or "preset:NAME"; by default the file's own or a vocab.json / vocab.txt beside the file.
    options: cell options the file leaves open (e.g. {"nonlinearity": "relu"} for an nn.RNN
    state dict); one the file states with another value is refused.
    names (or keywords): the parts of a checkpoint by module name, embedding=, recurrent=,
    head=; or its tensors one by one, {"weight_ih": "enc_w_ih", "weight_hh": ...,
    "bias_ih": ..., "bias_hh": ..., "embedding": "enc_emb", "head": "fc_out"} (PyTorch
    layout and gate order; see cells.formats.mapped_tensors).
    branch: "then" or "else", for an ONNX model whose If node chooses its branch by the
    model's inputs (one file for two sample rates: `If(Equal(sr, 16000))`): the branch
    whose recurrent model is read; where such Ifs nest (an If inside a branch of another),
    a dict naming each If's branch by node name, outer to inner:
    branch={"by_rate": "then", "by_mode": "else"}. Without it such a file is refused with
    what each branch (each way through nested Ifs) holds (kind, layers, sizes) and how it
    is chosen; an If whose condition is known from the file takes its own branch.

    The xlstm library's xLSTMLMModel, xLSTMBlockStack or mLSTMLayer (its state dict, alone
    or in a model folder beside a config.json in the library's config fields) comes back as
    a cells.Model whose layers are the library's blocks around their cells
    (cells.formats.xlstm_models).

    Tensors the load leaves out are listed in a cells.LeftOutWarning (and model.notices).
    A head whose activation the file does not say (a state dict's nn.Linear, a bare Keras
    .weights.h5) is read as a softmax over its outputs in a text model (embedding or one-hot
    input) and as linear in a model of numbers; ONNX Softmax/Sigmoid nodes and Keras Dense
    activations say it themselves.
    """
    path = Path(path)
    if not names and not parts:  # the xlstm library's models: residual blocks of their own
        blocks = load_xlstm(path, dtype=dtype, vocabulary=vocabulary)
        if blocks is not None:
            return blocks
    weights = read_model_weights(path, branch=branch, **merged_names(path.name, names, parts))
    model = build_model(weights, vocabulary=vocabulary, dtype=dtype, options=options, path=path)
    warn_about_load(weights)
    return model


def merged_names(label: str, names: Mapping | None, parts: Mapping) -> dict:
    """names={...} and keyword names together; a name given both ways must agree."""
    if names is not None and not isinstance(names, Mapping):
        raise ValueError(f"{label}: names must map parts or tensors to names, not "
                         f"{type(names).__name__}")
    merged = dict(names or {})
    clash = sorted(k for k in parts if k in merged and merged[k] != parts[k])
    if clash:
        raise ValueError(f"{label}: {clash} named twice, differently (names= and keywords)")
    return {**merged, **parts}


def save_model(model: Model, path: str | os.PathLike) -> None:
    """Write the whole model (cells, embedding, head, vocabulary) to .safetensors or .npz;
    load_model reads it back exactly."""
    from ..formats.model_file import model_file_contents
    from ..formats.tensor_files import write_model_tensor_file

    path = Path(path)
    if path.suffix.lower() not in WRITE_SUFFIXES:
        raise ValueError(f"{path.name}: can only write {' or '.join(WRITE_SUFFIXES)} files")
    if not isinstance(model, Model):
        raise ValueError(f"{path.name}: save_model writes a cells.Model, not "
                         f"{type(model).__name__} (cells.save writes one cell)")
    tensors, metadata = model_file_contents(path.name, model_weights(model, path.name))
    write_model_tensor_file(path, tensors, metadata)


def convert_model(path: str | os.PathLike, out: str | os.PathLike,
                  names: Mapping | None = None, **parts) -> tuple[str, ...]:
    """Read a model file once and write what it holds to a gatescope model file `out`
    (.safetensors or .npz) as the file says it: what it leaves open (the head's activation,
    the input's encoding, a vocabulary) stays open, so load_model(out, vocabulary=V,
    dtype=D) builds what load_model(path, vocabulary=V, dtype=D) builds without the
    original format's reader. Returns the notices of the load (model.notices: tensors left
    out, what the numbers are), which `out` does not keep."""
    from ..formats.model_file import model_file_contents
    from ..formats.tensor_files import write_model_tensor_file

    path, out = Path(path), Path(out)
    if out.suffix.lower() not in WRITE_SUFFIXES:
        raise ValueError(f"{out.name}: can only write {' or '.join(WRITE_SUFFIXES)} files")
    weights = read_model_weights(path, **merged_names(path.name, names, parts))
    tensors, metadata = model_file_contents(path.name, weights)
    write_model_tensor_file(out, tensors, metadata)
    warn_about_load(weights)
    return notices_of(weights)
