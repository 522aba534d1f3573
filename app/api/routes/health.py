"""GET /api/health: liveness, and this worker's stream counters."""

from __future__ import annotations

import os

from fastapi import APIRouter
from pydantic import BaseModel, Field

from app.api.deps import SessionsDep, StreamStatsDep

router = APIRouter(tags=["health"])


class HealthPublic(BaseModel):
    status: str
    pid: int
    connections: int
    tasks: int
    frames_sent: int
    frames_dropped: int
    cached_traces: int
    trace_cache_bytes: int
    computed_steps: int = Field(description="steps computed so far of the cached traces")
    abandoned: int = Field(description="compute tasks dropped or stopped because the client "
                                       "that asked had gone")


@router.get("/health", response_model=HealthPublic)
async def health(stats: StreamStatsDep, sessions: SessionsDep) -> dict:
    return {"status": "ok", "pid": os.getpid(), "connections": stats.connections,
            "tasks": stats.tasks, "frames_sent": stats.frames_sent,
            "frames_dropped": stats.frames_dropped, "cached_traces": len(sessions.traces),
            "trace_cache_bytes": sessions.traces.nbytes,
            "computed_steps": sum(trace.computed for trace in sessions.traces.values()),
            "abandoned": sessions.pool.abandoned}
