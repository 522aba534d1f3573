"""The compute pool: every trace computation runs here, never on the threads that serve HTTP
nor on the event loop, with a fair share for everyone.

Work comes in four lanes:

- cheap: what a person waits for and is small by construction — a window of a trace, a
  first window, a small create;
- stream: frames a WebSocket needs computed (a seek storm lands here, not in front of
  other people's requests);
- heavy: what grows with its request — sensitivity, the run of a whole model, a big
  create (`run(..., heavy=True)`);
- background: the rest of long traces, one batch at a time (each batch queues the next,
  so traces being computed take turns).

The stream, heavy and background lanes together never hold more than `threads - 1`
threads, and take turns for them; so one thread is always free for cheap work: a cheap
request waits at most for the cheap tasks ahead of it, never behind a storm of heavy ones.
Within a lane, clients take turns (round robin over the client of each task,
app/core/clients.py), so one client's hundred requests queue behind their own, not in
front of everyone else's.

A task queued by a request whose client has gone (app/core/departures.py) is dropped
before it starts, and runs with that request's departure, so long work stops at its next
batch; background batches belong to no request.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

from app.core.clients import current_client
from app.core.departures import ClientGone, current_departure
from app.sessions.traces import SharedTrace, background_job

T = TypeVar("T")
LANES = ("cheap", "stream", "heavy", "background")
# A turn of a frame's computing that makes at most this many bytes of rows (a few ms: a
# small session's evicted segment) is cheap work; a bigger one goes in the stream lane.
CHEAP_TURN_BYTES = 2**20
SLOW_LANES = LANES[1:]  # share threads - 1, in turn


class _Lane:
    """Tasks of one lane, queued per client and taken in turn."""

    def __init__(self):
        self.queues: OrderedDict[str, deque] = OrderedDict()

    def __bool__(self) -> bool:
        return bool(self.queues)

    def put(self, client: str, task) -> None:
        self.queues.setdefault(client, deque()).append(task)

    def take(self):
        client, queue = next(iter(self.queues.items()))
        task = queue.popleft()
        del self.queues[client]
        if queue:  # the client's next task waits behind every other client's
            self.queues[client] = queue
        return task

    def drain(self) -> list:
        tasks = [task for queue in self.queues.values() for task in queue]
        self.queues.clear()
        return tasks


class ComputePool:
    def __init__(self, threads: int, idle_seconds: float):
        self.idle_seconds = idle_seconds
        self.threads = max(1, threads)
        # one thread kept for cheap work (with a single thread, everything shares it)
        self._slow_limit = max(1, self.threads - 1)
        self._lanes = {lane: _Lane() for lane in LANES}
        self._running = dict.fromkeys(LANES, 0)
        self._changed = threading.Condition()
        self._turn = 0  # which slow lane goes first next time
        self._closed = False
        self.abandoned = 0  # tasks dropped or stopped because their client had gone
        self._workers = [threading.Thread(target=self._work, name=f"gatescope-compute-{n}",
                                          daemon=True) for n in range(self.threads)]
        for worker in self._workers:
            worker.start()

    # -- submitting ---------------------------------------------------------------------------
    def submit(self, fn: Callable[..., T], *args, heavy: bool = False,
               lane: str | None = None) -> Future:
        lane = lane or ("heavy" if heavy else "cheap")
        future: Future = Future()
        departure = None if lane == "background" else current_departure.get()
        with self._changed:
            if self._closed:
                raise RuntimeError("the compute pool is shut down")
            self._lanes[lane].put(current_client.get(), (future, fn, args, lane, departure))
            self._changed.notify()
        return future

    def run(self, fn: Callable[..., T], *args, heavy: bool = False) -> T:
        """Run on the pool and wait (from a thread of the HTTP pool)."""
        return self.submit(fn, *args, heavy=heavy).result()

    async def run_async(self, fn: Callable[..., T], *args, heavy: bool = False,
                        lane: str | None = None) -> T:
        return await asyncio.wrap_future(self.submit(fn, *args, heavy=heavy, lane=lane))

    def follow(self, trace: SharedTrace) -> None:
        """Compute the rest of the trace in the background (if it is not already)."""
        if trace.done or trace.background:
            return
        trace.background = True
        self._submit_background(trace)

    def _submit_background(self, trace: SharedTrace) -> None:
        try:
            self.submit(background_job, trace, self.idle_seconds, self._submit_background,
                        lane="background")
        except RuntimeError:  # shutting down
            trace.background = False

    # -- working ------------------------------------------------------------------------------
    def _next(self):
        """The next task a free thread may take (under the lock), or None."""
        if self._lanes["cheap"]:
            return self._lanes["cheap"].take()
        if sum(self._running[lane] for lane in SLOW_LANES) >= self._slow_limit:
            return None
        for k in range(len(SLOW_LANES)):
            lane = SLOW_LANES[(self._turn + k) % len(SLOW_LANES)]
            if self._lanes[lane]:
                self._turn = (self._turn + k + 1) % len(SLOW_LANES)
                return self._lanes[lane].take()
        return None

    def _work(self) -> None:
        while True:
            with self._changed:
                task = self._next()
                while task is None:
                    if self._closed:
                        return
                    self._changed.wait()
                    task = self._next()
                future, fn, args, lane, departure = task
                self._running[lane] += 1
            token = current_departure.set(departure)
            try:
                if future.set_running_or_notify_cancel():
                    try:
                        if departure is not None and departure.gone:
                            raise ClientGone()
                        future.set_result(fn(*args))
                    except BaseException as exc:  # noqa: BLE001 - handed to the waiter
                        if isinstance(exc, ClientGone):
                            self.abandoned += 1
                        future.set_exception(exc)
            finally:
                current_departure.reset(token)
                with self._changed:
                    self._running[lane] -= 1
                    self._changed.notify_all()

    def shutdown(self) -> None:
        with self._changed:
            self._closed = True
            for lane in self._lanes.values():
                for future, *_ in lane.drain():
                    future.cancel()
            self._changed.notify_all()
