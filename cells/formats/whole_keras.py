"""Whole Keras 3 models: `.keras` archives (config.json + model.weights.h5, read as data,
never deserialized or executed) and bare `.weights.h5` files.

Supported layers: Embedding, LSTM, GRU, SimpleRNN (each may go_backwards), Bidirectional
(merge_mode concat) and one Dense head; Dropout is an identity at inference. Anything else,
Lambda above all, is refused by name.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np

from .common import BACKWARD, FORWARD, MAX_TENSOR_BYTES, LoadedWeights, shape_text
from .keras import from_keras
from .keras_h5 import _read as read_dataset
from .model_parts import LayerWeights, ModelWeights, check_chain

CONFIG, WEIGHTS = "config.json", "model.weights.h5"
MAX_CONFIG_BYTES = 16 * 2**20
RECURRENT = {"LSTM": "lstm", "GRU": "gru", "SimpleRNN": "rnn"}
IDENTITIES = ("InputLayer", "Dropout")
SUPPORTED = ("Embedding", *RECURRENT, "Bidirectional", "Dense", *IDENTITIES)
HEAD_ACTIVATIONS = ("linear", "softmax", "sigmoid")
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
    try:
        config = json.loads(archive.read(CONFIG).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{label}: {CONFIG} is not valid JSON ({error})") from None
    if not isinstance(config, dict):
        raise ValueError(f"{label}: {CONFIG} is not a model configuration")
    return config


def h5_child(group: h5py.Group, path: str):
    """group[path] when every step of the path is a hard link, else None: soft and external
    links could point anywhere, other files included."""
    node = group
    for part in path.split("/"):
        if not isinstance(node, h5py.Group) or part not in node:
            return None
        if not isinstance(node.get(part, getlink=True), h5py.HardLink):
            return None
        node = node[part]
    return node


def _settings(label: str, layer: dict) -> dict:
    settings = layer.get("config", {})
    if not isinstance(settings, dict):
        raise ValueError(f"{label}: a {layer.get('class_name')} layer's config is not an object")
    return settings


def _layers_in_order(label: str, config: dict) -> list[dict]:
    """The model's layers, first to last; only a plain chain of supported layers."""
    kind = config.get("class_name")
    if kind not in ("Sequential", "Functional"):
        raise ValueError(f"{label}: the model is a {kind!r}; only Sequential and Functional "
                         "models of supported layers are read")
    body = config.get("config")
    layers = body.get("layers") if isinstance(body, dict) else None
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
    if kind == "Functional":
        previous = None
        for layer in layers:
            sources = _inbound(layer)
            name = _settings(label, layer).get("name")
            if layer.get("class_name") != "InputLayer" and sources != [previous]:
                raise ValueError(f"{label}: layer {name!r} reads {sources}; only a chain of "
                                 "layers, each reading the one before, is supported")
            previous = name
    return layers


def _inbound(layer: dict) -> list:
    """Names of the layers a Functional layer reads (keras_history entries)."""
    found = []

    def walk(value):
        if isinstance(value, dict):
            inner = value.get("config")
            history = inner.get("keras_history") if isinstance(inner, dict) else None
            if isinstance(history, list) and history:
                found.append(history[0])
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(layer.get("inbound_nodes", []))
    return found


def to_snake_case(name: str) -> str:
    """Keras' naming.to_snake_case: the h5 group of a layer is named after its class."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


class Keras3Layout:
    """model.weights.h5 of Keras 3: layers/<class in snake case>[_n]/vars/0, 1, ...; a
    recurrent layer's under cell/, a Bidirectional's halves under forward_layer/ and
    backward_layer/."""

    source = WEIGHTS

    def __init__(self, handle: h5py.File):
        self.handle, self.used = handle, {}

    def group_name(self, kind: str, name: str) -> str:
        snake = to_snake_case(kind)
        self.used[snake] = self.used.get(snake, -1) + 1
        return f"layers/{snake}" + (f"_{self.used[snake]}" if self.used[snake] else "")

    def arrays(self, label: str, group: h5py.Group, roles: tuple[str, ...], needed: int):
        """role -> (array, its name) for the first `needed` roles and those present."""
        arrays = _vars(label, group, needed)
        return {role: (array, f"{group.name}/vars/{k}")
                for k, (role, array) in enumerate(zip(roles, arrays, strict=False))}

    def cell(self, group):
        return h5_child(group, "cell") if isinstance(group, h5py.Group) else None

    def halves(self, group):
        return h5_child(group, "forward_layer"), h5_child(group, "backward_layer")


class LegacyLayout:
    """Legacy HDF5 models (Keras 2, or Keras 3's model.save('x.h5')): model_weights/<layer
    name>/.../<variable>[:0], the model's configuration in the model_config attribute."""

    source = "model_weights"

    def __init__(self, handle: h5py.File):
        self.handle = handle

    def group_name(self, kind: str, name: str) -> str:
        return f"model_weights/{name}"

    def arrays(self, label: str, group: h5py.Group, roles: tuple[str, ...], needed: int):
        found: dict[str, list] = {}

        def collect(name: str, item) -> None:
            if isinstance(item, h5py.Dataset):
                found.setdefault(name.rsplit("/", 1)[-1].split(":")[0], []).append(item)

        group.visititems(collect)  # hard links only
        out = {}
        for index, role in enumerate(roles):
            items = found.get(role, [])
            if len(items) > 1:
                raise ValueError(f"{label}: {group.name} holds several {role} arrays: "
                                 f"{', '.join(i.name for i in items)}")
            if not items:
                if index < needed:
                    raise ValueError(f"{label}: {group.name} has no {role} (found "
                                     f"{', '.join(sorted(found)) or 'nothing'})")
                continue
            out[role] = (read_dataset(label, items[0].name, items[0]), items[0].name)
        return out

    def cell(self, group):
        return group

    def halves(self, group):
        halves = {}

        def collect(name: str, item) -> None:
            last = name.rsplit("/", 1)[-1]
            for side in ("forward", "backward"):
                if isinstance(item, h5py.Group) and last.startswith(side) and side not in halves:
                    halves[side] = item

        if isinstance(group, h5py.Group):
            group.visititems(collect)
        return halves.get("forward"), halves.get("backward")


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
            head = _dense(label, where, store, group, settings)
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


def _vars(label: str, group: h5py.Group, count: int) -> list[np.ndarray]:
    variables = h5_child(group, "vars")
    if not isinstance(variables, h5py.Group):
        raise ValueError(f"{label}: {group.name} has no vars")
    names = sorted(variables, key=int) if all(k.isdigit() for k in variables) else None
    if names is None or len(names) < count:
        raise ValueError(f"{label}: {group.name}/vars holds {sorted(variables)}; expected "
                         f"{count} numbered variables")
    arrays = []
    for k in names:
        dataset = h5_child(variables, k)
        if not isinstance(dataset, h5py.Dataset):
            raise ValueError(f"{label}: {group.name}/vars/{k} is not a stored array")
        arrays.append(read_dataset(label, f"{group.name}/vars/{k}", dataset))
    return arrays


def _dense(label: str, where: str, store, group: h5py.Group, settings: dict) -> dict:
    activation = settings.get("activation", "linear")
    if activation not in HEAD_ACTIVATIONS:
        raise ValueError(f"{where} has activation={activation!r}; supported: "
                         f"{', '.join(HEAD_ACTIVATIONS)}")
    arrays = store.arrays(label, group, ("kernel", "bias"), 1)
    kernel = arrays["kernel"][0]
    if kernel.ndim != 2:
        raise ValueError(f"{where}: kernel has shape {shape_text(kernel.shape)}; expected "
                         "(inputs, units)")
    bias = arrays["bias"][0] if settings.get("use_bias", True) and "bias" in arrays else \
        np.zeros(kernel.shape[1], kernel.dtype)
    return {"head_weight": kernel.T, "head_bias": bias, "activation": activation}


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
            from .keras_h5 import read_keras_h5  # Keras 2 files: one cell per layer

            first = read_keras_h5(path, label, 0)
            cells = [first] + [read_keras_h5(path, label, k) for k in range(1, first.layers)]
            if BACKWARD in first.directions:
                raise ValueError(f"{label}: holds Bidirectional layers without the model's "
                                 "configuration; load the .keras archive instead")
            weights = ModelWeights(label, tuple(LayerWeights({FORWARD: c}) for c in cells))
            check_chain(weights)
            return weights
        return _chain(label, root)


def _legacy_config(label: str, handle: h5py.File) -> dict:
    text = handle.attrs["model_config"]
    text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    if len(text) > MAX_CONFIG_BYTES:
        raise ValueError(f"{label}: its model_config is over {MAX_CONFIG_BYTES} bytes")
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{label}: its model_config is not valid JSON ({error})") from None
    if not isinstance(config, dict):
        raise ValueError(f"{label}: its model_config is not a model configuration")
    return config


_CLASS_OF_GROUP = {"embedding": "Embedding", "dense": "Dense", "lstm": "LSTM", "gru": "GRU",
                   "simple_rnn": "SimpleRNN", "bidirectional": "Bidirectional"}


def _chain(label: str, root: h5py.Group) -> ModelWeights:
    parts = []
    for name in root:
        base = re.sub(r"_\d+$", "", name)
        kind = _CLASS_OF_GROUP.get(base)
        if kind is None:
            raise ValueError(f"{label}: layer group {name!r} is not an Embedding, LSTM, GRU, "
                             "SimpleRNN, Bidirectional or Dense layer")
        group = h5_child(root, name)
        if not isinstance(group, h5py.Group):
            raise ValueError(f"{label}: layers/{name} is not a group of weights")
        where = f"{label}: layer {name!r} ({kind})"
        if kind == "Embedding":
            parts.append(("embedding", name, _vars(label, group, 1)[0]))
        elif kind == "Dense":
            parts.append(("head", name, _dense(label, where, Keras3Layout(root.file), group,
                                               {"activation": "linear"})))
        elif kind == "Bidirectional":
            cells = {FORWARD: _bare_cell(label, where, h5_child(group, "forward_layer")),
                     BACKWARD: _bare_cell(label, where, h5_child(group, "backward_layer"))}
            parts.append(("layer", name, LayerWeights(cells)))
        else:
            parts.append(("layer", name, LayerWeights({FORWARD: _bare_cell(label, where,
                                                                           group)})))
    embeddings = [p for p in parts if p[0] == "embedding"]
    heads = [p for p in parts if p[0] == "head"]
    remaining = [p for p in parts if p[0] == "layer"]
    if len(embeddings) > 1 or len(heads) > 1 or not remaining:
        raise ValueError(f"{label}: holds {len(embeddings)} embeddings, {len(remaining)} "
                         f"recurrent layers and {len(heads)} Dense layers; expected at most one "
                         "embedding and one Dense layer around one or more recurrent layers")
    width = embeddings[0][2].shape[1] if embeddings else None
    ordered = []
    while remaining:
        fits = [p for p in remaining if width is None or _widths(p[2])[0] == width]
        if width is None:  # the first layer is the one no other layer feeds
            outputs = {_widths(p[2])[1] for p in remaining}
            fits = [p for p in remaining if _widths(p[2])[0] not in outputs] or fits
        if len(fits) != 1:
            names = ", ".join(p[1] for p in (fits or remaining))
            raise ValueError(f"{label}: cannot tell the order of layers {names} from their "
                             "shapes; load the .keras archive, whose config.json says it")
        ordered.append(fits[0])
        remaining.remove(fits[0])
        width = _widths(fits[0][2])[1]
    head = heads[0][2] if heads else {"activation": None}
    if heads:
        head = {**head, "activation": None}  # a bare weights file does not say
    weights = ModelWeights(label, tuple(p[2] for p in ordered),
                           embedding=embeddings[0][2] if embeddings else None, **head)
    check_chain(weights)
    return weights


def _widths(layer: LayerWeights) -> tuple[int, int]:
    cells = list(layer.cells.values())
    return cells[0].params["weight_ih"].shape[1], sum(c.params["weight_hh"].shape[1]
                                                      for c in cells)


def _bare_cell(label, where, group) -> LoadedWeights:
    cell_group = h5_child(group, "cell") if isinstance(group, h5py.Group) else None
    if not isinstance(cell_group, h5py.Group):
        raise ValueError(f"{where}: no cell weights found")
    arrays = Keras3Layout(group.file).arrays(label, cell_group,
                                             ("kernel", "recurrent_kernel", "bias"), 2)
    names = {role: name for role, (_, name) in arrays.items()}
    bias = arrays["bias"][0] if "bias" in arrays else None
    return from_keras(label, arrays["kernel"][0], arrays["recurrent_kernel"][0], bias, names)
