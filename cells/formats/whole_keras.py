"""Whole Keras models: Keras 3 `.keras` archives (config.json + model.weights.h5) and
legacy HDF5 models (model_config + model_weights, as tf.keras 2 and Keras 3 write them), their
configuration read as data, never deserialized or executed; bare `.weights.h5` files in
keras_weights_chain.

Supported layers: Embedding, LSTM, GRU, SimpleRNN (each may go_backwards), Bidirectional
(merge_mode concat) and one Dense (or TimeDistributed(Dense)) head; Dropout is an identity
at inference. Anything else,
Lambda above all, is refused by name.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import replace
from pathlib import Path

import h5py

from .budgets import load_json
from .common import BACKWARD, FORWARD, MAX_TENSOR_BYTES, LoadedWeights, shape_text
from .keras import from_keras
from .keras_layouts import Keras3Layout, LegacyLayout, dense_head, h5_child
from .keras_weights_chain import read_chain
from .model_parts import LayerWeights, ModelWeights, check_chain

CONFIG, WEIGHTS = "config.json", "model.weights.h5"
MAX_CONFIG_BYTES = 16 * 2**20
# Keras 2's CuDNNLSTM / CuDNNGRU keep Keras' gate order with an input and a recurrent bias
# (8H, 6H); they compute the LSTM and the reset-after GRU.
RECURRENT = {"LSTM": "lstm", "GRU": "gru", "SimpleRNN": "rnn", "CuDNNLSTM": "lstm",
             "CuDNNGRU": "gru"}
IDENTITIES = ("InputLayer", "Dropout")
# "Model" is what Keras up to 2.3 calls a Functional model.
MODEL_CLASSES = ("Sequential", "Functional", "Model")
SUPPORTED = ("Embedding", *RECURRENT, "Bidirectional", "Dense", "TimeDistributed", *IDENTITIES)
_GATE_ACTIVATIONS = {"activation": "tanh", "recurrent_activation": "sigmoid"}


def read_keras_archive(path: Path, label: str) -> ModelWeights:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise ValueError(f"{label}: not a readable .keras archive ({error})") from None
    with archive:
        members = set(archive.namelist())
        for member in (CONFIG, WEIGHTS):
            if member not in members:
                raise ValueError(f"{label}: {member} is missing from the archive (found "
                                 f"{', '.join(sorted(members)) or 'nothing'})")
        config = _config(label, archive)
        size = archive.getinfo(WEIGHTS).file_size
        if size > MAX_TENSOR_BYTES:
            raise ValueError(f"{label}: {WEIGHTS} unpacks to {size} bytes, over the "
                             f"{MAX_TENSOR_BYTES} byte limit")
        data = io.BytesIO(archive.read(WEIGHTS))
    try:
        handle = h5py.File(data, "r")
    except OSError as error:
        raise ValueError(f"{label}: {WEIGHTS} is not readable HDF5 ({error})") from None
    with handle:
        return _model(label, config, Keras3Layout(handle))


def _config(label: str, archive: zipfile.ZipFile) -> dict:
    if archive.getinfo(CONFIG).file_size > MAX_CONFIG_BYTES:
        raise ValueError(f"{label}: {CONFIG} is over {MAX_CONFIG_BYTES} bytes")
    config = load_json(label, CONFIG, archive.read(CONFIG))  # size and depth budgets first
    if not isinstance(config, dict):
        raise ValueError(f"{label}: {CONFIG} is not a model configuration")
    return config


def _settings(label: str, layer: dict) -> dict:
    settings = layer.get("config", {})
    if not isinstance(settings, dict):
        raise ValueError(f"{label}: a {layer.get('class_name')} layer's config is not an object")
    return settings


def _layers_in_order(label: str, config: dict) -> list[dict]:
    """The model's layers, first to last; only a plain chain of supported layers."""
    kind = config.get("class_name")
    if kind not in MODEL_CLASSES:
        raise ValueError(f"{label}: the model is a {kind!r}; only Sequential and Functional "
                         "models of supported layers are read")
    body = config.get("config")
    layers = body.get("layers") if isinstance(body, dict) else body  # Keras ≤ 2.2: a list
    if not isinstance(layers, list) or not all(isinstance(x, dict) for x in layers):
        raise ValueError(f"{label}: {CONFIG} has no list of layers")
    for layer in layers:
        name = layer.get("class_name")
        if name not in SUPPORTED:
            shown = _settings(label, layer).get("name", "?")
            raise ValueError(
                f"{label}: layer {shown!r} is a {name}, which is not supported (a {name} may "
                f"run code or compute what gatescope does not draw); supported layers: "
                f"{', '.join(SUPPORTED)}"
            )
    if kind != "Sequential":
        _check_chain_of_calls(label, layers, body)
    return layers


def _check_chain_of_calls(label: str, layers: list[dict], body: dict) -> None:
    """A Functional model (class "Model" up to Keras 2.3) is read only when each layer reads
    the one listed before it, once, and the last layer is the model's one output."""
    previous = None
    for layer in layers:
        sources = _inbound(layer)
        name = _settings(label, layer).get("name", layer.get("name"))
        if layer.get("class_name") != "InputLayer" and sources != [previous]:
            raise ValueError(f"{label}: layer {name!r} reads {sources}; only a chain of "
                             "layers, each reading the one before, is supported")
        previous = name
    outputs = _inbound({"inbound_nodes": [body.get("output_layers")]}) \
        if isinstance(body.get("output_layers"), list) else [previous]
    if outputs != [previous]:
        raise ValueError(f"{label}: the model outputs {outputs}; only a chain whose last "
                         f"layer ({previous!r}) is the one output is supported")


def _inbound(layer: dict) -> list:
    """Names of the layers a Functional layer reads: Keras 3 writes each call as
    {"args": [{"config": {"keras_history": [name, node, tensor]}}], ...}; Keras 2 as a list
    of [name, node, tensor, kwargs] entries, one list per call."""
    found = []

    def walk(value):
        if isinstance(value, dict):
            inner = value.get("config")
            history = inner.get("keras_history") if isinstance(inner, dict) else None
            if isinstance(history, list) and history:
                found.append(history[0])
            for key, item in value.items():
                if not (history and key == "config"):
                    walk(item)
        elif isinstance(value, list):
            if len(value) >= 3 and isinstance(value[0], str) and isinstance(value[1], int):
                found.append(value[0])  # a Keras 2 reference to a layer's output
                value = value[3:]  # its call's keyword arguments may hold more
            for item in value:
                walk(item)

    nodes = layer.get("inbound_nodes", [])
    walk(nodes)
    if isinstance(nodes, list) and len(nodes) > 1:
        found.append("(called again)")  # a layer called twice shares its weights: no chain
    return found


def _model(label: str, config: dict, store) -> ModelWeights:
    layers: list[LayerWeights] = []
    embedding = head = None
    returns = "sequence"
    for layer in _layers_in_order(label, config):
        kind, settings = layer["class_name"], _settings(label, layer)
        group_name = store.group_name(kind, str(settings.get("name", "")))
        where = f"{label}: layer {settings.get('name', group_name)!r} ({kind})"
        if kind in IDENTITIES:
            continue
        if head is not None:
            raise ValueError(f"{where} comes after the Dense head; the head must be last")
        group = h5_child(store.handle, group_name)
        if not isinstance(group, h5py.Group):
            raise ValueError(f"{where}: its weights {group_name} are not in {store.source}")
        if kind == "Embedding":
            if layers or embedding is not None:
                raise ValueError(f"{where}: an embedding must be the first layer")
            if settings.get("mask_zero"):
                raise ValueError(f"{where} has mask_zero=True: masked steps are skipped, which "
                                 "is not supported")
            embedding = store.arrays(label, group, ("embeddings",), 1)["embeddings"][0]
        elif kind == "Dense":
            head = dense_head(label, where, store, group, settings)
        elif kind == "TimeDistributed":  # Dense at every step: what Dense on a sequence does
            inner = settings.get("layer")
            if not isinstance(inner, dict) or inner.get("class_name") != "Dense":
                wrapped = inner.get("class_name") if isinstance(inner, dict) else inner
                raise ValueError(f"{where} wraps a {wrapped}; only TimeDistributed(Dense) is "
                                 "supported")
            head = dense_head(label, where, store, store.wrapped(group), _settings(label, inner))
        else:
            if returns == "last":
                raise ValueError(f"{where} follows a recurrent layer with "
                                 "return_sequences=False")
            layer_weights, last = _recurrent_layer(label, where, kind, settings, store, group)
            layers.append(layer_weights)
            returns = "last" if last else "sequence"
    if not layers:
        raise ValueError(f"{label}: the model has no LSTM, GRU or SimpleRNN layer")
    weights = ModelWeights(label, tuple(layers), embedding=embedding, returns=returns,
                           **(head or {"activation": "linear"}))
    check_chain(weights)
    return weights


def _recurrent_layer(label, where, kind, settings, store, group) -> tuple[LayerWeights, bool]:
    """(the layer's weights, whether it returns only its last step)."""
    if kind == "Bidirectional":
        if settings.get("merge_mode", "concat") != "concat":
            raise ValueError(f"{where} has merge_mode={settings.get('merge_mode')!r}; only "
                             "'concat' is supported")
        inner = settings.get("layer", {})
        back = settings.get("backward_layer") or inner
        if not isinstance(inner, dict) or not isinstance(back, dict):
            raise ValueError(f"{where}: its wrapped layers are not configurations")
        inner_kind, back_kind = inner.get("class_name"), back.get("class_name")
        for sub in (inner_kind, back_kind):
            if sub not in RECURRENT:
                raise ValueError(f"{where} wraps a {sub}; it may wrap LSTM, GRU or SimpleRNN")
        forward_settings, backward_settings = _settings(label, inner), _settings(label, back)
        if forward_settings.get("go_backwards"):
            raise ValueError(f"{where}: its forward layer has go_backwards=True; unsupported")
        forward_group, backward_group = store.halves(group)
        cells = {
            FORWARD: _cell(label, where, inner_kind, forward_settings, store, forward_group),
            BACKWARD: _cell(label, where, back_kind, backward_settings, store, backward_group),
        }
        last = not forward_settings.get("return_sequences", False)
        return LayerWeights(cells), last
    direction = BACKWARD if settings.get("go_backwards") else FORWARD
    last = not settings.get("return_sequences", False)
    cell = _cell(label, where, kind, settings, store, group)
    # Keras returns a go_backwards layer's sequence in processing order, last step first.
    return LayerWeights({direction: cell}, reverse_output=direction == BACKWARD), last


def _cell(label, where, kind, settings, store, group) -> LoadedWeights:
    for flag in ("stateful", "return_state"):
        if settings.get(flag):
            raise ValueError(f"{where} has {flag}=True; unsupported")
    expected = dict(_GATE_ACTIVATIONS) if kind != "SimpleRNN" else {}
    for name, value in expected.items():
        if settings.get(name, value) != value:
            raise ValueError(f"{where} has {name}={settings.get(name)!r}; only {value!r} is "
                             "supported")
    cell_group = store.cell(group) if isinstance(group, h5py.Group) else None
    if not isinstance(cell_group, h5py.Group):
        raise ValueError(f"{where}: its cell weights are not in {store.source}")
    arrays = store.arrays(label, cell_group, ("kernel", "recurrent_kernel", "bias"), 2)
    names = {role: name for role, (_, name) in arrays.items()}
    bias = arrays["bias"][0] if "bias" in arrays else None
    loaded = from_keras(label, arrays["kernel"][0], arrays["recurrent_kernel"][0], bias, names)
    if loaded.kind != RECURRENT[kind]:
        raise ValueError(f"{where}: its weights are {loaded.kind} weights")
    if kind == "GRU":
        reset_after = bool(settings.get("reset_after", True))
        if bias is not None and loaded.options["reset_after"] != reset_after:
            raise ValueError(f"{where} has reset_after={reset_after} but its bias has shape "
                             f"{shape_text(bias.shape)}")
        loaded = replace(loaded, options={"reset_after": reset_after},
                         stated=frozenset({"reset_after"}))
    if kind == "SimpleRNN":
        activation = settings.get("activation", "tanh")
        if activation not in ("tanh", "relu"):
            raise ValueError(f"{where} has activation={activation!r}; a SimpleRNN supports "
                             "'tanh' or 'relu'")
        loaded = replace(loaded, options={"nonlinearity": activation},
                         stated=frozenset({"nonlinearity"}))
    return loaded


def read_keras_weights_file(path: Path, label: str) -> ModelWeights:
    """A bare Keras 3 .weights.h5: the layers' classes are in their group names but not
    their order, so the order is the one chain their shapes allow."""
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise ValueError(f"{label}: not a readable HDF5 file ({error})") from None
    with handle:
        if "model_config" in handle.attrs and isinstance(h5_child(handle, "model_weights"),
                                                        h5py.Group):
            return _model(label, _legacy_config(label, handle), LegacyLayout(handle))
        root = h5_child(handle, "layers")
        if not isinstance(root, h5py.Group):
            from .keras_h5 import read_keras_h5_layers  # Keras 2 files: one cell per layer

            cells = read_keras_h5_layers(path, label)
            first = cells[0]
            if BACKWARD in first.directions:
                raise ValueError(f"{label}: holds Bidirectional layers without the model's "
                                 "configuration; load the .keras archive instead")
            weights = ModelWeights(label, tuple(LayerWeights({FORWARD: c}) for c in cells))
            check_chain(weights)
            return weights
        return read_chain(label, root)


def _legacy_config(label: str, handle: h5py.File) -> dict:
    text = handle.attrs["model_config"]
    text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    if len(text) > MAX_CONFIG_BYTES:
        raise ValueError(f"{label}: its model_config is over {MAX_CONFIG_BYTES} bytes")
    config = load_json(label, "its model_config", text)  # size and depth budgets first
    if not isinstance(config, dict):
        raise ValueError(f"{label}: its model_config is not a model configuration")
    return config


