"""The WebSocket stream of one session: seek, step, play and pause; frames out.

Per connection there are two tasks and, while playing, a third:
- the receiver reads client messages and moves the cursor (`t`);
- the sender turns queued step numbers into frames and sends them, one at a time;
- the player advances the cursor by the clock.
Frames are queued as step numbers in a bounded queue that keeps only the newest ones, so a
slow or stalled client costs a few integers, not a growing pile of encoded frames; a frame
is encoded only when it is about to be sent, as JSON text or, when the URL asks for
`?format=binary`, as a binary message (app/stream/wire.py). When the client goes, every task of the
connection is cancelled and awaited before the handler returns.

All of this state lives in one `Stream` object per connection; the only shared things are
the service (session store and caches) and the counters in `StreamStats`.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass

import anyio
from pydantic import TypeAdapter, ValidationError
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketDisconnected

from app.core.settings import Settings
from app.errors import ApiError, describe_errors, ws_error
from app.origins import same_origin
from app.schemas import ClientMessage, PauseMessage, PlayMessage, SeekMessage, StepMessage
from app.sessions.cache import ByteLRU
from app.sessions.compute import CHEAP_TURN_BYTES
from app.sessions.config import SessionConfig
from app.sessions.models import ModelRun, time_of, top_json
from app.sessions.service import SessionService
from app.sessions.traces import SharedTrace
from app.stream import wire

MESSAGES: TypeAdapter = TypeAdapter(ClientMessage)

# Close codes: RFC 6455 ones, and 4404 (4000-4999 are the application's) for no session.
POLICY_VIOLATION = 1008
MESSAGE_TOO_BIG = 1009
INTERNAL_ERROR = 1011
TRY_AGAIN_LATER = 1013
NO_SESSION = 4404

# Frame formats, chosen by the URL's ?format=: JSON text (the default) or binary
# (app/stream/wire.py).
FORMATS = ("json", "binary")


@dataclass
class StreamStats:
    """Per-process counters: how many connections and tasks are alive, frames sent/dropped."""

    connections: int = 0
    tasks: int = 0
    frames_sent: int = 0
    frames_dropped: int = 0


def origin_allowed(websocket: WebSocket, allowed: tuple[str, ...]) -> bool:
    """No Origin (a non-browser client), a listed one, or the same host:port as Host."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    return same_origin(origin, websocket.headers.get("host"), websocket.url.scheme == "wss",
                       allowed)


class SendQueue:
    """What the sender still has to send: step numbers (frames) and error texts.

    Only the newest `size` items are kept; when a client cannot keep up, older frames are
    dropped (the client would discard them as stale by `seq` anyway).
    """

    def __init__(self, size: int, stats: StreamStats):
        self._items: deque[int | str] = deque(maxlen=size)
        self._ready = asyncio.Event()
        self._stats = stats

    def put(self, item: int | str) -> None:
        if len(self._items) == self._items.maxlen:
            self._stats.frames_dropped += 1
        self._items.append(item)
        self._ready.set()

    async def get(self) -> int | str:
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()

    def newest_frame(self, t: int) -> int:
        """Coalesce: `t` or, when newer frames wait, the newest of them (the others are
        dropped; error texts keep their place)."""
        frames = [item for item in self._items if isinstance(item, int)]
        if not frames:
            return t
        self._stats.frames_dropped += len(frames)
        kept = [item for item in self._items if not isinstance(item, int)]
        self._items.clear()
        self._items.extend(kept)
        return frames[-1]

    def has_frame(self) -> bool:
        """Whether a frame is waiting (so one still to be computed can be skipped)."""
        return any(isinstance(item, int) for item in self._items)


class SessionView:
    """This connection's view of its session, refreshed when the config file changes
    (an append by any process)."""

    def __init__(self, service: SessionService, session_id: str, layer: int = 0,
                 direction: str = "forward", top_k: int = 5):
        self.service = service
        self.session_id = session_id
        self.layer, self.direction = layer, direction  # which cell of a model is streamed
        self.top_k = top_k
        self.config: SessionConfig | None = None
        self.version: tuple[int, int] | None = None
        self.trace: SharedTrace | None = None
        self.run: ModelRun | None = None  # a model's run (for the head's top outputs)
        self.checked = 0.0  # time.monotonic() of the last look at the config file

    async def refresh_if_stale(self, t: int | None = None) -> None:
        """Look again when asked at or past the known last step, or after a second: appends
        (by any process) add steps, and may change the last one (an accent typed after its
        letter completes that step's grapheme, cells/text.py), so nothing else can be out of
        date."""
        if (t is not None and t >= self.steps - 1) or time.monotonic() - self.checked > 1.0:
            await self.refresh()

    @property
    def steps(self) -> int:
        return self.config.steps

    @property
    def key(self) -> str:
        return self.config.key

    async def load(self) -> None:
        """Read the config (ApiError if there is none) and get its trace."""
        version = self.service.store.session_version(self.session_id)
        config = self.service.get_cached(self.session_id)
        if config is None:
            config = await anyio.to_thread.run_sync(self.service.get, self.session_id)
        trace = self.service.cached_trace(config, self.layer, self.direction)
        if trace is None:
            trace = await anyio.to_thread.run_sync(self.service.trace, config, self.layer,
                                                   self.direction)
        run = None
        if config.model is not None and config.model.get("head"):
            run = self.service.cached_run(config)
            if run is None:
                run = await anyio.to_thread.run_sync(self.service.model_run, config)
        self.config, self.version, self.trace, self.run = config, version, trace, run
        self.checked = time.monotonic()

    def extra(self, t: int) -> bytes:
        """More members of step t's frame: for a model with a head, the time the step reads
        and the head's k most likely outputs there."""
        if self.run is None:
            return b""
        time_step = time_of(self.steps, self.direction, t)
        top = self.run.top(time_step, self.top_k, self.service.labels(self.config))
        return b',"time":%d,"top":%s' % (time_step, top_json(top))

    async def refresh(self) -> None:
        """One stat call; a reload only when the config changed."""
        self.checked = time.monotonic()
        version = self.service.store.session_version(self.session_id)
        if version is not None and version != self.version:
            try:
                await self.load()
            except ApiError:  # deleted meanwhile: keep serving what we have
                pass

    def frame_now(self, t: int) -> dict | None:
        """The frame if it can be read at once (computed and resident), else None."""
        return self.trace.try_frame(t)

    async def frame_turn(self, t: int) -> dict | None:
        """The frame, or None after one turn of the computing it needs (not yet computed,
        evicted, or the segment is being extended). A turn that computes little (a small
        session's evicted segment) is cheap work; a bigger one waits in the stream lane,
        where sockets take turns."""
        self.service.pool.follow(self.trace)
        lane = "cheap" if self.trace.turn_bytes(t) <= CHEAP_TURN_BYTES else "stream"
        return await self.service.pool.run_async(self.trace.frame_in_turns, t, lane=lane)


class Stream:
    def __init__(self, websocket: WebSocket, view: SessionView, settings: Settings,
                 stats: StreamStats, frame_cache: ByteLRU[bytes], binary: bool = False):
        self.websocket = websocket
        self.binary = binary
        # The binary head's signal layout: names, widths and dtype never change with appends.
        trace = view.trace
        self.layout = wire.binary_layout(trace.names, trace.widths, trace.dtype) if binary else b""
        self.view = view
        self.settings = settings
        self.stats = stats
        self.frame_cache = frame_cache
        self.queue = SendQueue(settings.send_queue_frames, stats)
        self.t = 0
        self.seq = 0
        self.rate: float | None = None
        self.player: asyncio.Task | None = None

    async def run(self) -> None:
        receiver = self._spawn(self._receive_loop())
        sender = self._spawn(self._send_loop())
        close_code = None
        try:
            done, _ = await asyncio.wait({receiver, sender}, return_when=asyncio.FIRST_COMPLETED)
            if receiver in done and not receiver.cancelled() and receiver.exception() is None:
                close_code = receiver.result()
        finally:
            tasks = [receiver, sender] + ([self.player] if self.player else [])
            for task in tasks:
                task.cancel()
            # asyncio.wait, unlike gather, keeps the CancelledError of a cancelled handler
            # as it came (anyio's cancel scopes, e.g. the server's, recognise theirs by it).
            await asyncio.wait(tasks)
        if close_code is not None:
            await _close_quietly(self.websocket, close_code)
        for task in tasks:
            if task.cancelled():
                continue
            error = task.exception()
            if error is not None and not _is_disconnect(error):
                raise error

    def _spawn(self, coroutine) -> asyncio.Task:
        task = asyncio.create_task(coroutine)
        self.stats.tasks += 1
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task) -> None:
        self.stats.tasks -= 1

    # -- client messages -------------------------------------------------------------------
    async def _receive_loop(self) -> int | None:
        """Handle messages until the client leaves (None) or must be closed (a close code)."""
        limit = self.settings.max_ws_message_bytes
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return None
            text = message.get("text")
            if text is None:
                self.queue.put(ws_error("send JSON text messages, not binary ones"))
                continue
            if len(text) > limit or (len(text) * 4 > limit and len(text.encode()) > limit):
                return MESSAGE_TOO_BIG
            try:
                command = MESSAGES.validate_json(text)
            except ValidationError as exc:
                self.queue.put(ws_error(*describe_errors(
                    exc.errors(), skip_first_location=True, whole="message")))
                continue
            await self.view.refresh_if_stale(self._wanted_step(command))
            self._handle(command)

    def _wanted_step(self, command) -> int | None:
        if isinstance(command, SeekMessage):
            return command.seek
        if isinstance(command, StepMessage):
            return self.t + command.step
        return None

    def _handle(self, command) -> None:
        steps = self.view.steps
        if isinstance(command, SeekMessage):
            if command.seek >= steps:
                self.queue.put(ws_error(f"seek: {command.seek} is past the last step "
                                        f"{steps - 1}; seek to 0..{steps - 1}", "seek"))
                return
            self._move(command.seek)
        elif isinstance(command, StepMessage):
            self._move(min(max(self.t + command.step, 0), steps - 1))
        elif isinstance(command, PlayMessage):
            if command.play > self.settings.max_play_rate:
                self.queue.put(ws_error(f"play: {command.play} steps per second is over the "
                                        f"limit of {self.settings.max_play_rate:g}", "play"))
                return
            self.rate = command.play
            if self.t >= steps - 1:  # at the end: play from the start, as players do
                self.t = 0
            self._restart_player()
            self.queue.put(self.t)
        elif isinstance(command, PauseMessage):
            self._stop_player()
            self.queue.put(self.t)

    def _move(self, t: int) -> None:
        """Put the cursor at t and send its frame; a playing stream plays on from there."""
        self.t = t
        if self.player is not None:
            self._restart_player()
        self.queue.put(t)

    def _restart_player(self) -> None:
        self._stop_player()
        self.player = self._spawn(self._play(self.rate))

    def _stop_player(self) -> None:
        if self.player is not None:
            self.player.cancel()
            self.player = None

    async def _play(self, rate: float) -> None:
        """Advance by the clock, not by counting sleeps: a late wake-up skips ahead."""
        loop = asyncio.get_running_loop()
        t0, clock0 = self.t, loop.time()
        while True:
            due = clock0 + (self.t - t0 + 1) / rate
            await asyncio.sleep(max(0.0, due - loop.time()))
            target = t0 + int((loop.time() - clock0) * rate)
            if target >= self.view.steps:
                await self.view.refresh()  # typed characters may have added steps
            if target >= self.view.steps:
                self.t = self.view.steps - 1
                self.player = None  # before queuing: the last frame says playing: false
                self.queue.put(self.t)
                return
            if target != self.t:
                self.t = target
                self.queue.put(target)

    # -- frames out ------------------------------------------------------------------------
    async def _send_loop(self) -> None:
        loop = asyncio.get_running_loop()
        gap = 1.0 / self.settings.max_frames_per_second
        next_slot = loop.time()
        while True:
            item = await self.queue.get()
            if isinstance(item, str):
                await self.websocket.send_text(item)
                continue
            # A socket whose seeks pile up gets at most max_frames_per_second frames; seeks
            # that came meanwhile are coalesced, the newest wins (so a storming socket still
            # gets frames, at a rate). One that waits for each frame before its next seek has
            # no backlog: its rate is its round trip, and it is not made to wait for a slot.
            if next_slot > loop.time() and self.queue.has_frame():
                await asyncio.sleep(next_slot - loop.time())
                item = self.queue.newest_frame(item)
            next_slot = max(next_slot, loop.time() - gap) + gap
            signals = await self._signals(item)
            if signals is None:  # it needed computing and a newer frame is waiting
                self.stats.frames_dropped += 1
                continue
            self.seq += 1
            playing = self.player is not None
            extra = self.view.extra(item)
            if self.binary:
                await self.websocket.send_bytes(wire.frame_binary(
                    item, self.seq, self.view.steps, playing, self.layout, signals, extra))
            else:
                await self.websocket.send_text(wire.frame_message(
                    item, self.seq, self.view.steps, playing, signals, extra))
            self.stats.frames_sent += 1

    async def _signals(self, t: int) -> bytes | None:
        """The encoded signals of step t; identical sessions share them through the cache.

        At most one frame per connection is computed at a time (the sender awaits it), and
        the newest seek wins: a frame that needs computing is skipped (None) when a newer
        one is already waiting."""
        trace = self.view.trace
        key = (self.view.key, self.view.layer, self.view.direction, t, self.binary)
        encoded = self.frame_cache.peek(key)
        if encoded is None:
            frame = self.view.frame_now(t)
            while frame is None:
                if self.queue.has_frame():
                    return None
                frame = await self.view.frame_turn(t)
            encoded = (wire.binary_values(frame, trace.names, trace.dtype) if self.binary
                       else wire.signals_json(frame, trace.names))
            self.frame_cache.put(key, encoded)
        return encoded


async def serve_stream(websocket: WebSocket, session_id: str, service: SessionService,
                       settings: Settings, stats: StreamStats,
                       frame_cache: ByteLRU[bytes]) -> None:
    if not origin_allowed(websocket, settings.allowed_origins):
        await websocket.close(code=POLICY_VIOLATION)  # before accept: the handshake fails
        return
    stats.connections += 1
    try:
        await websocket.accept()
        frame_format = websocket.query_params.get("format", "json")
        if frame_format not in FORMATS:
            await websocket.send_text(ws_error(f"format: {frame_format!r} is not a frame "
                                               f"format; use one of {', '.join(FORMATS)}",
                                               "format"))
            await _close_quietly(websocket, POLICY_VIOLATION)
            return
        if stats.connections > settings.max_ws_connections:
            await websocket.send_text(ws_error("too many connections; try again later"))
            await _close_quietly(websocket, TRY_AGAIN_LATER)
            return
        try:
            layer, direction = _part(websocket)
            view = SessionView(service, session_id, layer, direction, settings.top_k)
            await view.load()
            service.part(view.config, layer, direction)
        except ApiError as exc:
            await websocket.send_text(ws_error(exc.detail, exc.field))
            code = (NO_SESSION if exc.status_code == 404 else
                    INTERNAL_ERROR if exc.status_code >= 500 else POLICY_VIOLATION)
            await _close_quietly(websocket, code)
            return
        await Stream(websocket, view, settings, stats, frame_cache,
                     binary=frame_format == "binary").run()
    except WebSocketDisconnect:
        pass
    finally:
        stats.connections -= 1


def _part(websocket: WebSocket) -> tuple[int, str]:
    """`?layer=` and `?direction=` of the URL (checked against the model after loading)."""
    raw = websocket.query_params.get("layer", "0")
    if not raw.isdigit() or len(raw) > 6:
        raise ApiError("layer", f"layer {raw[:20]!r} is not a whole number from 0")
    return int(raw), websocket.query_params.get("direction", "forward")[:40]


def _is_disconnect(exc: BaseException) -> bool:
    # The client may vanish while a frame is being sent: Starlette or the server (uvicorn's
    # ClientDisconnected is an OSError) raise one of these; it ends the connection quietly.
    return isinstance(exc, (WebSocketDisconnect, WebSocketDisconnected, OSError))


async def _close_quietly(websocket: WebSocket, code: int) -> None:
    try:
        await websocket.close(code=code)
    except (RuntimeError, OSError):  # already closed by the client
        pass
