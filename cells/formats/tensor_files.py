"""Flat files of named tensors: .safetensors and .npz, read lazily without unpickling."""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save_file

from .common import MAX_TENSOR_BYTES, float_tensor
from .limits import check_declared, check_npz_member

KIND_KEY, OPTIONS_KEY = "gatescope_kind", "gatescope_options"  # safetensors metadata
NPZ_KIND, NPZ_OPTIONS = "__kind__", "__options__"  # 0-d unicode arrays in an .npz
MODEL_KEY, NPZ_MODEL = "gatescope_model", "__gatescope_model__"  # a whole model's metadata
# safetensors dtypes NumPy has only once ml_dtypes is imported (it registers them). It is
# imported when a file holds one: its import costs most of a second of CPU, which every
# process (each server, worker and command) would pay at start for files few open.
ML_DTYPES = ("BF16", "F8_E4M3", "F8_E5M2")
# What np.load raises on a damaged archive or member.
_NPZ_ERRORS = (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error)


@dataclass(frozen=True)
class TensorFile:
    """The tensors of an open file, read only when asked for."""

    label: str
    names: tuple[str, ...]
    metadata: dict[str, str]
    read: Callable[[str], np.ndarray | str]  # a str is the reason the tensor is unreadable

    def get(self, name: str) -> np.ndarray:
        value = self.read(name)
        if isinstance(value, str):
            raise ValueError(f"{self.label}: {name} {value}")
        return float_tensor(self.label, name, value)


def recording(tensors: TensorFile) -> tuple[TensorFile, set[str]]:
    """The same tensors, and the set of the names read through them so far: what a reader
    did not read is what it left out."""
    used: set[str] = set()

    def read(name: str) -> np.ndarray | str:
        used.add(name)
        return tensors.read(name)

    return TensorFile(tensors.label, tensors.names, tensors.metadata, read), used


@contextmanager
def open_tensor_file(path: Path, label: str) -> Iterator[TensorFile]:
    """The file's tensors, readable while the context is open."""
    opener = _open_npz if path.suffix.lower() == ".npz" else _open_safetensors
    with opener(path, label) as tensors:
        yield tensors


@contextmanager
def _open_safetensors(path: Path, label: str) -> Iterator[TensorFile]:
    try:
        handle = safe_open(str(path), framework="numpy")  # memory-maps; nothing read yet
    except SafetensorError as error:
        raise ValueError(f"{label}: not a readable safetensors file ({error})") from None
    places = _places(path)

    def read(name: str) -> np.ndarray | str:
        try:
            declared = handle.get_slice(name)
            check_declared(label, name, declared.get_shape())
            place = places.get(name)
            if place is not None:
                return _read_in_place(file, *place)
            if declared.get_dtype() in ML_DTYPES:
                import ml_dtypes  # noqa: F401  (registers bfloat16 with NumPy)
            # its own mapping, gone when the tensor is read: the file's pages do not stay in
            # the process beside the copy
            with safe_open(str(path), framework="numpy") as own:
                return own.get_tensor(name)
        except (SafetensorError, TypeError) as error:  # TypeError: a dtype NumPy lacks
            return f"cannot be read ({error})"

    with handle, open(path, "rb") as file:
        yield TensorFile(label, tuple(handle.keys()), dict(handle.metadata() or {}), read)


# safetensors dtypes read straight into an array of their own (the others go through the
# library, which copies them out of its mapping)
_IN_PLACE = {"F32": np.dtype("<f4"), "F64": np.dtype("<f8")}


def _places(path: Path) -> dict[str, tuple]:
    """name -> (dtype, shape, offset in the file, bytes) of the float32 and float64 tensors,
    from the header safe_open has already checked (its size, offsets and shapes)."""
    import json
    import struct

    with open(path, "rb") as file:
        (size,) = struct.unpack("<Q", file.read(8))
        header = json.loads(file.read(size))
    places = {}
    for name, entry in header.items():
        if name == "__metadata__" or entry.get("dtype") not in _IN_PLACE:
            continue
        begin, end = entry["data_offsets"]
        places[name] = (_IN_PLACE[entry["dtype"]], tuple(entry["shape"]), 8 + size + begin,
                        end - begin)
    return places


def _read_in_place(file, dtype: np.dtype, shape: tuple, offset: int, nbytes: int):
    """The tensor read from the file into an array that owns its memory, once, and is
    frozen (read-only): the engine then holds it as it is (cells.params.weight_array)
    instead of copying it again."""
    array = np.empty(shape, dtype)  # little-endian, as the format stores it
    if array.nbytes != nbytes:
        return f"holds {nbytes} bytes for shape {shape}"
    file.seek(offset)
    if nbytes and file.readinto(memoryview(array.reshape(-1)).cast("B")) != nbytes:
        return "is cut short"
    array.flags.writeable = False  # (on a big-endian machine float_tensor copies it)
    return array


@contextmanager
def _open_npz(path: Path, label: str) -> Iterator[TensorFile]:
    try:
        archive = np.load(path, allow_pickle=False)  # never unpickle uploaded data
    except _NPZ_ERRORS as error:
        raise ValueError(f"{label}: not a readable .npz archive ({error})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{label}: holds one .npy array, not an .npz archive of named tensors")
    with archive:
        # NpzFile names a member "x.npy" as "x"; the zip entry tells its unpacked size.
        entries = {(n[:-4] if n.endswith(".npy") else n): n for n in archive.zip.namelist()}

        def read(name: str) -> np.ndarray | str:
            check_npz_member(label, name, archive.zip, entries[name])
            return _npz_member(archive, name, archive.zip.getinfo(entries[name]).file_size)

        metadata = {}
        for member, key in ((NPZ_KIND, KIND_KEY), (NPZ_OPTIONS, OPTIONS_KEY),
                            (NPZ_MODEL, MODEL_KEY)):
            value = read(member) if member in entries else None
            if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind == "U":
                metadata[key] = str(value[()])
        names = tuple(
            name for name in archive.files if name not in (NPZ_KIND, NPZ_OPTIONS, NPZ_MODEL)
        )
        yield TensorFile(label, names, metadata, read)


def _npz_member(archive: np.lib.npyio.NpzFile, name: str, size: int) -> np.ndarray | str:
    if size > MAX_TENSOR_BYTES:  # a compressed member could unpack to far more than the file
        return f"unpacks to {size} bytes, over the {MAX_TENSOR_BYTES} byte limit"
    try:
        value = archive[name]
    except ValueError as error:
        if "allow_pickle" in str(error):
            return "is an object array; it is not loaded because unpickling can run code"
        return f"cannot be read ({error})"
    except _NPZ_ERRORS as error:
        return f"cannot be read ({error})"
    if not isinstance(value, np.ndarray):  # a zip member that is not .npy comes back as bytes
        return "is not a .npy array"
    return value


def write_tensor_file(path: Path, tensors: Mapping[str, np.ndarray], kind: str, options: str):
    arrays = {name: np.ascontiguousarray(value) for name, value in tensors.items()}
    if path.suffix.lower() == ".npz":
        np.savez(path, **arrays, **{NPZ_KIND: np.array(kind), NPZ_OPTIONS: np.array(options)})
    else:
        save_file(arrays, str(path), metadata={KIND_KEY: kind, OPTIONS_KEY: options})


def write_model_tensor_file(path: Path, tensors: Mapping[str, np.ndarray], metadata: str):
    """A whole model: its tensors, and its metadata text under MODEL_KEY."""
    arrays = {name: np.ascontiguousarray(value) for name, value in tensors.items()}
    if path.suffix.lower() == ".npz":
        np.savez(path, **arrays, **{NPZ_MODEL: np.array(metadata)})
    else:
        save_file(arrays, str(path), metadata={MODEL_KEY: metadata})


def encode_options(label: str, options: Mapping[str, object]) -> str:
    """'nonlinearity=relu;reset_after=true': plain text, so cells/ needs no JSON."""
    parts = []
    for key, value in sorted(options.items()):
        if isinstance(value, (bool, np.bool_)):
            text = "true" if value else "false"
        elif isinstance(value, (int, float, str)):
            text = str(value)
        else:
            raise ValueError(f"{label}: option {key}={value!r} is not a bool, number or string")
        if any(mark in f"{key}{text}" for mark in ";="):
            raise ValueError(f"{label}: option {key}={value!r} contains ';' or '='")
        parts.append(f"{key}={text}")
    return ";".join(parts)


def decode_options(label: str, text: str) -> dict:
    options = {}
    for part in filter(None, text.split(";")):
        key, sep, value = part.partition("=")
        if not sep or not key:
            raise ValueError(f"{label}: metadata option {part!r} is not key=value")
        options[key] = value if _takes_text(key) else _option_value(value)
    return options


def _takes_text(key: str) -> bool:
    """An option whose values are strings keeps its text as written ("12" for the pseudo
    LSTM's diffs is not the number 12)."""
    from ..kinds import OPTIONS

    return key in OPTIONS and isinstance(OPTIONS[key].default, str)


def _option_value(text: str) -> object:
    if text in ("true", "false"):
        return text == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text
