"""Keras HDF5 weights: Keras 3 `.weights.h5` (layers/lstm/cell/vars/0..2) and Keras 2 `.h5`
(lstm/lstm/lstm_cell/kernel:0, ...)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np

from .common import (
    BOTH_DIRECTIONS,
    FORWARD,
    KIND_OF_BLOCKS,
    MAX_TENSOR_BYTES,
    LoadedWeights,
    bfloat16_to_float32,
    float_tensor,
    is_backward_scope,
    natural_key,
    pick_layer,
)
from .keras import from_keras
from .limits import check_declared

# Keras 3 numbers a cell's variables in creation order; Keras 2 names them.
_NUMBERED = {"kernel": "0", "recurrent_kernel": "1", "bias": "2"}
_NAMED = {"kernel": "kernel", "recurrent_kernel": "recurrent_kernel", "bias": "bias"}
_OPTIMIZER_GROUPS = ("optimizer", "optimizer_weights")


def read_keras_h5(path: Path, label: str, layer: int) -> LoadedWeights:
    """Layer N is the N-th group holding a recurrent cell's variables, in name order
    (lstm, lstm_1, lstm_2, ...), forward direction: the backward halves of Bidirectional
    layers are their second direction."""
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise ValueError(f"{label}: not a readable HDF5 file ({error})") from None
    with handle:
        cells, forward = _forward_groups(label, handle)
        group, roles = forward[pick_layer(label, layer, [g.name for g, _ in forward])]
        return _cell(label, group, roles, len(forward), len(forward) < len(cells))


def read_keras_h5_layers(path: Path, label: str) -> list[LoadedWeights]:
    """Every forward layer of the file, first to last: one open and one walk of its groups
    (reading layer by layer would walk them all once per layer)."""
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise ValueError(f"{label}: not a readable HDF5 file ({error})") from None
    with handle:
        cells, forward = _forward_groups(label, handle)
        backward = len(forward) < len(cells)
        return [_cell(label, group, roles, len(forward), backward) for group, roles in forward]


def _forward_groups(label: str, handle: h5py.File):
    """(every recurrent cell group, the forward ones), each (group, role -> key)."""
    cells = _recurrent_groups(handle)
    if not cells:
        raise ValueError(
            f"{label}: no recurrent layer found (a group holding kernel (I, G·H), "
            "recurrent_kernel (H, G·H) and optionally bias, as Keras LSTM, GRU and "
            "SimpleRNN layers save them)"
        )
    return cells, [(g, roles) for g, roles in cells if not is_backward_scope(g.name)]


def _cell(label: str, group: h5py.Group, roles: dict[str, str], layers: int,
          backward: bool) -> LoadedWeights:
    names = {role: f"{group.name}/{key}" for role, key in roles.items()}
    arrays = {role: _read(label, names[role], group[key]) for role, key in roles.items()}
    loaded = from_keras(
        label, arrays["kernel"], arrays["recurrent_kernel"], arrays.get("bias"), names
    )
    return replace(
        loaded, layers=layers, directions=BOTH_DIRECTIONS if backward else (FORWARD,)
    )


def _recurrent_groups(handle: h5py.File) -> list[tuple[h5py.Group, dict[str, str]]]:
    """(group, role -> dataset key) for every group that looks like a recurrent cell."""
    groups: list[h5py.Group] = []

    def collect(_: str, item: object) -> None:  # visititems stops at a non-None return
        if isinstance(item, h5py.Group):
            groups.append(item)

    handle.visititems(collect)  # follows hard links only
    found = []
    for group in sorted(groups, key=lambda g: natural_key(g.name)):
        parts = group.name.strip("/").split("/")
        if parts[0] in _OPTIMIZER_GROUPS:
            continue
        roles = _cell_roles(group)
        if roles:
            found.append((group, roles))
    return found


def _cell_roles(group: h5py.Group) -> dict[str, str] | None:
    """role -> key when the group's own datasets are a kernel and a recurrent kernel."""
    # Only hard links: soft and external links could point anywhere.
    keys = {
        key.split(":")[0]: key for key in group
        if isinstance(group.get(key, getlink=True), h5py.HardLink)
        and isinstance(group[key], h5py.Dataset)
    }  # fmt: skip
    for layout in (_NAMED, _NUMBERED):
        if layout["kernel"] in keys and layout["recurrent_kernel"] in keys:
            roles = {role: keys[k] for role, k in layout.items() if k in keys}
            if layout is _NAMED or _fits(group, roles):
                return roles
    return None


def _fits(group: h5py.Group, roles: dict[str, str]) -> bool:
    """Numbered variables are a cell only if their shapes are (I, G·H) and (H, G·H)."""
    kernel, recurrent = group[roles["kernel"]].shape, group[roles["recurrent_kernel"]].shape
    return (
        len(kernel) == 2
        and len(recurrent) == 2
        and kernel[1] == recurrent[1]
        and recurrent[0] > 0
        and recurrent[1] % recurrent[0] == 0
        and recurrent[1] // recurrent[0] in KIND_OF_BLOCKS
    )


def _read(label: str, name: str, dataset: h5py.Dataset) -> np.ndarray:
    # External storage or virtual datasets would read other files' bytes as weights.
    if dataset.external or dataset.is_virtual:
        raise ValueError(f"{label}: {name} keeps its data in another file, which is not read")
    check_declared(label, name, dataset.shape)
    size = dataset.size * dataset.dtype.itemsize
    if size > MAX_TENSOR_BYTES:  # compressed datasets could unpack to far more than the file
        raise ValueError(
            f"{label}: {name} unpacks to {size} bytes, over the {MAX_TENSOR_BYTES} byte limit"
        )
    value = dataset[()]
    # Keras 3 stores bfloat16 as opaque 2-byte data marked by this attribute.
    if dataset.attrs.get("dtype") in ("bfloat16", b"bfloat16"):
        value = bfloat16_to_float32(np.asarray(value))
    return float_tensor(label, name, value)
