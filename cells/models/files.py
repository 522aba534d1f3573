"""load_model / save_model: whole models from and to files."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ..weights_io import WRITE_SUFFIXES, read_model_weights
from .build import build_model, model_weights
from .model import Model


def load_model(path: str | os.PathLike, vocabulary=None, dtype=None,
               options: Mapping | None = None, **names) -> Model:
    """A whole model from .safetensors / .npz (a PyTorch state dict or a gatescope model
    file), .onnx, Keras .keras or .weights.h5.

    vocabulary: tokens (a str is its characters), a vocab file path, a preset or
    "preset:NAME"; by default the file's own or a vocab.json / vocab.txt beside the file.
    options: cell options the file leaves open (e.g. {"nonlinearity": "relu"} for an nn.RNN
    state dict); one the file states with another value is refused.
    names: module names of the parts in a state dict: embedding=, recurrent=, head=.

    A head whose activation the file does not say (a state dict's nn.Linear, a bare Keras
    .weights.h5) is read as a softmax over its outputs in a text model (embedding or one-hot
    input) and as linear in a model of numbers; ONNX Softmax/Sigmoid nodes and Keras Dense
    activations say it themselves.
    """
    path = Path(path)
    weights = read_model_weights(path, **names)
    return build_model(weights, vocabulary=vocabulary, dtype=dtype, options=options, path=path)


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
