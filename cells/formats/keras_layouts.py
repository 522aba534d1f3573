"""Where Keras keeps a layer's weights inside its HDF5 files, one class per format, and
the hard-link-only walk every reader here uses."""

from __future__ import annotations

import re

import h5py
import numpy as np

from .common import shape_text
from .keras_h5 import _read as read_dataset

HEAD_ACTIVATIONS = ("linear", "softmax", "sigmoid")


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


def to_snake_case(name: str) -> str:
    """Keras' naming.to_snake_case: the h5 group of a layer is named after its class."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def numbered_vars(label: str, group: h5py.Group, count: int) -> list[np.ndarray]:
    variables = h5_child(group, "vars")
    if not isinstance(variables, h5py.Group):
        raise ValueError(f"{label}: {group.name} has no vars")
    numbered = all(k.isascii() and k.isdigit() for k in variables)
    names = sorted(variables, key=int) if numbered else None
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


class Keras3Layout:
    """model.weights.h5 of Keras 3: layers/<class in snake case>[_n]/vars/0, 1, ...; a
    recurrent layer's under cell/, a Bidirectional's halves under forward_layer/ and
    backward_layer/."""

    source = "model.weights.h5"

    def __init__(self, handle: h5py.File):
        self.handle, self.used = handle, {}

    def group_name(self, kind: str, name: str) -> str:
        snake = to_snake_case(kind)
        self.used[snake] = self.used.get(snake, -1) + 1
        return f"layers/{snake}" + (f"_{self.used[snake]}" if self.used[snake] else "")

    def arrays(self, label: str, group: h5py.Group, roles: tuple[str, ...], needed: int):
        """role -> (array, its name) for the first `needed` roles and those present."""
        arrays = numbered_vars(label, group, needed)
        return {role: (array, f"{group.name}/vars/{k}")
                for k, (role, array) in enumerate(zip(roles, arrays, strict=False))}

    def cell(self, group):
        return h5_child(group, "cell") if isinstance(group, h5py.Group) else None

    def halves(self, group):
        return h5_child(group, "forward_layer"), h5_child(group, "backward_layer")

    def wrapped(self, group):
        """The layer inside a wrapper such as TimeDistributed."""
        return h5_child(group, "layer")


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

    def wrapped(self, group):
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


def dense_head(label: str, where: str, store, group: h5py.Group, settings: dict) -> dict:
    """head_weight (O, inputs), head_bias and activation of a Dense layer."""
    activation = settings.get("activation", "linear")
    if activation not in HEAD_ACTIVATIONS:
        raise ValueError(f"{where} has activation={activation!r}; supported: "
                         f"{', '.join(HEAD_ACTIVATIONS)}")
    if not isinstance(group, h5py.Group):
        raise ValueError(f"{where}: its weights are not in {store.source}")
    arrays = store.arrays(label, group, ("kernel", "bias"), 1)
    kernel = arrays["kernel"][0]
    if kernel.ndim != 2:
        raise ValueError(f"{where}: kernel has shape {shape_text(kernel.shape)}; expected "
                         "(inputs, units)")
    bias = arrays["bias"][0] if settings.get("use_bias", True) and "bias" in arrays else \
        np.zeros(kernel.shape[1], kernel.dtype)
    return {"head_weight": kernel.T, "head_bias": bias, "activation": activation}
