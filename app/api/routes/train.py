"""Training jobs: POST /api/train, GET and DELETE /api/train/{job}, WS .../progress."""

from __future__ import annotations

import asyncio
import json

from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect

from app.api.deps import SettingsDep, TrainingDep
from app.core.clients import client_key
from app.errors import ApiError, ws_error
from app.schemas import ErrorPublic, TrainAccepted, TrainCreate, TrainJobPublic
from app.stream.socket import POLICY_VIOLATION, origin_allowed

router = APIRouter(prefix="/train", tags=["training"])

ERRORS = {404: {"model": ErrorPublic, "description": "no such job"},
          422: {"model": ErrorPublic, "description": "a field is wrong or over a limit"}}
POLL_SECONDS = 0.1  # how often a progress socket looks for new steps
TRY_AGAIN_LATER = 1013


FINISHED = ("done", "failed", "cancelled")


@router.post("", status_code=202, response_model=TrainAccepted,
             responses={**ERRORS, 429: {"model": ErrorPublic,
                                        "description": "the job queue is full"}})
def start_training(body: TrainCreate, jobs: TrainingDep, request: Request) -> dict:
    """Queue a training job: a character model of `cell` learns `text`. Follow it with
    GET /api/train/{job} or the WebSocket /api/train/{job}/progress; once done, its
    `session` opens the trained model. Beyond the running and waiting jobs the server
    takes (Settings), 429."""
    return {"job": jobs.submit(body, client_key(request.scope)).job}


@router.get("/{job}", response_model=TrainJobPublic, responses=ERRORS)
def read_training(job: str, jobs: TrainingDep) -> dict:
    """The job's state (`queued|running|done|failed|cancelled`), steps done, last loss and,
    when done, its session."""
    return jobs.get(job)


@router.delete("/{job}", response_model=TrainJobPublic,
               responses={**ERRORS, 409: {"model": ErrorPublic,
                                          "description": "the job has already finished"}})
def cancel_training(job: str, jobs: TrainingDep) -> dict:
    """Cancel a queued or running job (nothing is kept); 409 when it has finished."""
    return jobs.cancel(job)


@router.websocket("/{job}/progress")
async def training_progress(websocket: WebSocket, job: str, jobs: TrainingDep,
                            settings: SettingsDep) -> None:
    """Server: `{"step", "loss", "losses": [[step, loss], ...]}` for the steps done since the
    last message (the backlog before the connection too, in one message; `step` and `loss`
    are the newest), `{"state", "step", "steps", "loss", "session", "error"}` whenever the
    state changes; the socket closes after the job finishes. The client sends nothing.
    Sockets are capped per job and per client (Settings)."""
    if not origin_allowed(websocket, settings.allowed_origins):
        await websocket.close(code=POLICY_VIOLATION)
        return
    refusal = jobs.watchers.enter(job, client_key(websocket.scope), settings)
    if refusal is not None:
        await websocket.accept()
        await websocket.send_text(ws_error(refusal, "job"))
        await websocket.close(code=TRY_AGAIN_LATER)
        return
    try:
        await _follow(websocket, job, jobs)
    finally:
        jobs.watchers.leave(job, client_key(websocket.scope))


async def _follow(websocket: WebSocket, job: str, jobs) -> None:
    await websocket.accept()
    try:
        state = await asyncio.to_thread(jobs.get, job)
    except ApiError as exc:
        await websocket.send_text(ws_error(exc.detail, exc.field))
        await websocket.close(code=POLICY_VIOLATION)
        return
    live = jobs.live(job)
    await websocket.send_text(json.dumps(state))
    sent, last_state = 0, state["state"]
    listener = asyncio.ensure_future(websocket.receive())  # notices the client leaving
    try:
        while live is not None and last_state not in FINISHED:
            await asyncio.wait([listener], timeout=POLL_SECONDS)
            if listener.done():
                return
            losses = live.losses
            if len(losses) > sent:
                batch = [list(p) for p in losses[sent:]]
                sent += len(batch)
                step, loss = batch[-1]
                await websocket.send_text(json.dumps({"step": step, "loss": loss,
                                                      "losses": batch}))
            if live.state != last_state and (live.state not in FINISHED
                                             or len(live.losses) == sent):
                last_state = live.state
                await websocket.send_text(json.dumps(live.public()))
        await websocket.close()
    except WebSocketDisconnect:
        return
    finally:
        listener.cancel()
