"""Uploaded weights: hash while copying, parse with the engine (never unpickle), keep by sha256."""

from __future__ import annotations

from typing import BinaryIO

import cells
from app.api.errors import ApiError
from app.core.settings import Settings
from app.sessions.datadir import WEIGHT_EXTENSIONS, Store, UploadTooLarge, weights_extension


def accept_weights(store: Store, settings: Settings, source: BinaryIO, filename: str,
                   kind: str | None, layer: int, options: dict) -> dict:
    """Check an uploaded weights file and keep it; returns what it holds (WeightsPublic)."""
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
        cell = _load(path, kind, layer, options)
        if cell.hidden_size > settings.max_hidden_size:
            raise ApiError("file", f"hidden_size {cell.hidden_size} is over the limit of "
                                   f"{settings.max_hidden_size}")
        if cell.input_size > settings.max_input_size:
            raise ApiError("file", f"input_size {cell.input_size} is over the limit of "
                                   f"{settings.max_input_size}")
        meta = {"cell": cell.kind, "options": dict(cell.options), "layer": layer,
                "input_size": cell.input_size, "hidden_size": cell.hidden_size,
                "dtype": cell.dtype.name, "filename": filename}
        if store.weights_meta(weights_id) is None:
            store.keep_upload(path, weights_id, ext, meta)
        else:  # the same bytes were uploaded before: keep the first copy and description
            store.discard(path)
    except BaseException:
        store.discard(path)
        raise
    return {"weights_id": weights_id, **meta}


def _load(path, kind: str | None, layer: int, options: dict) -> cells.Cell:
    try:
        return cells.load(path, kind=kind, layer=layer, **options)
    except ValueError as exc:
        raise ApiError(_culprit(path, kind, layer, options), str(exc)) from exc
    except Exception as exc:  # noqa: BLE001 - parsers of untrusted bytes raise anything
        raise ApiError("file", f"could not read {path.name} as weights: "
                               f"{type(exc).__name__}: {exc}") from exc


def _culprit(path, kind: str | None, layer: int, options: dict) -> str:
    """Which field to blame: the options if the file loads without them, else the cell kind
    if it loads as its own kind, else the file itself."""
    attempts = []
    if options:
        attempts.append(("options", kind))
    if kind is not None:
        attempts.append(("cell", None))
    for field, as_kind in attempts:
        try:
            cells.load(path, kind=as_kind, layer=layer)
        except Exception:  # noqa: BLE001 - the question is only whether it loads at all
            continue
        return field
    return "file"
