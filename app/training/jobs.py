"""Training jobs: a bounded queue, one worker process per job, records in the data dir.

    <data_dir>/train/<job>.json    the job's record (state, steps, loss, session, error)
    <data_dir>/tmp/train-<job>-*   the model while it is written; renamed when complete

A job is queued, then run by one of `max_train_running` runner threads (never an HTTP
thread, never the event loop), each of which starts `python -m app.training.worker` and
reads its progress. The training itself is in that process: the server's threads only
read lines. A job stops at its wall-time cap whether or not anyone is watching, keeping
what it learned; a cancelled one keeps nothing. When it is done, its model is kept like
an uploaded file and becomes a session on its own text.

A server that starts finds the records of jobs a previous run left queued or running
(their worker process ended with it: its stdin closed) and marks them failed.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import secrets
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from app.core.settings import BLAS_THREAD_VARIABLES, Settings
from app.errors import ApiError, NotFound
from app.schemas import SessionCreate, TrainCreate
from app.sessions.costs import check_training_costs
from app.sessions.datadir import SESSION_ID, Store
from app.sessions.service import SessionService
from app.sessions.uploads import accept_weights
from app.training.watchers import Watchers

ACTIVE = ("queued", "running")
DEFAULT_BATCH = 8
FINISHED = ("done", "failed", "cancelled")
STOP_GRACE_SECONDS = 30.0  # after "stop", how long a worker may take to write its weights
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Job:
    job: str
    request: TrainCreate
    state: str = "queued"
    step: int = 0
    loss: float | None = None
    session: str | None = None
    error: str | None = None
    created: float = field(default_factory=time.time)
    losses: list = field(default_factory=list)  # [(step, loss)], this process only
    process: subprocess.Popen | None = None
    cancel_asked: bool = False
    client: str = ""  # who submitted it (app/core/clients.py): one active job each

    @property
    def steps(self) -> int:
        return self.request.steps

    def public(self) -> dict:
        return {"job": self.job, "state": self.state, "step": self.step, "steps": self.steps,
                "loss": self.loss, "session": self.session, "error": self.error}

    def record(self) -> dict:
        return {**self.public(), "created": self.created, "pid": os.getpid(),
                "request": self.request.model_dump(exclude={"text"})}


class TrainingJobs:
    def __init__(self, settings: Settings, store: Store, sessions: SessionService):
        self.settings, self.store, self.sessions = settings, store, sessions
        self.folder = store.root / "train"
        self.folder.mkdir(exist_ok=True)
        self.jobs: dict[str, Job] = {}  # this process's jobs, bounded by max_train_records
        self.lock = threading.Lock()
        self.waiting: queue.Queue[Job | None] = queue.Queue()
        self.closing = False
        self.watchers = Watchers()  # progress sockets, capped per job and per client
        self.fail_leftovers()
        self.runners = [threading.Thread(target=self._runner, name=f"train-runner-{n}",
                                         daemon=True)
                        for n in range(settings.max_train_running)]
        for runner in self.runners:
            runner.start()

    # -- the API's side ----------------------------------------------------------------------
    def submit(self, request: TrainCreate, client: str = "") -> Job:
        if request.batch is None:  # a short text still trains: as many streams as it allows
            request = request.model_copy(
                update={"batch": max(1, min(DEFAULT_BATCH, len(request.text) - 1))})
        self._check(request)
        with self.lock:
            active = [j for j in self.jobs.values() if j.state in ACTIVE]
            limit = self.settings.max_train_running + self.settings.max_train_queued
            mine = [j for j in active if j.client == client]
            if len(mine) >= self.settings.max_train_jobs_per_client:
                raise ApiError(None, f"you have {len(mine)} training job(s) running or "
                                     f"waiting, the most one client may have "
                                     f"({self.settings.max_train_jobs_per_client}); wait for it "
                                     "to finish or cancel it", status_code=429)
            if len(active) >= limit:
                raise ApiError(None, f"{len(active)} training jobs are running or waiting, "
                                     f"the most this server takes ({limit}); wait for one to "
                                     "finish or cancel one", status_code=429)
            job = Job(secrets.token_urlsafe(16), request, client=client)
            self.jobs[job.job] = job
            self._forget_old()
        self._save(job)
        self.waiting.put(job)
        return job

    def get(self, job_id: str) -> dict:
        job = self.jobs.get(job_id)
        if job is not None:
            return job.public()
        record = self._load(job_id)
        return {k: record.get(k) for k in ("job", "state", "step", "steps", "loss", "session",
                                           "error")}

    def live(self, job_id: str) -> Job | None:
        """The job if this process runs it (its progress is here), else None."""
        return self.jobs.get(job_id)

    def cancel(self, job_id: str) -> dict:
        job = self.jobs.get(job_id)
        if job is None:
            record = self._load(job_id)
            raise ApiError("job", f"job {job_id!r} is {record.get('state')}; only a queued or "
                                  "running job can be cancelled", status_code=409)
        with self.lock:
            if job.state not in ACTIVE:
                raise ApiError("job", f"job {job_id!r} is already {job.state}; only a queued "
                                      "or running job can be cancelled", status_code=409)
            job.cancel_asked = True
            job.state = "cancelled"  # the runner keeps it so, whatever the worker did
            process = job.process
        if process is not None:
            with contextlib.suppress(OSError):
                process.kill()  # a cancelled job keeps nothing: no need to let it finish
        self._save(job)
        return job.public()

    def close(self) -> None:
        """Stop the runners; running workers are ended (their jobs are marked failed)."""
        self.closing = True
        for _ in self.runners:
            self.waiting.put(None)
        for job in list(self.jobs.values()):
            if job.process is not None and job.state == "running":
                with contextlib.suppress(OSError):
                    job.process.kill()

    # -- checks ------------------------------------------------------------------------------
    def _check(self, request: TrainCreate) -> None:
        s = self.settings
        for name, value, limit in (("steps", request.steps, s.max_train_steps),
                                   ("text", len(request.text), s.max_train_text),
                                   ("hidden_size", request.hidden_size, s.max_train_hidden_size),
                                   ("layers", request.layers, s.max_train_layers)):
            if value > limit:
                what = f"{value} characters" if name == "text" else str(value)
                raise ApiError(name, f"{what} is over this server's training limit of {limit}")
        if len(set(request.text)) < 2:
            raise ApiError("text", "needs at least 2 different characters to learn which "
                                   "follows which")
        if len(request.text) - 1 < request.batch:
            raise ApiError("batch", f"{request.batch} streams need at least {request.batch + 1} "
                                    f"characters of text; the text has {len(request.text)}")
        if len(request.text) > s.max_steps:
            raise ApiError("text", f"{len(request.text)} characters; a session holds at most "
                                   f"{s.max_steps} steps")
        check_training_costs(s, request)

    # -- records -----------------------------------------------------------------------------
    def _path(self, job_id: str) -> Path:
        if not SESSION_ID.fullmatch(job_id):
            raise NotFound("job", "no such training job")
        return self.folder / f"{job_id}.json"

    def _load(self, job_id: str) -> dict:
        try:
            return json.loads(self._path(job_id).read_bytes())
        except FileNotFoundError:
            raise NotFound("job", f"no training job {job_id!r}") from None
        except ValueError:
            raise NotFound("job", f"the record of job {job_id!r} is damaged") from None

    def _save(self, job: Job) -> None:
        data = json.dumps(job.record(), separators=(",", ":"), allow_nan=False).encode()
        self.store.write_atomic(self._path(job.job), data)  # tmp + rename; disk trouble said

    def _forget_old(self) -> None:
        finished = sorted((j for j in self.jobs.values() if j.state in FINISHED),
                          key=lambda j: j.created)
        for job in finished[:max(0, len(self.jobs) - self.settings.max_train_records)]:
            del self.jobs[job.job]

    def fail_leftovers(self) -> int:
        """Mark failed the jobs a server that is gone left queued or running."""
        failed = 0
        for path in self.folder.glob("*.json"):
            try:
                record = json.loads(path.read_bytes())
            except (OSError, ValueError):
                continue
            if record.get("state") in ACTIVE and not _alive(record.get("pid")):
                record.update(state="failed", error="the server stopped before the job "
                                                    "finished; start it again")
                self.store._write_atomic(path, json.dumps(record).encode())  # noqa: SLF001
                failed += 1
        records = sorted(self.folder.glob("*.json"), key=_mtime)
        for old in records[:max(0, len(records) - self.settings.max_train_records)]:
            with contextlib.suppress(OSError):
                old.unlink()
        for leftover in self.store.tmp.glob("train-*"):
            with contextlib.suppress(OSError):
                leftover.unlink()
        return failed

    # -- running -----------------------------------------------------------------------------
    def _runner(self) -> None:
        while True:
            job = self.waiting.get()
            if job is None:
                return
            if job.cancel_asked or self.closing:
                continue
            try:
                self._run(job)
            except Exception as exc:  # noqa: BLE001 - a job's fault must not end the runner
                with self.lock:
                    if not job.cancel_asked:  # a cancel stays a cancel, whatever broke after
                        job.state, job.error = "failed", f"{type(exc).__name__}: {exc}"
            with contextlib.suppress(ApiError):  # a full disk: the record stays as it was
                self._save(job)

    def _run(self, job: Job) -> None:
        request = job.request
        out = self.store.tmp / f"train-{job.job}.safetensors"
        spec = {**request.model_dump(), "out": str(out),
                "address_space": self.settings.max_train_address_space}
        # small matrices: threads only take cores from others
        env = {**os.environ, **dict.fromkeys(BLAS_THREAD_VARIABLES, "1")}
        with self.lock:
            if job.cancel_asked:
                return
            job.process = subprocess.Popen(
                [sys.executable, "-m", "app.training.worker"], cwd=ROOT, env=env,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                text=True)
            job.state = "running"
        process = job.process
        cap = threading.Timer(self.settings.max_train_seconds, self._time_up, (job,))
        cap.daemon = True
        outcome: dict = {}
        try:  # whatever happens from here (a cancel at any moment), the worker is reaped
            self._save(job)
            process.stdin.write(json.dumps(spec) + "\n")
            process.stdin.flush()
            cap.start()
            for line in process.stdout:
                message = json.loads(line)
                if "progress" in message:
                    job.losses.extend(tuple(p) for p in message["progress"])
                    job.step, job.loss = job.losses[-1]
                else:
                    outcome = message
        except (OSError, ValueError):
            if not job.cancel_asked:
                raise
        finally:
            cap.cancel()
            if job.cancel_asked or self.closing:
                _kill_if_running(process)
            for pipe in (process.stdin, process.stdout):
                with contextlib.suppress(OSError, ValueError):
                    pipe.close()
            process.wait()
        try:
            if job.cancel_asked:
                return
            if "done" in outcome:
                session = self._session_of(job, out)
                with self.lock:
                    if job.cancel_asked:
                        return
                    if outcome.get("stopped"):
                        job.error = (f"stopped at the wall-time cap of "
                                     f"{self.settings.max_train_seconds:g} s after {job.step} "
                                     "steps")
                    job.session, job.state = session, "done"
            else:
                job.state = "failed"
                job.error = outcome.get("error") or (
                    "the server stopped before the job finished" if self.closing
                    else f"the training process ended with code {process.returncode}")
        finally:
            with contextlib.suppress(FileNotFoundError):
                out.unlink()

    def _time_up(self, job: Job) -> None:
        with contextlib.suppress(OSError, ValueError):
            job.process.stdin.write("stop\n")
            job.process.stdin.flush()
        killer = threading.Timer(STOP_GRACE_SECONDS, _kill_if_running, (job.process,))
        killer.daemon = True
        killer.start()

    def _session_of(self, job: Job, model_path: Path) -> str:
        """Keep the model like an upload and open a session on the job's text."""
        with open(model_path, "rb") as source:
            record = accept_weights(self.store, self.settings, source,
                                    f"trained-{job.request.cell}-{job.job[:8]}.safetensors",
                                    None, 0, {})
        config = self.sessions.create(SessionCreate(
            weights_id=record["weights_id"], sequence={"text": job.request.text}))
        return config.id


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def _kill_if_running(process: subprocess.Popen) -> None:
    if process.poll() is None:
        with contextlib.suppress(OSError):
            process.kill()


def _alive(pid) -> bool:
    if not isinstance(pid, int) or pid == os.getpid():
        return False  # our own pid in an old record: reused by this new process
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


__all__ = ["Job", "TrainingJobs"]
