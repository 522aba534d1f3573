"""A trace: every signal of every step of one run, stored in chunks with state checkpoints.

Steps are computed in chunks of CHUNK steps aligned at multiples of CHUNK; the state at the
start of every chunk is kept. While the whole trace fits `full_bytes` every chunk stays in
memory; past that only the `cache_chunks` most recently used stay, and any window is
recomputed from its chunk's checkpoint. Because a chunk is always computed from the same
rows in the same way (one input-projection matmul per chunk, the same held signals), a
recomputed window is bit-for-bit the rows of the first computation.

The backward pass (cells.gradients) walks the chunks from the last checkpoint to the first,
recomputing once each chunk that is no longer in memory.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from . import gradients, memory
from .interventions import holds_for
from .signals import chosen_names

CHUNK = 1024
FULL_BYTES = 128 * 2**20
CACHE_CHUNKS = 4
# Chunks computed in one go share allocations of at least this size (fewer mappings to make
# and to fault in); they are made by cells.memory, in ordinary pages (see there why).
SLAB_BYTES = 4 * 2**20


class Trace:
    def __init__(self, cell, xs: np.ndarray, state0: tuple, *, interventions: tuple = (),
                 full_bytes: int = FULL_BYTES, cache_chunks: int = CACHE_CHUNKS,
                 on_chunk=None, parallel: bool = False):
        """`on_chunk(start, stop, rows)`, if given, sees the (stop − start, W) rows of every
        chunk as it is computed: a caller reads what it needs (a model its h) while the
        chunk is at hand, so nothing evicted from a long trace is computed twice."""
        self.cell = cell
        self.interventions = tuple(interventions)  # checked Intervention records
        self.parallel = parallel  # chunks computed by the kind's parallel scan
        self._full_bytes = full_bytes
        self._cache_chunks = max(1, cache_chunks)
        self._xs_buf = xs  # rows beyond len(self) are spare capacity for extend()
        self._len = 0
        self._checkpoints: list[tuple] = [state0]  # state before chunk k
        self._chunks: OrderedDict[int, np.ndarray] = OrderedDict()
        self._append_rows(len(xs), on_chunk)

    # -- reading -----------------------------------------------------------------------
    def __len__(self) -> int:
        return self._len

    @property
    def names(self) -> tuple[str, ...]:
        return self.cell.names

    @property
    def xs(self) -> np.ndarray:
        return self._xs_buf[:self._len]

    @property
    def final_state(self) -> dict:
        return dict(zip(self.cell.state_names, (a.copy() for a in self._checkpoints[-1]),
                        strict=True))

    @property
    def nbytes(self) -> int:
        # a chunk computed with others is a view into their shared allocation: count each once
        held = {id(b.base if b.base is not None else b): (b.base if b.base is not None else b)
                for b in self._chunks.values()}
        chunks = sum(a.nbytes for a in held.values())
        checkpoints = sum(a.nbytes for st in self._checkpoints for a in st)
        return int(self._xs_buf.nbytes + chunks + checkpoints)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.window(0, self._len, names=(name,))[name]

    def backward(self, grad: dict) -> gradients.Gradients:
        """Gradients of a scalar loss given dL/d(recorded h) and/or dL/d(recorded c) per step,
        {"h": (T, H), "c": (T, H)}: for every parameter, the inputs and the initial state.
        Held signals are constants."""
        return gradients.backward(self, grad)

    def sensitivity(self, t: int, unit: int, of: str = "h", window: int = 256) -> dict:
        """‖∂ of_t[unit] / ∂v_s‖₂ for v = x, h, c and s in [max(0, t − window + 1), t]:
        {"start", "x", "h", "c"}, each (t − start + 1,); "c" is None for kinds without c."""
        return gradients.sensitivity(self, t, unit, of, window)

    def __contains__(self, name: str) -> bool:
        return name in self.names

    def frame(self, t: int) -> dict[str, np.ndarray]:
        """Every signal at step t: name -> (n,)."""
        return {k: v[0] for k, v in self.window(t, t + 1).items()}

    def window(self, start: int, stop: int, names=None) -> dict[str, np.ndarray]:
        """Signals for steps [start, stop): name -> (stop - start, n), fresh arrays."""
        start, stop = self._check_range(start, stop)
        names = chosen_names(names, self.cell.names, self.cell.kind)
        stored = self._columns(start, stop, [n for n in names
                                             if n != "x" and not n.endswith("_prev")])
        out = {}
        for name in names:
            if name == "x":
                out[name] = self.xs[start:stop].copy()
            elif name.endswith("_prev"):
                out[name] = self._previous(name[:-5], start, stop)
            else:
                out[name] = stored[name]
        return out

    # -- walking (the backward pass, cells.gradients) ---------------------------------
    def chunks_backward(self):
        """(start, stop, rows, state before start) of every chunk, from the last to the
        first: the rows as computed (the kind's row layout), each chunk that is no longer in
        memory recomputed once and not stored (a backward pass reads each once)."""
        for k in range((self._len - 1) // CHUNK, -1, -1):
            yield (k * CHUNK, min((k + 1) * CHUNK, self._len), self._chunk_once(k),
                   self._checkpoints[k])

    def rows(self, start: int, stop: int) -> np.ndarray:
        """The computed rows of steps [start, stop), in the kind's row layout."""
        start, stop = self._check_range(start, stop)
        return self._rows(start, stop)

    def state_before(self, s: int) -> tuple:
        """The state tuple the cell held before step s (the start state for s = 0)."""
        if s % CHUNK == 0:
            return self._checkpoints[s // CHUNK]
        H, row = self.cell.hidden_size, self._rows(s - 1, s)[0]
        return tuple(row[self.cell.column(n) * H:(self.cell.column(n) + 1) * H].copy()
                     for n in self.cell.state_names)

    @property
    def state0(self) -> tuple:
        """The state the run started from."""
        return self._checkpoints[0]

    # -- growing -----------------------------------------------------------------------
    def extend(self, xs_more) -> Trace:
        """Append steps and continue from the final state. Only the last, partial chunk is
        recomputed (at most CHUNK − 1 steps), so that the result equals a fresh run."""
        more = self.cell.check_inputs(xs_more)
        n_old = self._len
        needed = n_old + len(more)
        if needed > len(self._xs_buf):
            grown = np.empty((max(needed, 2 * len(self._xs_buf)), self.cell.input_size),
                             self.cell.dtype)
            grown[:n_old] = self.xs
            self._xs_buf = grown
        self._xs_buf[n_old:needed] = more
        k0 = n_old // CHUNK
        del self._checkpoints[k0 + 1:]
        for k in [k for k in self._chunks if k >= k0]:
            del self._chunks[k]
        self._len = k0 * CHUNK
        self._append_rows(needed - self._len)
        return self

    # -- internals ---------------------------------------------------------------------
    def _append_rows(self, n: int, on_chunk=None) -> None:
        """Compute chunks for rows [len, len + n); self._len is at a chunk boundary."""
        end = self._len + n
        slab, used = None, 0
        while self._len < end:
            k = self._len // CHUNK
            stop = min((k + 1) * CHUNK, end)
            if slab is None or used == len(slab):
                slab, used = self._new_slab(end - self._len), 0
            out = slab[used:used + stop - self._len]
            used += len(out)
            buf, state = self._compute(k, stop, out)
            self._checkpoints.append(tuple(a.copy() for a in state))
            if on_chunk is not None:
                on_chunk(self._len, stop, buf)
            self._len = stop
            self._store(k, buf)

    def _new_slab(self, rows_left: int) -> np.ndarray:
        """Rows for the next whole chunks, at least SLAB_BYTES of them where there are."""
        width, dtype = self.cell.row_width, self.cell.dtype
        rows = -(-SLAB_BYTES // (width * dtype.itemsize))
        rows = max(1, -(-rows // CHUNK)) * CHUNK  # whole chunks
        return memory.empty((min(rows, rows_left), width), dtype)

    def _compute(self, k: int, stop: int, out: np.ndarray | None = None):
        a = k * CHUNK
        return self.cell.compute_chunk(self._xs_buf[a:stop], self._checkpoints[k],
                                       holds_for(self.interventions, a, stop), out,
                                       parallel=self.parallel)

    def _chunk_once(self, k: int) -> np.ndarray:
        """Chunk k's rows without storing a recomputation (the backward pass reads each once)."""
        buf = self._chunks.get(k)
        if buf is None:
            buf, _ = self._compute(k, min((k + 1) * CHUNK, self._len))
        return buf

    def _store(self, k: int, buf: np.ndarray) -> None:
        self._chunks[k] = buf
        self._chunks.move_to_end(k)
        total = sum(b.nbytes for b in self._chunks.values())
        if total > self._full_bytes:
            while len(self._chunks) > self._cache_chunks:
                self._chunks.popitem(last=False)

    def _chunk(self, k: int) -> np.ndarray:
        buf = self._chunks.get(k)
        if buf is None:
            buf, _ = self._compute(k, min((k + 1) * CHUNK, self._len))
            self._store(k, buf)
        else:
            self._chunks.move_to_end(k)
        return buf

    def _columns(self, start: int, stop: int, names) -> dict[str, np.ndarray]:
        """Stored signals for steps [start, stop): name -> (stop − start, H), fresh arrays,
        copied chunk by chunk (a long window never joins whole rows first)."""
        H, dtype = self.cell.hidden_size, self.cell.dtype
        out = {name: memory.empty((stop - start, H), dtype) for name in names}
        if not out or stop == start:
            return out
        columns = [(out[name], self.cell.column(name) * H) for name in out]
        for k in range(start // CHUNK, (stop - 1) // CHUNK + 1):
            lo, hi = max(start, k * CHUNK), min(stop, (k + 1) * CHUNK)
            rows = self._chunk(k)[lo - k * CHUNK:hi - k * CHUNK]
            for target, a in columns:
                target[lo - start:hi - start] = rows[:, a:a + H]
        return out

    def _rows(self, start: int, stop: int) -> np.ndarray:
        pieces = []
        for k in range(start // CHUNK, (stop - 1) // CHUNK + 1):
            lo, hi = max(start, k * CHUNK) - k * CHUNK, min(stop, (k + 1) * CHUNK) - k * CHUNK
            pieces.append(self._chunk(k)[lo:hi])
        return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)

    def _previous(self, state_name: str, start: int, stop: int) -> np.ndarray:
        """x_prev rows for [start, stop) are the state's rows for [start − 1, stop − 1)."""
        index = self.cell.state_names.index(state_name)
        if stop == start:
            return np.empty((0, self.cell.hidden_size), self.cell.dtype)
        if start > 0:
            return self._columns(start - 1, stop - 1, [state_name])[state_name]
        out = memory.empty((stop, self.cell.hidden_size), self.cell.dtype)
        out[0] = self._checkpoints[0][index]
        out[1:] = self._columns(0, stop - 1, [state_name])[state_name]
        return out

    def _check_range(self, start, stop) -> tuple[int, int]:
        for what, v in (("start", start), ("stop", stop)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise ValueError(f"{what} must be an integer, got {v!r}")
        if not 0 <= start <= stop <= self._len:
            raise ValueError(f"window [{start}, {stop}) is outside the trace of {self._len} steps")
        return int(start), int(stop)
