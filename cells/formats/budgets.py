"""Whole-file budgets: what a file may declare in all, checked before any of its data is read.

Each tensor is capped on its own (limits.py), but a file is many tensors: a 524 KB .npz of
compressed zeros declares gigabytes over a few dozen members, a .keras archive's weights can
unpack to a gibibyte, a config of 16 MB of `{}` parses into hundreds of megabytes of dicts,
a JSON nested 200,000 deep overflows the parser's stack. So every reader's path (upload, CLI,
`cells.load`, `cells.load_model`) first looks at the file's *declared* structure — zip
central directories, .npy headers, the safetensors header, the HDF5 object tree, the ONNX
graph — and refuses it when the whole is over budget, with a message naming the file and
the figure. Looking costs time linear in that structure, never in the data.

The budgets are one `Budgets` per process: the engine's defaults below, or the server's
settings (`use(...)`, called once at start-up; each is a GATESCOPE_* setting).
"""

from __future__ import annotations

import json
import re
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .limits import check_declared

MiB = 2**20


@dataclass(frozen=True)
class Budgets:
    # All the tensors a file declares, in bytes as stored: a language model of the 130M
    # configuration (Mamba's) is ~520 MiB of float32. A server sets its own, smaller budget
    # (app.core.settings).
    max_file_tensor_bytes: int = 2048 * MiB
    max_file_tensors: int = 4096  # named tensors, .npz members, HDF5 datasets, initializers
    max_file_layers: int = 64  # recurrent layers a model file may hold
    max_file_groups: int = 4096  # HDF5 groups
    max_file_nodes: int = 20_000  # ONNX nodes, subgraphs included
    max_archive_entries: int = 4096  # members of a .keras or .npz archive
    max_archive_member_bytes: int = 384 * MiB  # one member, unpacked
    max_json_bytes: int = 16 * MiB  # a config, a header, a vocabulary
    max_json_depth: int = 100  # nesting of objects and lists
    max_json_values: int = 2**20  # a million-token vocabulary; a model config needs thousands

    def replace(self, **changes) -> Budgets:
        from dataclasses import replace

        return replace(self, **changes)


_current = Budgets()


def use(budgets: Budgets) -> None:
    """Make `budgets` the ones every reader in this process checks (the server's settings)."""
    global _current
    _current = budgets


def current() -> Budgets:
    return _current


class OverBudget(ValueError):
    """A file over a whole-file budget: a ValueError, so every reader's caller says it as a
    4xx naming the file."""


def _over(label: str, what: str, figure: int, limit: int, setting: str,
          at_least: bool = False) -> OverBudget:
    """'<file>: <what> (<figure>) is over the limit of <limit> (setting <name>)'."""
    shown = f"at least {figure:,}" if at_least else f"{figure:,}"
    return OverBudget(f"{label}: {what} ({shown}) is over the limit of {limit:,} (setting "
                      f"{setting}); the file is not read")


# -- JSON ---------------------------------------------------------------------------------
_CHUNK = 1 << 20
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)


def json_shape(data: bytes) -> tuple[int, int]:
    """(deepest nesting of objects and lists, number of values) of JSON text, counted
    without parsing it: strings are taken out first (brackets and commas inside them do not
    count); each opening bracket and each comma starts a value."""
    bare = np.frombuffer(_STRINGS.sub(b'""', data), np.uint8)
    depth = level = 0
    values = 1
    for start in range(0, len(bare), _CHUNK):  # in chunks: a few MB at most, whatever the size
        chunk = bare[start:start + _CHUNK]
        opening = (chunk == ord("[")) | (chunk == ord("{"))
        steps = opening.astype(np.int32)
        steps[(chunk == ord("]")) | (chunk == ord("}"))] = -1
        levels = np.cumsum(steps, dtype=np.int32)
        depth = max(depth, level + int(levels.max(initial=0)))
        level += int(levels[-1]) if len(levels) else 0
        values += int(np.count_nonzero(opening)) + int(np.count_nonzero(chunk == ord(",")))
    return depth, values


def check_json(label: str, name: str, data: bytes | str) -> None:
    budgets = current()
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if len(raw) > budgets.max_json_bytes:
        raise _over(label, f"the size of {name} in bytes", len(raw),
                    budgets.max_json_bytes, "max_json_bytes")
    depth, values = json_shape(raw)
    if depth > budgets.max_json_depth:
        raise _over(label, f"the nesting depth of {name}'s JSON", depth, budgets.max_json_depth,
                    "max_json_depth")
    if values > budgets.max_json_values:  # parsed, each costs ~50-100 bytes
        raise _over(label, f"the number of values in {name}'s JSON", values,
                    budgets.max_json_values, "max_json_values")


def load_json(label: str, name: str, data: bytes | str):
    """json.loads after the size and depth budgets; a refusal or bad JSON is a ValueError."""
    check_json(label, name, data)
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{label}: {name} is not valid JSON ({error})") from None
    except RecursionError:  # pragma: no cover - the depth budget is far below the stack
        raise ValueError(f"{label}: {name} nests JSON too deep to read") from None


# -- the whole file -----------------------------------------------------------------------
def check_file(path: str | Path, label: str | None = None) -> None:
    """Refuse a weights or model file whose declared structure is over a budget (before any
    reader reads its data). Files no reader knows are left to the readers to refuse."""
    path = Path(path)
    label = label or path.name
    name = path.name.lower()
    if name.endswith(".npz"):
        _check_npz(path, label)
    elif name.endswith(".safetensors"):
        _check_safetensors(path, label)
    elif name.endswith(".keras"):
        _check_keras(path, label)
    elif name.endswith((".h5", ".hdf5")):
        _check_h5(path, label)
    elif name.endswith(".onnx"):
        _check_onnx(path, label)


# The layer index in a tensor's name: PyTorch's `weight_ih_l3`, a gatescope `layers.3.`.
_LAYER_INDEX = re.compile(r"(?:_l(\d+)(?:_reverse)?$|(?:^|\.)layers\.(\d+)\.)")


class _Tally:
    """Declared tensors, bytes and layers so far, refused as soon as one is over."""

    def __init__(self, label: str):
        self.label, self.budgets = label, current()
        self.tensors = self.bytes = 0
        self.layers: set[int] = set()

    def add(self, count: int, name: str = "", shape=None) -> None:
        """One tensor of `count` bytes; with its shape, the per-tensor cap is checked first
        (a single oversized tensor is told as such, limits.py)."""
        if shape is not None:
            check_declared(self.label, name, shape)
        found = _LAYER_INDEX.search(name)
        if found:
            self.layers.add(int(found[1] or found[2]))
            if len(self.layers) > self.budgets.max_file_layers:
                raise _over(self.label, "the number of recurrent layers it holds",
                            len(self.layers), self.budgets.max_file_layers, "max_file_layers",
                            at_least=True)
        self.tensors += 1
        self.bytes += max(int(count), 0)
        b = self.budgets
        if self.tensors > b.max_file_tensors:
            raise _over(self.label, "the number of tensors it declares", self.tensors,
                        b.max_file_tensors, "max_file_tensors", at_least=True)
        if self.bytes > b.max_file_tensor_bytes:
            raise _over(self.label, "the bytes its tensors declare", self.bytes,
                        b.max_file_tensor_bytes, "max_file_tensor_bytes", at_least=True)


def _shape_bytes(shape, itemsize: int) -> int:
    count = 1
    for d in shape:
        count *= max(int(d), 0)
    return count * int(itemsize)


def _check_zip(label: str, archive: zipfile.ZipFile,
               sizes: bool = True) -> list[zipfile.ZipInfo]:
    budgets = current()
    entries = archive.infolist()
    if len(entries) > budgets.max_archive_entries:
        raise _over(label, "the number of entries in the archive", len(entries),
                    budgets.max_archive_entries, "max_archive_entries")
    if sizes:
        _check_member_sizes(label, entries)
    return entries


def _check_member_sizes(label: str, entries: list[zipfile.ZipInfo]) -> None:
    limit = current().max_archive_member_bytes
    for info in entries:
        if info.file_size > limit:
            raise _over(label, f"the bytes {info.filename} unpacks to", info.file_size,
                        limit, "max_archive_member_bytes")


def _check_npz(path: Path, label: str) -> None:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        return  # the reader says what is wrong with it
    tally = _Tally(label)
    with archive:
        entries = _check_zip(label, archive, sizes=False)  # headers first: they say more
        for info in entries:
            if not info.filename.endswith(".npy"):
                continue
            try:  # only the member's .npy header is unpacked
                with archive.open(info) as handle:
                    version = np.lib.format.read_magic(handle)
                    reader = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                              else np.lib.format.read_array_header_2_0)
                    shape, _, dtype = reader(handle)
            except (ValueError, OSError, EOFError, zipfile.BadZipFile):
                continue  # the reader refuses it by name
            tally.add(_shape_bytes(shape, dtype.itemsize), info.filename[:-4], shape)
        _check_member_sizes(label, entries)


_SAFETENSORS_ITEMSIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4,
                         "I16": 2, "I8": 1, "U64": 8, "U32": 4, "U16": 2, "U8": 1,
                         "BOOL": 1, "F8_E5M2": 1, "F8_E4M3": 1}


def _check_safetensors(path: Path, label: str) -> None:
    budgets = current()
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
            if len(head) < 8:
                return
            (size,) = struct.unpack("<Q", head)
            if size > path.stat().st_size - 8:
                return  # not a safetensors header: the reader says so
            if size > budgets.max_json_bytes:
                raise _over(label, "the size of its header in bytes", size, budgets.max_json_bytes,
                            "max_json_bytes")
            header = handle.read(size)
    except OSError:
        return
    try:
        entries = load_json(label, "its header", header)
    except OverBudget:
        raise
    except ValueError:
        return  # not safetensors: the reader says so
    if not isinstance(entries, dict):
        return
    tally = _Tally(label)
    data_bytes = path.stat().st_size - 8 - len(header)
    for name, entry in entries.items():
        if name == "__metadata__" or not isinstance(entry, dict):
            continue
        offsets = entry.get("data_offsets")
        if (isinstance(offsets, list) and len(offsets) == 2
                and all(isinstance(o, int) for o in offsets) and offsets[1] > data_bytes):
            return  # data past the file's end: not a readable file, the reader says so
        shape = entry.get("shape")
        if isinstance(shape, list) and all(isinstance(d, int) for d in shape):
            tally.add(_shape_bytes(shape, _SAFETENSORS_ITEMSIZE.get(entry.get("dtype"), 8)),
                      name, shape)


def _check_keras(path: Path, label: str) -> None:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        return
    with archive:
        names = {info.filename for info in _check_zip(label, archive)}
        if "config.json" in names:
            info = archive.getinfo("config.json")
            if info.file_size > current().max_json_bytes:
                raise _over(label, "the size of config.json in bytes", info.file_size,
                            current().max_json_bytes, "max_json_bytes")
            check_json(label, "config.json", archive.read(info))
        if "model.weights.h5" in names:
            import io

            # Within max_archive_member_bytes; the HDF5 tree is then walked like a file's.
            _check_h5_handle(io.BytesIO(archive.read("model.weights.h5")),
                             f"{label} (model.weights.h5)")


_RECURRENT_KERNEL = re.compile(r"(?:^|/)(?:recurrent_kernel(?::\d+)?|cell/vars/1)$")


def _check_h5(path: Path, label: str) -> None:
    _check_h5_handle(path, label)


def _check_h5_handle(source, label: str) -> None:
    import h5py

    try:
        handle = h5py.File(source, "r")
    except OSError:
        return  # the reader says it is not HDF5
    budgets = current()
    tally = _Tally(label)
    groups = 0
    with handle:
        for key in ("model_config", "training_config"):
            if key in handle.attrs:
                storage = handle.attrs.get_id(key).get_storage_size()
                if storage > budgets.max_json_bytes:
                    raise _over(label, f"the size of its {key} in bytes", storage,
                                budgets.max_json_bytes, "max_json_bytes")
                text = handle.attrs[key]
                check_json(label, key, text if isinstance(text, (bytes, str)) else str(text))

        def visit(name: str, item) -> None:  # each object once; hard links only
            nonlocal groups
            if isinstance(item, h5py.Dataset):
                # a recurrent cell's recurrent kernel counts its layer (Keras 2 or 3 names)
                if item.shape is not None:
                    check_declared(label, item.name, item.shape)
                tally.add(_shape_bytes(item.shape or (), item.dtype.itemsize),
                          f"_l{tally.tensors}" if _RECURRENT_KERNEL.search(name) else "")
            elif isinstance(item, h5py.Group):
                groups += 1
                if groups > budgets.max_file_groups:
                    raise _over(label, "the number of HDF5 groups it holds", groups,
                                budgets.max_file_groups, "max_file_groups", at_least=True)

        handle.visititems(visit)


def _check_onnx(path: Path, label: str) -> None:
    import onnx
    from onnx import helper

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception:  # noqa: BLE001 - the reader says what is wrong with it
        return
    budgets = current()
    tally = _Tally(label)
    nodes = 0
    graphs = [model.graph]
    while graphs:
        graph = graphs.pop()
        for tensor in graph.initializer:
            try:
                itemsize = np.dtype(helper.tensor_dtype_to_np_dtype(tensor.data_type)).itemsize
            except Exception:  # noqa: BLE001 - an unknown type: the reader refuses it
                itemsize = 8
            tally.add(_shape_bytes(tensor.dims, itemsize), tensor.name, list(tensor.dims))
        for node in graph.node:
            nodes += 1
            if nodes > budgets.max_file_nodes:
                raise _over(label, "the number of ONNX nodes it holds", nodes,
                            budgets.max_file_nodes, "max_file_nodes", at_least=True)
            for attribute in node.attribute:
                if attribute.HasField("g"):
                    graphs.append(attribute.g)
                graphs.extend(attribute.graphs)


def check_layers(label: str, layers: int) -> None:
    """A model's recurrent layers against max_file_layers (once its structure is known)."""
    limit = current().max_file_layers
    if layers > limit:
        raise _over(label, "the number of recurrent layers it holds", layers, limit,
                    "max_file_layers")
