"""The data directory: session configs and uploaded weights, shared by every worker process.

    <data_dir>/sessions/<id>.json        one session config (JSON), rewritten on append
    <data_dir>/weights/<sha256><ext>     an uploaded weights file, named by its content
    <data_dir>/weights/<sha256>.json     what the upload holds (cell, sizes), for sessions
    <data_dir>/tmp/                      partial writes, renamed into place when complete

Every write goes to tmp/ first and is renamed with os.replace, so a reader in another
process sees the old file or the new one, never half of one. Nothing here is pickled.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

try:  # POSIX: serialises read-modify-write of one session across processes
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

SESSION_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
WEIGHTS_ID = re.compile(r"[0-9a-f]{64}")
# .weights.h5 is Keras 3's name; plain .h5/.hdf5 files are read the same way.
WEIGHT_EXTENSIONS = (".safetensors", ".npz", ".onnx", ".weights.h5", ".h5", ".hdf5")


class Store:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.sessions = self.root / "sessions"
        self.weights = self.root / "weights"
        self.tmp = self.root / "tmp"
        self.locks = self.root / "locks"
        for d in (self.sessions, self.weights, self.tmp, self.locks):
            d.mkdir(parents=True, exist_ok=True)

    # -- sessions -------------------------------------------------------------------------
    @staticmethod
    def new_session_id() -> str:
        return secrets.token_urlsafe(16)

    def session_path(self, session_id: str) -> Path | None:
        """The config path, or None when the id cannot be one of ours (no path tricks)."""
        if not SESSION_ID.fullmatch(session_id):
            return None
        return self.sessions / f"{session_id}.json"

    def load_session(self, session_id: str) -> dict | None:
        path = self.session_path(session_id)
        if path is None:
            return None
        try:
            return json.loads(path.read_bytes())
        except FileNotFoundError:
            return None

    def session_version(self, session_id: str) -> tuple[int, int] | None:
        """(mtime_ns, size) of the config: a cheap way to notice an append by any process."""
        path = self.session_path(session_id)
        try:
            st = os.stat(path) if path is not None else None
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size) if st else None

    def save_session(self, config: dict) -> None:
        data = json.dumps(config, separators=(",", ":"), allow_nan=False).encode()
        self._write_atomic(self.sessions / f"{config['id']}.json", data)

    @contextlib.contextmanager
    def session_lock(self, session_id: str) -> Iterator[None]:
        """An exclusive lock on one session across processes (append = read, modify, write)."""
        if fcntl is None:  # pragma: no cover
            yield
            return
        with open(self.locks / f"{session_id}.lock", "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def evict_sessions(self, keep: int) -> int:
        """Delete the least recently written configs beyond `keep`; returns how many went."""
        with os.scandir(self.sessions) as it:
            found = [entry for entry in it if entry.name.endswith(".json")]
        excess = len(found) - keep
        if excess <= 0:  # the common case costs one directory listing, no stat calls
            return 0
        entries = []
        for entry in found:
            with contextlib.suppress(FileNotFoundError):
                entries.append((entry.stat().st_mtime_ns, entry.path))
        entries.sort()
        for _, path in entries[:excess]:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            lock = self.locks / (Path(path).stem + ".lock")
            with contextlib.suppress(FileNotFoundError):
                os.unlink(lock)
        return excess

    # -- weights ---------------------------------------------------------------------------
    def weights_path(self, weights_id: str) -> Path | None:
        meta = self.weights_meta(weights_id)
        if meta is None:
            return None
        path = self.weights / f"{weights_id}{meta['ext']}"
        return path if path.exists() else None

    def weights_meta(self, weights_id: str) -> dict | None:
        if not WEIGHTS_ID.fullmatch(weights_id):
            return None
        try:
            return json.loads((self.weights / f"{weights_id}.json").read_bytes())
        except FileNotFoundError:
            return None

    def receive_upload(self, source: BinaryIO, filename: str, ext: str, limit: int,
                       chunk_size: int = 1 << 20) -> tuple[str, Path]:
        """Copy an upload into tmp/ while hashing it: (sha256, path of the copy).

        The copy keeps the (sanitised) client file name, so that the engine's messages
        about the file name the user's file. Raises UploadTooLarge past `limit` bytes (the
        request middleware has usually refused such a body already).
        """
        digest = hashlib.sha256()
        folder = Path(tempfile.mkdtemp(dir=self.tmp, prefix="upload-"))
        path = folder / _safe_name(filename, ext)
        size = 0
        try:
            with open(path, "wb") as out:
                while chunk := source.read(chunk_size):
                    size += len(chunk)
                    if size > limit:
                        raise UploadTooLarge(limit)
                    digest.update(chunk)
                    out.write(chunk)
        except BaseException:
            self.discard(path)
            raise
        return digest.hexdigest(), path

    def keep_upload(self, tmp_path: Path, weights_id: str, ext: str, meta: dict) -> None:
        """Move a checked upload into place; an identical file already there is kept."""
        os.replace(tmp_path, self.weights / f"{weights_id}{ext}")
        with contextlib.suppress(OSError):
            os.rmdir(tmp_path.parent)
        data = json.dumps({**meta, "ext": ext}, separators=(",", ":")).encode()
        self._write_atomic(self.weights / f"{weights_id}.json", data)

    def discard(self, tmp_path: Path) -> None:
        """Remove an upload copy (and its private folder) that was not kept."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_path)
        with contextlib.suppress(OSError):
            os.rmdir(tmp_path.parent)

    # -- helpers ---------------------------------------------------------------------------
    def _write_atomic(self, path: Path, data: bytes) -> None:
        fd, name = tempfile.mkstemp(dir=self.tmp, suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(name, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)
            raise


class UploadTooLarge(Exception):
    def __init__(self, limit: int):
        super().__init__(f"upload is larger than the limit of {limit} bytes")
        self.limit = limit


def weights_extension(filename: str) -> str | None:
    """The stored extension for an uploaded file name, or None if it is not a weights file."""
    lower = filename.lower()
    for ext in WEIGHT_EXTENSIONS:
        if lower.endswith(ext):
            return ext
    return None


def _safe_name(filename: str, ext: str) -> str:
    """The base name with only [A-Za-z0-9._-], at most 100 characters, ending in `ext`."""
    base = re.sub(r"[^A-Za-z0-9._-]", "_", filename.replace("\\", "/").rsplit("/", 1)[-1])
    stem = base[: len(base) - len(ext)] if base.lower().endswith(ext) else base
    stem = stem.strip(".")[-80:] or "upload"
    return stem + ext
