"""Large arrays the engine fills once (trace rows, a model's layer outputs), in ordinary pages,
with the mappings of arrays no longer used kept for the next ones.

NumPy asks the kernel for transparent huge pages (madvise) for every allocation from 4 MiB
on. Where the kernel then has to find fresh 2 MiB pages on the first touch, a shared
machine stalls there: the 450 MB of trace rows of bench/model.py's GRU took from 0.04 s to
3.6 s of system time per run, against a steady 0.25 s in ordinary pages. An anonymous
mapping makes no such request (the kernel still uses huge pages where its policy gives them
without asking), so a run costs the same every time.

Touching fresh pages still costs the kernel a fault and a page of zeros per 4 KiB. So when
the last view of an array goes, its mapping (already faulted in) is kept, up to POOL_BYTES
in all, and the next array of the same size reuses it: a model run over the same lengths
as the one before touches no new page. Reuse is safe because every view of an array keeps
that array alive: its mapping comes back only when nothing can read or write it any more.
"""

from __future__ import annotations

import mmap
import threading
import weakref

import numpy as np

SMALL_BYTES = 4 * 2**20  # below this NumPy makes no huge-page request: plain np.empty
POOL_BYTES = 256 * 2**20  # mappings kept for reuse, at most (the oldest go first)

_lock = threading.Lock()
_pool: dict[int, list[mmap.mmap]] = {}  # size in bytes -> unused mappings of that size
_order: list[mmap.mmap] = []  # every pooled mapping, oldest first
_pooled = [0]  # bytes in the pool


def empty(shape, dtype) -> np.ndarray:
    """An uninitialised C-contiguous array of `shape` and `dtype` (writable)."""
    dtype = np.dtype(dtype)
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    count = int(np.prod(shape, dtype=np.int64))
    nbytes = count * dtype.itemsize
    if nbytes < SMALL_BYTES:
        return np.empty(shape, dtype)
    mapping = _take(nbytes) or mmap.mmap(-1, nbytes)
    flat = np.frombuffer(mapping, dtype, count)
    weakref.finalize(flat, _give, mapping).atexit = False
    return flat.reshape(shape)


def _take(nbytes: int) -> mmap.mmap | None:
    with _lock:
        free = _pool.get(nbytes)
        if not free:
            return None
        mapping = free.pop()
        _order.remove(mapping)
        _pooled[0] -= nbytes
        return mapping


def _give(mapping: mmap.mmap) -> None:
    """Called when the array over `mapping` is gone. Never waits: a finalizer may run in
    the middle of _take on the same thread, and then the mapping is simply let go."""
    size = len(mapping)
    if size > POOL_BYTES or not _lock.acquire(blocking=False):
        return
    try:
        while _order and _pooled[0] + size > POOL_BYTES:
            old = _order.pop(0)
            _pool[len(old)].remove(old)
            _pooled[0] -= len(old)
        _pool.setdefault(size, []).append(mapping)
        _order.append(mapping)
        _pooled[0] += size
    finally:
        _lock.release()
