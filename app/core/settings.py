"""One `Settings`: where to listen, where the data lives, and every limit (the safety defaults).

Each field can be set from the environment as ``GATESCOPE_<FIELD>`` (``GATESCOPE_PORT=9000``);
the command line overrides the environment (app/core/cli.py).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from cells.formats.budgets import Budgets
from cells.formats.limits import MAX_HIDDEN_SIZE, MAX_INPUT_SIZE

ENV_PREFIX = "GATESCOPE_"
# What sets the thread count of NumPy's BLAS (OpenBLAS, OpenMP builds, MKL)
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
# An origin a Content-Security-Policy frame-ancestors list may name: scheme://host[:port|*].
FRAME_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:(\d{1,5}|\*))?")


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"  # loopback unless told otherwise
    port: int = 8000
    data_dir: Path = Path(".gatescope-data")  # sessions/ and weights/ live here

    # Sizes a session may ask for.
    # The engine's weight readers refuse files declaring more (cells/formats/limits.py).
    max_hidden_size: int = MAX_HIDDEN_SIZE
    max_input_size: int = MAX_INPUT_SIZE
    max_steps: int = 1_000_000
    # steps x input_size: the inputs are held in memory whole (one-hot text included).
    max_input_values: int = 100_000_000
    # Requests: uploads (multipart) and every other body (JSON), checked before they are read.
    max_upload_bytes: int = 50 * 1024 * 1024
    max_body_bytes: int = 16 * 1024 * 1024
    # The trace endpoint refuses windows larger than this many numbers (steps x sum of widths).
    max_trace_values: int = 4_000_000

    # Whole-file budgets, checked before a file's data is read (cells/formats/budgets.py
    # explains each; the engine's defaults unless set here). An upload's tensors: the
    # largest cell model within the size limits, 4 layers of a bidirectional LSTM at hidden
    # size 1024, is ~256 MiB of float32 (the engine, reading a user's own files, allows more).
    max_file_tensor_bytes: int = 320 * 2**20
    max_file_tensors: int = Budgets.max_file_tensors
    max_file_layers: int = Budgets.max_file_layers
    max_file_groups: int = Budgets.max_file_groups
    max_file_nodes: int = Budgets.max_file_nodes
    max_archive_entries: int = Budgets.max_archive_entries
    max_archive_member_bytes: int = Budgets.max_archive_member_bytes
    max_json_bytes: int = Budgets.max_json_bytes
    max_json_depth: int = Budgets.max_json_depth
    max_json_values: int = Budgets.max_json_values

    # Stored session configs; beyond this the least recently written ones are evicted.
    max_sessions: int = 10_000
    # Per-process caches, bounded in bytes (traces: trace.nbytes; frames: encoded JSON).
    trace_cache_bytes: int = 512 * 1024 * 1024
    cell_cache_bytes: int = 256 * 1024 * 1024
    frame_cache_bytes: int = 128 * 1024 * 1024
    config_cache_bytes: int = 64 * 1024 * 1024  # parsed session configs (4 x file size)

    # WebSocket stream.
    max_ws_message_bytes: int = 64 * 1024
    max_ws_connections: int = 512  # per worker process
    top_k: int = 5  # a model's most likely outputs each frame carries
    send_queue_frames: int = 4  # frames waiting for a slow client; older ones are dropped
    max_play_rate: float = 1000.0  # steps per second
    # Frames one socket is sent per second at most; seeks beyond that are coalesced (the
    # newest wins), so a storm of seeks costs the server a bounded rate per socket.
    max_frames_per_second: float = 120.0

    # Parsed JSON numbers cost ~50 bytes each: bodies with more are refused unparsed.
    max_json_numbers: int = 2_000_000
    # New sessions and uploads per client address and minute; enforced when the server is
    # bound off loopback (or when rate_limit_loopback is set).
    max_creates_per_minute: int = 120
    rate_limit_loopback: bool = False
    # The whole data directory (sessions, their sequences, uploads), in bytes: beyond it the
    # least recently used uploads no session uses go first, then the oldest sessions.
    max_store_bytes: int = 4 * 2**30

    # Computing traces: a pool of its own (never the threads that serve HTTP); a session's
    # trace is computed in the background from its first window on, and that stops when no
    # client has asked for it for `compute_idle_seconds`.
    compute_threads: int = 2
    # Work over this many multiply-adds (a whole model's run, say) goes to the heavy lane of
    # the pool (app/sessions/compute.py); sensitivity always does. Cheap work never waits
    # behind it.
    heavy_operations: int = 200_000_000
    compute_idle_seconds: float = 30.0
    first_window_steps: int = 1024  # computed before POST /api/sessions answers

    # Sensitivity (GET /api/sessions/{id}/sensitivity): steps before t covered by default,
    # and the most a request may ask for (one backward pass over the window per request).
    sensitivity_window: int = 256
    max_sensitivity_window: int = 4096
    # Mamba's hidden attention: a t × s matrix of window² numbers per request
    hidden_attention_window: int = 64
    max_hidden_attention_window: int = 512

    # Connections: a client that has not sent its request headers within this many seconds
    # is disconnected; at most this many open HTTP connections per client address.
    header_timeout: float = 10.0
    max_connections_per_client: int = 256

    # What a session may cost (app/sessions/costs.py), estimated before it is computed:
    # multiply-adds of all its steps (a 1M-step LSTM of H 512 is ~1.3e12), and for a whole
    # model the bytes one run holds.
    max_session_operations: int = 2_000_000_000_000
    max_session_bytes: int = 2**30

    # Training jobs (POST /api/train): each in a process of its own. At most this many run
    # at once per server process, and this many more wait; beyond that, 429.
    max_train_running: int = 1
    max_train_queued: int = 2
    # Running or queued jobs one client (an address, or a page's tab) may have at once.
    max_train_jobs_per_client: int = 1
    # A job's estimated multiply-adds over all its updates and bytes one update holds; the
    # worker's address space is capped too, so a bad estimate fails the job, not the machine.
    max_train_operations: int = 50_000_000_000_000
    max_train_bytes: int = 2**30
    max_train_address_space: int = 4 * 2**30
    # Progress sockets (WS /api/train/{job}/progress) open at once, per job and per client.
    max_progress_sockets_per_job: int = 16
    max_progress_sockets_per_client: int = 8
    max_train_steps: int = 20_000
    max_train_text: int = 200_000  # characters
    max_train_hidden_size: int = 512
    max_train_layers: int = 4
    # Wall time of one job: then it stops and keeps what it learned (its client may be gone).
    max_train_seconds: float = 900.0
    # Finished jobs whose records are kept (the oldest go first).
    max_train_records: int = 200

    # Off loopback a token is required (printed in the start-up URL); "" means none.
    token: str = ""
    # Off loopback without a token the app refuses to start, whatever launched it, unless
    # this is set (`gatescope serve --no-token`): then anyone who can reach the port may use it.
    allow_no_token: bool = False

    # Origins allowed on the WebSocket besides the request's own host:port.
    allowed_origins: tuple[str, ...] = field(default_factory=tuple)
    # Host names served besides localhost, 127.0.0.1, ::1 and `host` ("*": any).
    allowed_hosts: tuple[str, ...] = field(default_factory=tuple)
    # Origins that may show the page in a frame (a notebook's IFrame, app.show); none by
    # default, so no other site can frame it. Each an http(s) origin, ports may be "*".
    frame_ancestors: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides) -> Settings:
        """Defaults, then GATESCOPE_* variables, then `overrides` (None values are ignored)."""
        environ = os.environ if environ is None else environ
        values: dict = {}
        for f in dataclasses.fields(cls):
            raw = environ.get(ENV_PREFIX + f.name.upper())
            if raw is not None:
                values[f.name] = _parse(f.name, raw, cls.__dataclass_fields__[f.name].type)
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value <= 0:
                raise ValueError(f"setting {f.name} must be positive, got {value}")
        if self.port > 65535:
            raise ValueError(f"setting port must be at most 65535, got {self.port}")
        bad = [o for o in self.frame_ancestors if not FRAME_ORIGIN.fullmatch(o)]
        if bad:
            raise ValueError(f"setting frame_ancestors takes origins such as "
                             f"http://localhost:*, not {bad}")

    @property
    def on_loopback(self) -> bool:
        return is_loopback(self.host)

    def replace(self, **changes) -> Settings:
        return dataclasses.replace(self, **changes)

    def file_budgets(self) -> Budgets:
        return Budgets(**{f.name: getattr(self, f.name) for f in dataclasses.fields(Budgets)})


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _parse(name: str, raw: str, annotation: str):
    """Convert one environment string by the field's annotation (annotations are strings here)."""
    try:
        if annotation == "int":
            return int(raw.replace("_", ""))
        if annotation == "float":
            return float(raw)
        if annotation == "bool":
            if raw.strip().lower() in ("1", "true", "yes", "on"):
                return True
            if raw.strip().lower() in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(raw)
        if annotation == "Path":
            return Path(raw)
        if annotation.startswith("tuple"):
            return tuple(part.strip() for part in raw.split(",") if part.strip())
        return raw
    except ValueError as exc:
        raise ValueError(f"{ENV_PREFIX}{name.upper()}={raw!r} is not a valid {annotation}") from exc
