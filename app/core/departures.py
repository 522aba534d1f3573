"""Work for a client that has gone is not done.

Each HTTP request gets a `Departure`, marked when the client's connection closes before the
answer is sent. `WatchDeparture` (ASGI middleware) reads the request's messages as they come
and hands them on, so it sees the disconnect while the endpoint is still working, whether or
not the endpoint reads its body. The compute pool (app/sessions/compute.py) carries the
departure of the request that queued a task: a task whose client has gone is dropped before
it starts, and long work checks between batches (`check`), so a trace computed for a window
nobody waits for any more stops at the next batch. What was computed stays (a shared trace
keeps its progress for the next asker).
"""

from __future__ import annotations

import asyncio
import contextlib
from contextvars import ContextVar

from app.errors import ApiError

# nginx's "client closed request": never read by anyone, but it names the case in a log
CLIENT_GONE = 499


class Departure:
    """Whether the client of one request has gone (set once, read from any thread)."""

    __slots__ = ("gone",)

    def __init__(self) -> None:
        self.gone = False


class ClientGone(ApiError):
    def __init__(self) -> None:
        super().__init__(None, "the client closed the connection before the answer; its "
                               "work was stopped", status_code=CLIENT_GONE)


# The departure of the request being served, and in the compute pool of the request whose
# task is running. Threads the request hands work to (anyio's to_thread) inherit it.
current_departure: ContextVar[Departure | None] = ContextVar("gatescope_departure",
                                                             default=None)


def check() -> None:
    """Raise ClientGone when the client whose work this is has gone."""
    departure = current_departure.get()
    if departure is not None and departure.gone:
        raise ClientGone()


class WatchDeparture:
    """ASGI middleware: a task reads the request's messages into a queue of one (the
    endpoint still reads its body at its own pace) and marks the departure at
    `http.disconnect`, which the server sends when the client closes before the answer."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        departure = Departure()
        messages: asyncio.Queue = asyncio.Queue(maxsize=1)

        async def pump() -> None:
            try:
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        departure.gone = True
                        await messages.put(message)
                        return
                    await messages.put(message)
            except Exception as exc:  # noqa: BLE001 - raised where the endpoint reads
                await messages.put(exc)

        reader = asyncio.create_task(pump())

        async def watched_receive():
            if reader.done() and messages.empty():
                return {"type": "http.disconnect"}
            item = await messages.get()
            if isinstance(item, Exception):
                raise item
            return item

        token = current_departure.set(departure)
        try:
            await self.app(scope, watched_receive, send)
        finally:
            current_departure.reset(token)
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
