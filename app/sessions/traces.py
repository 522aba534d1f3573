"""A trace shared between threads and connections.

The engine's `Trace` is not thread-safe: reading a window moves its chunk LRU (and may
recompute an evicted chunk), and `extend` rewrites its tail. The HTTP routes run in a
thread pool while the WebSocket handlers read on the event loop, so every access to one
trace goes through its lock. The event loop never waits on that lock: `try_frame` gives
up at once and the caller reads in a worker thread instead.
"""

from __future__ import annotations

import threading

import numpy as np

import cells

# Traces above this size may have evicted chunks (the engine keeps about 128 MiB of rows
# resident); reading one of those can recompute a chunk, so it happens off the event loop.
INLINE_READ_BYTES = 64 * 2**20


class SharedTrace:
    def __init__(self, trace: cells.Trace):
        self._trace = trace
        self._lock = threading.Lock()
        cell = trace.cell
        self.names: tuple[str, ...] = trace.names
        self.dtype = cell.dtype
        self.widths = tuple(cell.input_size if s.size == "input" else cell.hidden_size
                            for s in cell.signals)  # numbers per signal, in names order
        self.row_bytes = sum(self.widths) * cell.dtype.itemsize
        self._measure()

    def _measure(self) -> None:
        self.steps = len(self._trace)
        self.nbytes = self._trace.nbytes  # measured after building and after each extend

    @property
    def reads_inline(self) -> bool:
        """Whether a one-step read is cheap enough for the event loop."""
        return self.steps * self.row_bytes <= INLINE_READ_BYTES

    def frame(self, t: int) -> dict[str, np.ndarray]:
        with self._lock:
            return self._trace.frame(t)

    def try_frame(self, t: int) -> dict[str, np.ndarray] | None:
        """The frame, or None when another thread holds the trace (extending it)."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            return self._trace.frame(t)
        finally:
            self._lock.release()

    def window(self, start: int, stop: int, names=None) -> dict[str, np.ndarray]:
        with self._lock:
            return self._trace.window(start, stop, names)

    def extend(self, xs: np.ndarray) -> None:
        with self._lock:
            self._trace.extend(xs)
            self._measure()
