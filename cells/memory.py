"""Large arrays the engine fills once (trace rows, a model's layer outputs), in ordinary pages.

NumPy asks the kernel for transparent huge pages (madvise) for every allocation from 4 MiB
on. Where the kernel then compacts memory to find 2 MiB pages on the first touch (Linux's
default, defrag=madvise), a machine whose memory is fragmented stalls there: the 450 MB of
trace rows of bench/model.py's GRU took from 0.04 s to 3.6 s of system time per run on a
shared machine, against a steady 0.25 s in ordinary pages. An anonymous mapping makes no
such request (the kernel still uses huge pages where its policy gives them without a
stall), so a run costs the same every time. Freed when the last view of it goes.
"""

from __future__ import annotations

import mmap

import numpy as np

SMALL_BYTES = 4 * 2**20  # below this NumPy makes no huge-page request: plain np.empty


def empty(shape, dtype) -> np.ndarray:
    """An uninitialised C-contiguous array of `shape` and `dtype` (writable)."""
    dtype = np.dtype(dtype)
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    count = int(np.prod(shape, dtype=np.int64))
    nbytes = count * dtype.itemsize
    if nbytes < SMALL_BYTES:
        return np.empty(shape, dtype)
    return np.frombuffer(mmap.mmap(-1, nbytes), dtype, count).reshape(shape)
