"""The compute pool: every trace computation runs here, never on the threads that serve HTTP
nor on the event loop, so a storm of recomputes cannot starve other users' requests.

Background work (the rest of a long trace) is queued one batch at a time and each batch
queues the next, so traces being computed take turns with each other and with reads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from app.sessions.traces import SharedTrace, background_job

T = TypeVar("T")


class ComputePool:
    def __init__(self, threads: int, idle_seconds: float):
        self.idle_seconds = idle_seconds
        self._executor = ThreadPoolExecutor(max_workers=threads,
                                            thread_name_prefix="gatescope-compute")

    def run(self, fn: Callable[..., T], *args) -> T:
        """Run on the pool and wait (from a thread of the HTTP pool)."""
        return self._executor.submit(fn, *args).result()

    async def run_async(self, fn: Callable[..., T], *args) -> T:
        return await asyncio.wrap_future(self._executor.submit(fn, *args))

    def follow(self, trace: SharedTrace) -> None:
        """Compute the rest of the trace in the background (if it is not already)."""
        if trace.done or trace.background:
            return
        trace.background = True
        self._submit_background(trace)

    def _submit_background(self, trace: SharedTrace) -> None:
        try:
            self._executor.submit(background_job, trace, self.idle_seconds,
                                  self._submit_background)
        except RuntimeError:  # shutting down
            trace.background = False

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
