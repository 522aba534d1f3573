"""Writing a trained model so that a reader never sees half of it."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import cells


def save_model_atomic(model: cells.Model, path: str | os.PathLike) -> Path:
    """cells.save_model to a temporary file beside `path`, flushed, then renamed over it:
    an interrupted write leaves the old file (or none), never a truncated one."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    fd, name = tempfile.mkstemp(dir=folder, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    try:
        cells.save_model(model, name)
        with open(name, "rb") as written:
            os.fsync(written.fileno())
        os.replace(name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)
        raise
    with contextlib.suppress(OSError):  # the rename is durable once the folder is flushed
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return path
