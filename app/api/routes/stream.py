"""WebSocket /api/sessions/{session_id}/stream: the player's frames (see app/stream/socket.py)."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from app.api.deps import FrameCacheDep, SessionsDep, SettingsDep, StreamStatsDep
from app.stream.socket import serve_stream

router = APIRouter(tags=["stream"])


@router.websocket("/sessions/{session_id}/stream")
async def stream_session(websocket: WebSocket, session_id: str, sessions: SessionsDep,
                         settings: SettingsDep, stats: StreamStatsDep,
                         frame_cache: FrameCacheDep) -> None:
    """Client: {"seek": t} | {"step": ±n} | {"play": steps_per_second} | {"pause": true}.
    Server: {"t", "seq", "steps", "playing", "signals": {name: [numbers]}} or {"error"};
    with ?format=binary, frames are binary messages (app/stream/wire.py), errors still JSON text."""
    await serve_stream(websocket, session_id, sessions, settings, stats, frame_cache)
