"""Uploaded weights: hash while copying, parse with the engine (never unpickle), keep by sha256.

The record of an upload (`POST /api/weights`, `GET /api/weights/{id}`) says what the file
holds: its name as uploaded, the cell it gives, the options the file itself states and
the ones it leaves open, how many layers and directions it has and which part is used.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import cells
from app.api.errors import ApiError
from app.core.settings import Settings
from app.sessions.datadir import WEIGHT_EXTENSIONS, Store, UploadTooLarge, weights_extension
from app.sessions.kinds import check_options, default_options
from cells.weights_io import read_weights

SHOWN = {"layer": 0, "direction": "forward"}  # the part of a bigger file a session uses


def upload_record(weights_id: str, meta: dict) -> dict:
    """The public record of an upload, from its stored description."""
    stated = set(meta.get("stated", meta["options"]))
    return {
        "weights_id": weights_id, "cell": meta["cell"],
        "options": {n: v for n, v in meta["options"].items() if n in stated},
        "open_options": [n for n in meta["options"] if n not in stated],
        "input_size": meta["input_size"], "hidden_size": meta["hidden_size"],
        "dtype": meta["dtype"], "filename": meta["filename"],
        "layers": meta.get("layers", 1), "directions": list(meta.get("directions", ["forward"])),
        "shown": {"layer": meta.get("layer", 0), "direction": "forward"},
        "bytes": meta.get("bytes"),
    }


def accept_weights(store: Store, settings: Settings, source: BinaryIO, filename: str,
                   kind: str | None, layer: int, options: dict) -> dict:
    """Check an uploaded weights file and keep it; returns its record (WeightsPublic)."""
    ext = weights_extension(filename)
    if ext is None:
        raise ApiError("file", f"{filename!r} is not a weights file; upload one of "
                               f"{', '.join(WEIGHT_EXTENSIONS)} (PyTorch pickles are refused: "
                               "save the state dict with safetensors)")
    if kind is not None and kind not in cells.KINDS:
        raise ApiError("cell", f"unknown cell kind {kind!r}; known kinds: {', '.join(cells.KINDS)}")
    try:
        weights_id, path = store.receive_upload(source, filename, ext, settings.max_upload_bytes)
    except UploadTooLarge as exc:
        raise ApiError("file", str(exc), status_code=413) from exc
    try:
        loaded = _read(path, filename, kind, layer)
        stated = sorted(loaded.stated)
        for name, value in options.items():
            check_options(loaded.kind, {name: value}, field=name)
            if name in stated and loaded.options.get(name) != value:
                raise ApiError(name, f"the file {filename!r} states {name} = "
                                     f"{_json(loaded.options[name])}; got {_json(value)} "
                                     f"(leave {name} out to use the file's value)")
        used = {**default_options(loaded.kind),
                **{n: v for n, v in loaded.options.items() if n in stated}, **options}
        cell = _cell(loaded, used, filename)
        if cell.hidden_size > settings.max_hidden_size:
            raise ApiError("file", f"hidden_size {cell.hidden_size} is over the limit of "
                                   f"{settings.max_hidden_size}")
        if cell.input_size > settings.max_input_size:
            raise ApiError("file", f"input_size {cell.input_size} is over the limit of "
                                   f"{settings.max_input_size}")
        # Options given with the upload become the defaults of its sessions ("chosen").
        meta = {"cell": cell.kind, "options": dict(cell.options), "stated": stated,
                "chosen": dict(options), "layer": layer,
                "layers": loaded.layers, "directions": list(loaded.directions),
                "input_size": cell.input_size, "hidden_size": cell.hidden_size,
                "dtype": cell.dtype.name, "filename": filename, "bytes": path.stat().st_size}
        if store.weights_meta(weights_id) is None:
            store.keep_upload(path, weights_id, ext, meta)
        else:  # the same bytes were uploaded before: keep the first copy and description
            store.discard(path)
            meta = store.weights_meta(weights_id)
    except BaseException:
        store.discard(path)
        raise
    store.enforce_budget(settings.max_store_bytes, {weights_id})
    return upload_record(weights_id, meta)


def _read(path: Path, filename: str, kind: str | None, layer: int):
    try:
        return read_weights(path, kind=kind, layer=layer)
    except ValueError as exc:
        field = "cell" if kind is not None and _reads(path, layer) else "file"
        # The copy's name is the upload's, made safe for the file system: say it as given.
        raise ApiError(field, str(exc).replace(path.name, filename)) from exc
    except Exception as exc:  # noqa: BLE001 - parsers of untrusted bytes raise anything
        raise ApiError("file", f"could not read {filename!r} as weights: "
                               f"{type(exc).__name__}: {exc}") from exc


def _cell(loaded, options: dict, filename: str) -> cells.Cell:
    try:
        return cells.create(loaded.kind, params=loaded.params,
                            dtype=loaded.params["weight_hh"].dtype.name, **options)
    except ValueError as exc:
        raise ApiError("options", f"{filename!r}: {exc}") from exc


def _reads(path: Path, layer: int) -> bool:
    """Whether the file reads as its own kind (then the chosen kind is at fault)."""
    try:
        read_weights(path, layer=layer)
    except Exception:  # noqa: BLE001 - the question is only whether it loads at all
        return False
    return True


def _json(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, str) else str(value)
