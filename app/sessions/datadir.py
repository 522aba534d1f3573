"""The data directory: session configs and uploaded weights, shared by every worker process.

    <data_dir>/sessions/<id>.json        one session config (JSON), rewritten on append
    <data_dir>/sessions/<id>.<hash>.npy  its numbers, when the sequence is numbers
    <data_dir>/weights/<sha256><ext>     an uploaded weights file, named by its content
                                         (and the If branch it is read by, when not the first)
    <data_dir>/weights/<sha256>.json     what the upload holds (cell, sizes, file name)
    <data_dir>/weights/<sha256>.refs/    one empty file per session using the upload
    <data_dir>/tmp/                      partial writes, renamed into place when complete
    <data_dir>/locks/                    one lock file per session that was appended to

Every write goes to tmp/ first, is flushed to disk (the file, then its directory) and
renamed with os.replace, so a reader in another process sees the old file or the new one,
never half of one, and a 201 means the data survives a power cut. Nothing here is pickled.
The whole directory is kept under a budget in bytes: uploads no session uses go first
(least recently used first), then the least recently written sessions.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

from app.errors import ApiError, DamagedState, NotFound
from app.sessions.config import SessionConfig
from cells.weights_io import MODEL_SUFFIXES

try:  # POSIX: serialises read-modify-write of one session across processes
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

SESSION_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
WEIGHTS_ID = re.compile(r"[0-9a-f]{64}")
_VALUES_FILE = re.compile(r"[A-Za-z0-9_-]{16,64}\.[0-9a-f]{16}\.npy")
# .weights.h5 is Keras 3's name; plain .h5/.hdf5 files are read the same way.
# What an upload may be (the engine's readers say it); a Keras .weights.h5 keeps its double
# suffix in the stored copy's name, so it is matched first.
WEIGHT_EXTENSIONS = (".weights.h5", *MODEL_SUFFIXES)
# Beside an upload: what was parsed from it on upload, so a cold cache reads that back
# without parsing the original format again. One cell's canonical arrays (cells.save); a
# whole model's parts as the file states them (cells.convert_model: its vocabulary, head
# activation and encoding left open where the file leaves them, so the vocabulary a session
# gives decides them as it would for the original).
PARSED_EXT = ".cell.npz"
PARSED_MODEL_EXT = ".model.safetensors"
PARSED_EXTS = (PARSED_EXT, PARSED_MODEL_EXT)


class DataDirUnusable(Exception):
    """The data directory cannot be created, written or flushed: refused at start."""


# What a write can meet while the server runs: (status, cause). 507 Insufficient Storage when
# space runs out, 503 when the directory cannot be written at all; either way reads go on.
DISK_TROUBLE = {
    errno.ENOSPC: (507, "the disk is full"),
    errno.EDQUOT: (507, "the disk quota is used up"),
    errno.EFBIG: (507, "a file would be larger than the file system allows"),
    errno.EROFS: (503, "the file system is read-only"),
    errno.EACCES: (503, "permission to write there is denied"),
    errno.EPERM: (503, "permission to write there is denied"),
    errno.EIO: (503, "the disk reports an input/output error"),
}


class DiskTrouble(ApiError):
    """A write to the data directory failed for a reason of the disk, not the request: a
    507 or 503 naming the directory and the cause (nothing half-written stays behind)."""

    def __init__(self, root: Path, exc: OSError):
        status, cause = DISK_TROUBLE[exc.errno]
        super().__init__(None, f"the data directory {root} cannot be written: {cause} "
                               f"({exc.strerror}); nothing was saved, and reading existing "
                               f"sessions still works", status_code=status)
        self.cause = cause


def _disk_writes(method):
    """Turn the disk's OSErrors of a Store write into DiskTrouble (others pass through)."""
    @functools.wraps(method)
    def wrapped(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except OSError as exc:
            if exc.errno in DISK_TROUBLE:
                raise DiskTrouble(self.root.resolve(), exc) from exc
            raise
    return wrapped


class Store:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.sessions = self.root / "sessions"
        self.weights = self.root / "weights"
        self.tmp = self.root / "tmp"
        self.locks = self.root / "locks"
        try:
            for d in (self.sessions, self.weights, self.tmp, self.locks):
                d.mkdir(parents=True, exist_ok=True)
            probe = self.tmp / f"probe-{secrets.token_hex(4)}"
            self._write_file(probe, b"gatescope")
            probe.unlink()
        except OSError as exc:
            raise DataDirUnusable(f"the data directory {self.root.resolve()} is not usable: "
                                  f"{exc.strerror or exc}; choose another with --data-dir or "
                                  "GATESCOPE_DATA_DIR") from exc
        self._usage: int | None = None  # bytes, measured on demand, then counted

    # -- sessions -------------------------------------------------------------------------
    @staticmethod
    def new_session_id() -> str:
        return secrets.token_urlsafe(16)

    @staticmethod
    def valid_session_id(session_id: str) -> bool:
        return bool(SESSION_ID.fullmatch(session_id))

    def session_path(self, session_id: str) -> Path | None:
        """The config path, or None when the id cannot be one of ours (no path tricks)."""
        if not SESSION_ID.fullmatch(session_id):
            return None
        return self.sessions / f"{session_id}.json"

    def load_session(self, session_id: str) -> SessionConfig | None:
        """The config; None when there is none; DamagedState when it cannot be read."""
        path = self.session_path(session_id)
        if path is None:
            return None
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise DamagedState("session_id", f"session {session_id!r} cannot be read from the "
                                             f"data directory: {exc.strerror}") from exc
        try:
            return SessionConfig.from_json(json.loads(data))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise DamagedState("session_id", f"session {session_id!r} is damaged: its stored "
                                             "config is not complete JSON; other sessions are "
                                             "not affected") from exc

    def load_values(self, config: SessionConfig) -> np.ndarray:
        """The numbers of a session's sequence, (T, I) float64."""
        if config.inline_values is not None:
            return np.asarray(config.inline_values, np.float64)
        path = self.sessions / str(config.values_file)
        if not _VALUES_FILE.fullmatch(str(config.values_file)):
            raise DamagedState("session_id", f"session {config.id!r} is damaged: it names no "
                                             "file of numbers")
        try:
            values = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise DamagedState("session_id", f"session {config.id!r} is damaged: its numbers "
                                             f"({config.values_file}) cannot be read") from exc
        if values.ndim != 2 or values.dtype != np.float64 or len(values) != config.steps:
            raise DamagedState("session_id", f"session {config.id!r} is damaged: its numbers "
                                             "do not match its config")
        return values

    def session_version(self, session_id: str) -> tuple[int, int] | None:
        """(mtime_ns, size) of the config: a cheap way to notice an append by any process."""
        path = self.session_path(session_id)
        try:
            st = os.stat(path) if path is not None else None
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size) if st else None

    @_disk_writes
    def save_session(self, config: SessionConfig, values: np.ndarray | None = None) -> None:
        """Write the numbers (if any) first, then the config that names them; then drop
        the numbers of the version this one replaces. When the disk refuses any of it,
        what this call wrote is taken back (the previous version stays whole)."""
        if "weights_id" in config.weights:  # first: a used upload is never evicted
            self.add_reference(config.weights["weights_id"], config.id)
        new_values = None
        if values is not None:
            buffer = io.BytesIO()
            np.save(buffer, np.ascontiguousarray(values, np.float64), allow_pickle=False)
            target = self.sessions / str(config.values_file)
            if not target.exists():
                new_values = target
            self._write_atomic(target, buffer.getvalue())
        data = json.dumps(config.to_json(), separators=(",", ":"), allow_nan=False).encode()
        try:
            self._write_atomic(self.sessions / f"{config.id}.json", data)
        except OSError:
            if new_values is not None:
                with contextlib.suppress(OSError):
                    size = new_values.stat().st_size
                    new_values.unlink()
                    self._count(-size)
            raise
        for old in self.sessions.glob(f"{config.id}.*.npy"):
            if old.name != config.values_file:
                with contextlib.suppress(FileNotFoundError):
                    self._count(-old.stat().st_size)
                    old.unlink()

    @contextlib.contextmanager
    def session_lock(self, session_id: str) -> Iterator[None]:
        """An exclusive lock on one existing session across processes (append = read,
        modify, write). Only ids of stored sessions get a lock file."""
        if self.session_version(session_id) is None:
            raise NotFound("session_id", f"no session {session_id!r}")
        if fcntl is None:  # pragma: no cover
            yield
            return
        try:
            handle = open(self.locks / f"{session_id}.lock", "a+b")  # noqa: SIM115 - below
        except OSError as exc:
            if exc.errno in DISK_TROUBLE:
                raise DiskTrouble(self.root.resolve(), exc) from exc
            raise
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def delete_session(self, session_id: str) -> None:
        if not SESSION_ID.fullmatch(session_id):
            return
        config = None
        with contextlib.suppress(DamagedState):
            config = self.load_session(session_id)
        paths = [self.sessions / f"{session_id}.json", self.locks / f"{session_id}.lock",
                 *self.sessions.glob(f"{session_id}.*.npy")]
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                size = path.stat().st_size
                path.unlink()
                self._count(-size)
        if config is not None and "weights_id" in config.weights:
            with contextlib.suppress(FileNotFoundError):
                (self.weights / f"{config.weights['weights_id']}.refs" / session_id).unlink()

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
            self.delete_session(Path(path).stem)
        return excess

    # -- trace start states ----------------------------------------------------------------
    # The state at each segment's start of a session's trace, once a worker has computed the
    # whole trace: another worker asked for a step far into a long session starts from it
    # instead of running every step before. Named after the session (deleted with it) and
    # its content key (an append makes another key, so stale states are never read).
    def starts_path(self, session_id: str, key: str, layer: int, direction: str) -> Path:
        return self.sessions / f"{session_id}.starts-{key}-{layer}-{direction}.npy"

    def load_starts(self, path: Path) -> np.ndarray | None:
        """The states written there, or None (absent, or unreadable: the caller computes)."""
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            return None

    def save_starts(self, path: Path, states: np.ndarray) -> None:
        """Keep the states for other workers; a disk in trouble only costs them the shortcut."""
        if not path.with_name(path.name.split(".", 1)[0] + ".json").exists():
            return  # the session is gone
        buffer = io.BytesIO()
        np.save(buffer, states, allow_pickle=False)
        with contextlib.suppress(OSError):
            self._write_atomic(path, buffer.getvalue())

    # -- the budget ------------------------------------------------------------------------
    def usage(self) -> int:
        """Bytes held by sessions and uploads (measured once, then counted as written)."""
        if self._usage is None:
            total = 0
            for folder in (self.sessions, self.weights):
                for dirpath, _, files in os.walk(folder):
                    for name in files:
                        with contextlib.suppress(FileNotFoundError):
                            total += os.stat(os.path.join(dirpath, name)).st_size
            self._usage = total
        return self._usage

    def _count(self, delta: int) -> None:
        if self._usage is not None:
            self._usage += delta

    def enforce_budget(self, max_bytes: int, keep: set[str] = frozenset()) -> int:
        """Evict until the directory holds at most `max_bytes`: unreferenced uploads (least
        recently used first), then the oldest sessions. `keep`: ids (sessions or uploads)
        that must stay (the one just written). Returns the bytes freed."""
        if self.usage() <= max_bytes:
            return 0
        self._usage = None  # other processes write too: measure again before deciding
        if self.usage() <= max_bytes:
            return 0
        before = self.usage()
        for weights_id in self._unreferenced_uploads():
            if self.usage() <= max_bytes:
                return before - self.usage()
            if weights_id not in keep:
                self.delete_upload(weights_id)
        sessions = []
        with os.scandir(self.sessions) as it:
            for entry in it:
                if entry.name.endswith(".json"):
                    with contextlib.suppress(FileNotFoundError):
                        sessions.append((entry.stat().st_mtime_ns, entry.name[:-5]))
        for _, session_id in sorted(sessions):
            if self.usage() <= max_bytes:
                break
            if session_id not in keep:
                self.delete_session(session_id)
        for weights_id in self._unreferenced_uploads():
            if self.usage() <= max_bytes:
                break
            if weights_id not in keep:
                self.delete_upload(weights_id)
        return before - self.usage()

    def _unreferenced_uploads(self) -> list[str]:
        """Upload ids that no session uses, least recently used first."""
        found = []
        for meta in self.weights.glob("*.json"):
            weights_id = meta.stem
            refs = self.weights / f"{weights_id}.refs"
            if refs.is_dir() and any(refs.iterdir()):
                continue
            with contextlib.suppress(FileNotFoundError):
                found.append((meta.stat().st_mtime_ns, weights_id))
        return [w for _, w in sorted(found)]

    # -- start-up --------------------------------------------------------------------------
    def clean(self, min_age_seconds: float = 600.0) -> int:
        """Remove what a crash leaves behind: partial writes in tmp/, uploads without their
        description (or the reverse), numbers and locks of sessions that are gone. Only
        files older than `min_age_seconds`, so another live worker's writes stay."""
        cutoff = time.time() - min_age_seconds
        removed = 0

        def old(path: Path) -> bool:
            try:
                return path.stat().st_mtime < cutoff
            except FileNotFoundError:
                return False

        for path in list(self.tmp.iterdir()):
            if old(path):
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
                removed += 1
        for path in list(self.weights.iterdir()):
            name = path.name
            if name.endswith(".part") and old(path):
                path.unlink(missing_ok=True)
                removed += 1
            elif name.endswith(".json"):
                meta = self.weights_meta(name[:-5])
                if (meta is None or not (self.weights / f"{name[:-5]}{meta.get('ext')}").exists()) \
                        and old(path):
                    self.delete_upload(name[:-5])
                    removed += 1
            elif WEIGHTS_ID.fullmatch(name[:64]) and not name.endswith(".refs") \
                    and not (self.weights / f"{name[:64]}.json").exists() and old(path):
                path.unlink(missing_ok=True)
                removed += 1
        for path in list(self.sessions.iterdir()):
            if path.name.endswith(".part") and old(path):
                path.unlink(missing_ok=True)
                removed += 1
            elif path.name.endswith(".npy"):
                session_id = path.name.split(".", 1)[0]
                config_path = self.sessions / f"{session_id}.json"
                if not config_path.exists() and old(path):
                    path.unlink(missing_ok=True)
                    removed += 1
        for path in list(self.locks.iterdir()):
            if not (self.sessions / f"{path.stem}.json").exists() and old(path):
                path.unlink(missing_ok=True)
                removed += 1
        self._usage = None
        return removed

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
        except (OSError, ValueError) as exc:
            raise DamagedState("weights_id", f"the description of upload {weights_id} is "
                                             "damaged; upload the file again") from exc

    def parsed_path(self, weights_id: str, ext: str = PARSED_EXT) -> Path | None:
        """What was parsed from an upload (`ext`: one of PARSED_EXTS), if kept (uploads
        before they were have none)."""
        if not WEIGHTS_ID.fullmatch(weights_id):
            return None
        path = self.weights / f"{weights_id}{ext}"
        return path if path.exists() else None

    @_disk_writes
    def add_reference(self, weights_id: str, session_id: str) -> None:
        """Mark the upload as used by a session (and as recently used)."""
        if not WEIGHTS_ID.fullmatch(weights_id):
            return
        refs = self.weights / f"{weights_id}.refs"
        refs.mkdir(exist_ok=True)
        (refs / session_id).touch()
        with contextlib.suppress(FileNotFoundError):
            os.utime(self.weights / f"{weights_id}.json")

    def delete_upload(self, weights_id: str) -> None:
        meta = None
        with contextlib.suppress(DamagedState):
            meta = self.weights_meta(weights_id)
        paths = [self.weights / f"{weights_id}{ext}" for ext in (".json", *PARSED_EXTS)]
        if meta is not None and meta.get("ext") in WEIGHT_EXTENSIONS:
            paths.append(self.weights / f"{weights_id}{meta['ext']}")
        else:
            paths += [self.weights / f"{weights_id}{ext}" for ext in WEIGHT_EXTENSIONS]
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                size = path.stat().st_size
                path.unlink()
                self._count(-size)
        shutil.rmtree(self.weights / f"{weights_id}.refs", ignore_errors=True)

    @_disk_writes
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
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            self.discard(path)
            raise
        return digest.hexdigest(), path

    @_disk_writes
    def keep_upload(self, tmp_path: Path, weights_id: str, ext: str, meta: dict,
                    parsed: tuple[Path, ...] = ()) -> None:
        """Move a checked upload (and what was parsed from it, if any) into place. When its
        description cannot be written, what this call moved in goes again."""
        described = (self.weights / f"{weights_id}.json").exists()
        self.keep_parsed(weights_id, parsed)
        target = self.weights / f"{weights_id}{ext}"
        os.replace(tmp_path, target)
        self._count(target.stat().st_size)
        with contextlib.suppress(OSError):
            os.rmdir(tmp_path.parent)
        data = json.dumps({**meta, "ext": ext}, separators=(",", ":")).encode()
        try:
            self._write_atomic(self.weights / f"{weights_id}.json", data)  # flushes the folder
        except OSError:
            if not described:
                for moved in (target, *(self.weights / f"{weights_id}{parsed_ext(p)}"
                                        for p in parsed)):
                    with contextlib.suppress(OSError):
                        size = moved.stat().st_size
                        moved.unlink()
                        self._count(-size)
            raise

    def keep_parsed(self, weights_id: str, parsed: tuple[Path, ...]) -> None:
        """Move what was parsed from an upload into place (before its description, so a
        described upload has it), each file under its kind's suffix (PARSED_EXTS)."""
        for path in parsed:
            target = self.weights / f"{weights_id}{parsed_ext(path)}"
            os.replace(path, target)
            self._count(target.stat().st_size)

    @_disk_writes
    def update_upload_meta(self, weights_id: str, meta: dict) -> None:
        """Rewrite the description of a kept upload (a model's vocabulary given again)."""
        old = self.weights_meta(weights_id)
        if old is None:
            return
        data = json.dumps({**meta, "ext": old["ext"]}, separators=(",", ":")).encode()
        self._write_atomic(self.weights / f"{weights_id}.json", data)

    def discard(self, tmp_path: Path) -> None:
        """Remove an upload copy (and its private folder) that was not kept."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_path)
        with contextlib.suppress(OSError):
            os.rmdir(tmp_path.parent)

    # -- helpers ---------------------------------------------------------------------------
    @_disk_writes
    def write_atomic(self, path: Path, data: bytes) -> None:
        """`_write_atomic` for other parts of the server (training records): disk trouble
        as DiskTrouble."""
        self._write_atomic(path, data)

    def _write_atomic(self, path: Path, data: bytes) -> None:
        """Write to tmp/, flush the bytes to disk, rename into place, flush the folder."""
        fd, name = tempfile.mkstemp(dir=self.tmp, suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            old = path.stat().st_size if path.exists() else 0
            os.replace(name, path)
            _fsync_directory(path.parent)
            self._count(len(data) - old)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)
            raise

    @staticmethod
    def _write_file(path: Path, data: bytes) -> None:
        with open(path, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        _fsync_directory(path.parent)


def _fsync_directory(folder: Path) -> None:
    """A rename is durable only once its directory is flushed too (POSIX)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory handles
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse fsync on directories
        pass
    finally:
        os.close(fd)


class UploadTooLarge(Exception):
    def __init__(self, limit: int):
        super().__init__(f"upload is larger than the limit of {limit} bytes")
        self.limit = limit


def parsed_ext(path: Path) -> str:
    """Which of PARSED_EXTS a parsed file is (by how its name ends)."""
    for ext in PARSED_EXTS:
        if path.name.endswith(ext):
            return ext
    raise ValueError(f"{path.name} is not a parsed upload file ({', '.join(PARSED_EXTS)})")


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
