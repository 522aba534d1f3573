"""A session's trace, computed progressively in segments and shared between threads.

The engine's `Trace` keeps every signal of a run in chunks of `CHUNK` steps with the state
at each chunk's start. Here a session's trace is a row of engine traces, *segments*, each
started from the state at its first step and sized to stay whole in memory. Segments
start at multiples of `CHUNK`, so every chunk is computed from the same rows in the same
way as in one long run: a window is bit-for-bit the rows of `cell.run(all inputs)`.

- The first window is computed at once; the rest in the background, a few chunks per job
  on the compute pool (app/sessions/compute.py), so many sessions share it fairly; it
  stops when nobody has asked for the trace for a while and resumes on the next ask.
- The state at every segment's start is always kept (a few kB), so an evicted segment is
  recomputed from its own start, never from step 0.
- Inputs are held compactly (app/sessions/sequences.py `Inputs`): the dense rows of a
  segment exist only while it is resident.

The engine's `Trace` is not thread-safe. Only the last, growing segment is ever changed
(by `extend`), under `_grow_lock`; complete resident segments are only read. The event loop
never waits: `try_frame` gives up when a read could block and the caller reads on the pool.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import threading
import time
from collections.abc import Callable

import numpy as np

import cells
from app.core import departures
from app.sessions.cache import ByteLRU
from app.sessions.sequences import Inputs
from cells.trace import CHUNK  # segment boundaries fall on its multiples

# A segment stays whole in the engine (its limit is 128 MiB), and an evicted one costs
# about this many bytes of rows to compute again (at H=512, one engine chunk).
SEGMENT_BYTES = 32 * 2**20
MAX_SEGMENT_STEPS = 64 * CHUNK
BATCH_BYTES = 16 * 2**20  # rows computed per background job (then others get a turn)
MAX_BATCH_STEPS = 4 * CHUNK

_ids = itertools.count()


@dataclasses.dataclass(frozen=True)
class StartsIO:
    """Where a trace's segment start states are read from and written to (the data dir)."""
    load: Callable[[], np.ndarray | None]
    save: Callable[[np.ndarray], None]


class SharedTrace:
    def __init__(self, cell: cells.Cell, inputs: Inputs, segments: ByteLRU,
                 first_steps: int = CHUNK, interventions: tuple = (),
                 start: dict | None = None, starts_io: StartsIO | None = None):
        self.cell = cell
        # checked cells.Intervention records, in session steps; each segment holds them
        # shifted to its own steps (the engine clips them to what it computes)
        self.interventions: tuple[cells.Intervention, ...] = tuple(interventions)
        self.inputs = inputs
        self.names: tuple[str, ...] = cell.names
        self.dtype = cell.dtype
        # numbers per signal, in names order (a cell whose signals differ in width, the
        # LSTM with proj_size, says its own)
        width = getattr(cell, "width", None) or (
            lambda s: cell.input_size if s.size == "input" else cell.hidden_size)
        self.widths = tuple(width(s) for s in cell.signals)
        self.row_bytes = sum(self.widths) * cell.dtype.itemsize
        per_segment = max(1, SEGMENT_BYTES // max(1, self.row_bytes * CHUNK)) * CHUNK
        self.segment_steps = min(per_segment, MAX_SEGMENT_STEPS)
        per_batch = max(1, BATCH_BYTES // max(1, self.row_bytes * CHUNK)) * CHUNK
        self.batch_steps = min(per_batch, MAX_BATCH_STEPS)
        self._segments = segments  # shared by every trace of the service: (id, k) -> Trace
        self._id = next(_ids)
        # the state at segment k; segment 0 starts from `start` (zeros when None)
        self._starts: list[dict[str, np.ndarray]] = [
            {**cell.zero_state(), **{n: np.asarray(v, cell.dtype) for n, v in
                                    (start or {}).items()}}]
        self._lock = threading.Lock()  # guards _starts and `computed`
        self._grow_lock = threading.Lock()  # held while the growing segment changes
        self.computed = 0  # steps computed so far, from step 0
        self.last_asked = time.monotonic()
        self.background = False  # a background job is queued or running
        # where the segments' start states are shared with other workers (None: not shared)
        self._starts_io = starts_io
        self._starts_looked = time.monotonic()  # the last look for another worker's states
        shared = self._read_starts() if starts_io is not None else None
        if shared is not None:  # another worker computed it all: any segment from its start
            self._starts, self.computed = shared, self.steps
        else:
            self.advance(max(1, first_steps))

    # -- sizes -----------------------------------------------------------------------------
    @property
    def steps(self) -> int:
        """Steps of the session (computed or not)."""
        return self.inputs.steps

    @property
    def done(self) -> bool:
        return self.computed >= self.steps

    @property
    def nbytes(self) -> int:
        """What this object holds itself (its segments are counted by their own cache)."""
        starts = sum(a.nbytes for state in self._starts for a in state.values())
        return int(self.inputs.nbytes + starts)

    # -- reading ---------------------------------------------------------------------------
    def try_frame(self, t: int) -> dict[str, np.ndarray] | None:
        """Step t's signals if they can be read without computing or waiting, else None."""
        if t >= self.computed:
            return None
        k = t // self.segment_steps
        segment = self._segments.peek((self._id, k))
        if segment is None:
            return None
        self.last_asked = time.monotonic()
        local = t - k * self.segment_steps
        reads_at_once = getattr(segment, "reads_at_once", None)  # a kind that recomputes
        if reads_at_once is not None and not reads_at_once(local):  # a block (Mamba)
            return None
        if self._growing(k):
            if not self._grow_lock.acquire(blocking=False):
                return None
            try:
                return segment.frame(local) if local < len(segment) else None
            finally:
                self._grow_lock.release()
        return segment.frame(local) if local < len(segment) else None

    def frame(self, t: int) -> dict[str, np.ndarray]:
        """Step t's signals, computing what is missing (blocking: call on the pool)."""
        return {k: v[0] for k, v in self.window(t, t + 1).items()}

    def frame_in_turns(self, t: int) -> dict[str, np.ndarray] | None:
        """Step t's signals, or None after one batch of the steps before it (blocking: call
        on the pool, again until it answers). A seek far past what is computed so takes its
        turns like background work instead of holding a thread for the whole run up to t."""
        if t >= self.computed:
            departures.check()
            if not self.adopt_shared_starts():
                self.advance(self.batch_steps)
            if t >= self.computed:
                return None
        return self.frame(t)

    def turn_bytes(self, t: int) -> int:
        """Bytes of rows the next turn toward step t computes (0: it only reads)."""
        if t >= self.computed:
            return min(self.batch_steps, self.steps - self.computed) * self.row_bytes
        k = t // self.segment_steps
        if (self._id, k) in self._segments:
            return 0
        stop = min((k + 1) * self.segment_steps, self.computed)
        return (stop - k * self.segment_steps) * self.row_bytes

    def window(self, start: int, stop: int, names=None) -> dict[str, np.ndarray]:
        """Signals for steps [start, stop) (blocking: call on the pool)."""
        self.last_asked = time.monotonic()
        names = tuple(self.names if names is None else names)
        if stop <= start:
            return self._empty_window(names)
        self.ensure(stop)
        pieces: dict[str, list[np.ndarray]] = {n: [] for n in names}
        size = self.segment_steps
        for k in range(start // size, (stop - 1) // size + 1):
            lo, hi = max(start, k * size) - k * size, min(stop, (k + 1) * size) - k * size
            segment = self._segment(k)
            if len(segment) < hi:  # an old recompute raced with growth: compute it again
                self._segments.pop((self._id, k))
                segment = self._segment(k)
            if self._growing(k):
                with self._grow_lock:
                    part = segment.window(lo, hi, names)
            else:
                part = segment.window(lo, hi, names)
            for n in names:
                pieces[n].append(part[n])
        return {n: p[0] if len(p) == 1 else np.concatenate(p) for n, p in pieces.items()}

    def _empty_window(self, names) -> dict[str, np.ndarray]:
        width = dict(zip(self.names, self.widths, strict=True))
        return {n: np.empty((0, width[n]), self.dtype) for n in names}

    # -- computing -------------------------------------------------------------------------
    def ensure(self, stop: int, stoppable: bool = True) -> None:
        """Compute until at least `stop` steps are there; a batch at a time, each only while
        the client that asked is still there (what is computed stays for the next asker),
        unless not `stoppable`."""
        while self.computed < min(stop, self.steps):
            if stoppable:
                departures.check()
            if not self.adopt_shared_starts():
                self.advance(self.batch_steps)

    def advance(self, n: int) -> int:
        """Compute up to n more steps (never past a segment's end); returns how many."""
        with self._grow_lock:
            start = self.computed
            if start >= self.steps:
                return 0
            size = self.segment_steps
            k = start // size
            stop = min(start + n, (k + 1) * size, self.steps)
            if start % size == 0:
                segment = self._run_segment(k, start, stop)
            else:
                segment = self._segment(k, computed=start)
                if len(segment) != start - k * size:  # an old recompute: not this one
                    segment = self._compute_segment(k, k * size, start)
                segment.extend(self.inputs.rows(start, stop))
                self._segments.put((self._id, k), segment)  # re-measured
            with self._lock:
                self.computed = stop
                if stop == (k + 1) * size and len(self._starts) == k + 1:
                    self._starts.append(segment.final_state)
            if stop == self.steps and self._starts_io is not None and len(self._starts) > 1:
                self._write_starts()
            return stop - start

    # -- start states shared between workers ---------------------------------------------
    def _state_sizes(self) -> list[tuple[str, tuple[int, ...]]]:
        return [(n, np.shape(v)) for n, v in self._starts[0].items()]

    def _write_starts(self) -> None:
        names = [n for n, _ in self._state_sizes()]
        rows = np.stack([np.concatenate([np.ravel(state[n]) for n in names])
                         for state in self._starts]).astype(self.dtype, copy=False)
        self._starts_io.save(rows)

    def adopt_shared_starts(self) -> bool:
        """Whether another worker has meanwhile computed this whole trace and its start
        states are now this one's (looked for at most once a second)."""
        now = time.monotonic()
        if self._starts_io is None or now - self._starts_looked < 1.0:
            return False
        self._starts_looked = now
        shared = self._read_starts()
        if shared is None:
            return False
        with self._grow_lock, self._lock:  # a segment grown part way is computed again
            self._starts, self.computed = shared, self.steps
        return True

    def _read_starts(self) -> list[dict[str, np.ndarray]] | None:
        """The states another worker wrote, if they are this trace's: one row per segment
        start (steps // segment_steps + 1 of them), each the state's values in order."""
        rows = self._starts_io.load()
        sizes = self._state_sizes()
        width = sum(int(np.prod(shape)) for _, shape in sizes)
        if (rows is None or rows.dtype != self.dtype
                or rows.shape != (self.steps // self.segment_steps + 1, width)):
            return None
        starts, offsets = [], np.cumsum([0] + [int(np.prod(shape)) for _, shape in sizes])
        for row in rows:
            starts.append({n: row[a:b].reshape(shape).copy() for (n, shape), a, b
                           in zip(sizes, offsets[:-1], offsets[1:], strict=True)})
        if any(not np.array_equal(starts[0][n], v) for n, v in self._starts[0].items()):
            return None  # another start: not this trace's states
        return starts

    def extend(self, more: Inputs) -> None:
        """Append steps (an append to the session); computed when asked or in the background."""
        self._starts_io = None  # its states were shared under the content before the append
        with self._grow_lock:
            self.inputs = self.inputs.appended(more)
        if self.computed == self.steps - more.steps:
            # a few typed characters: computed now, in place, whole (an append is not left
            # half done)
            self.ensure(self.steps, stoppable=False)

    def _growing(self, k: int) -> bool:
        return k == self.computed // self.segment_steps

    def _segment(self, k: int, computed: int | None = None) -> cells.Trace:
        """Segment k, recomputed from its start state when it was evicted (once, however
        many readers ask for it at the same time)."""
        key = (self._id, k)
        segment = self._segments.peek(key)
        if segment is not None:
            return segment
        computed = self.computed if computed is None else computed
        size = self.segment_steps
        stop = min((k + 1) * size, computed)
        return self._segments.get_or_compute(key, lambda: self._compute_segment(k, k * size,
                                                                               stop))

    def _run_segment(self, k: int, start: int, stop: int) -> cells.Trace:
        segment = self._compute_segment(k, start, stop)
        self._segments.put((self._id, k), segment)
        return segment

    def _compute_segment(self, k: int, start: int, stop: int) -> cells.Trace:
        return self.run_from(self._starts[k], start, self.inputs.rows(start, stop))

    def run_from(self, state: dict, start: int, rows: np.ndarray) -> cells.Trace:
        """An engine trace of `rows` (session steps start, start + 1, …) from `state`, with
        the session's interventions shifted to its steps."""
        if not self.interventions:
            if set(self.cell.state_names) <= {"h", "c"}:  # a projected LSTM takes h0, c0 only
                return self.cell.run(rows, **{f"{n}0": state[n] for n in self.cell.state_names})
            return self.cell.run(rows, state={n: state[n] for n in self.cell.state_names})
        shifted = tuple(dataclasses.replace(iv, start=iv.start - start, stop=iv.stop - start)
                        for iv in self.interventions if iv.stop > start)
        if not hasattr(self.cell, "column"):  # a kind with its own trace (Mamba)
            clipped = [dataclasses.replace(iv, start=max(iv.start, 0),
                                           stop=min(iv.stop, len(rows)))
                       for iv in shifted if iv.start < len(rows)]
            return self.cell.run(rows, state={n: state[n] for n in self.cell.state_names},
                                 interventions=clipped)
        xs = self.cell.check_inputs(rows)
        state0 = tuple(np.asarray(state[n], self.cell.dtype) for n in self.cell.state_names)
        return cells.Trace(self.cell, xs, state0, interventions=shifted)

    def hidden_attention(self, channel: int, t: int, window: int) -> dict:
        """A Mamba segment's `hidden_attention` at session step t (blocking: call on the
        pool): the segment's own within it, else a rerun from the start of the segment
        the window begins in."""
        self.last_asked = time.monotonic()
        self.ensure(t + 1)
        size = self.segment_steps
        k, first = t // size, max(0, t - window + 1) // size
        if first == k:
            segment = self._segment(k)
            if len(segment) <= t - k * size:  # an old recompute raced with growth
                self._segments.pop((self._id, k))
                segment = self._segment(k)
            lock = self._grow_lock if self._growing(k) else contextlib.nullcontext()
            with lock:
                result = segment.hidden_attention(channel, t - k * size, window)
        else:
            rerun = self.run_from(self._starts[first], first * size,
                                  self.inputs.rows(first * size, t + 1))
            result = rerun.hidden_attention(channel, t - first * size, window)
        return {**result, "start": result["start"] + t - result["t"], "t": t}

    def sensitivity(self, t: int, unit: int, of: str, window: int) -> dict:
        """`Trace.sensitivity` at session step t (blocking: call on the pool). Within one
        segment it is that segment's own; a window reaching into the segment before is
        rerun from the state before it."""
        self.last_asked = time.monotonic()
        self.ensure(t + 1)
        size = self.segment_steps
        k = t // size
        start = max(0, t - window + 1)
        departures.check()
        if start >= k * size:
            segment = self._segment(k)
            if len(segment) <= t - k * size:  # an old recompute raced with growth
                self._segments.pop((self._id, k))
                segment = self._segment(k)
            if self._growing(k):
                with self._grow_lock:
                    result = segment.sensitivity(t - k * size, unit, of, window)
            else:
                result = segment.sensitivity(t - k * size, unit, of, window)
        else:
            if start == 0:
                state = self._starts[0]
            else:  # the state the segment holding `start` had there (a Mamba's conv, h)
                j = start // size
                state = self._segment(j).state_before(start - j * size)
                if not isinstance(state, dict):  # an engine Trace's: in state_names order
                    state = dict(zip(self.cell.state_names, state, strict=True))
            rerun = self.run_from(state, start, self.inputs.rows(start, t + 1))
            result = rerun.sensitivity(t - start, unit, of, window)
        offset = t - result["t"]
        return {**result, "start": result["start"] + offset, "t": t}


def background_job(trace: SharedTrace, idle_seconds: float,
                   resubmit: Callable[[SharedTrace], None]) -> None:
    """One batch of a trace's background computation; queues the next one itself (so that
    many traces share the pool) until the trace is complete or nobody asks for it."""
    try:
        if trace.done or time.monotonic() - trace.last_asked > idle_seconds:
            trace.background = False
            return
        if not trace.adopt_shared_starts():
            trace.advance(trace.batch_steps)
    except BaseException:
        trace.background = False
        raise
    if trace.done:
        trace.background = False
    else:
        resubmit(trace)
