"""The `gatescope` command: `gatescope serve [--host] [--port] [--data-dir] [--open] ...`.

Settings come from GATESCOPE_* environment variables, then these flags. The flags are
written back into the environment so that every uvicorn worker process builds the same
Settings in `create_app()`.

Off loopback, as Jupyter does, a random token is required: it is printed in the start-up
URL and kept in a cookie after the first visit. `--no-token` turns that off, loudly.
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import sys
import threading
import time
import webbrowser
from pathlib import Path

from app.core.settings import BLAS_THREAD_VARIABLES, ENV_PREFIX, Settings, is_loopback
from app.training import command as training
from cells.lab import command as lab_command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gatescope",
        description="Interactive visualizer of recurrent-cell data flow (LSTM family).")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser("serve", help="run the web server",
                                description="Run the gatescope web server.")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=int, help="port (default 8000)")
    serve.add_argument("--data-dir", type=Path,
                       help="where sessions and uploaded weights are kept "
                            "(default ./.gatescope-data)")
    serve.add_argument("--open", action="store_true", help="open the page in a browser")
    serve.add_argument("--token", help="the token clients must give (default off loopback: "
                                       "a random one, printed in the URL)")
    serve.add_argument("--no-token", action="store_true",
                       help="off loopback, serve without a token (anyone who can reach the "
                            "port can use the server)")
    serve.add_argument("--allowed-hosts", help="comma-separated host names this server "
                                               "answers to besides loopback (DNS rebinding "
                                               "guard)")
    serve.add_argument("--workers", type=int, default=1,
                       help="worker processes sharing the data directory (default 1)")
    serve.add_argument("--log-level", default="info",
                       choices=["critical", "error", "warning", "info", "debug"])
    training.add_parser(commands)
    add_open_command(commands)
    lab_command.add_parser(commands)
    return parser


def add_open_command(commands) -> None:
    """`gatescope open FILE [--text …|--csv …] [--vocabulary …]` (app/core/launcher.py)."""
    opener = commands.add_parser(
        "open", help="show a model file in the browser (starting a local server if need be)",
        description="Upload a cell or a whole model to the local gatescope server (started in "
                    "the background when none answers), make a session of it over the "
                    "sequence and open the browser at it.")
    opener.add_argument("file", type=Path, help="a weights or model file (.safetensors, .npz, "
                                                ".onnx, .weights.h5, .keras)")
    sequence = opener.add_mutually_exclusive_group(required=True)
    sequence.add_argument("--text", help="the sequence as text (a text model's tokens)")
    sequence.add_argument("--csv", type=Path, help="the sequence as a CSV file of numbers, one "
                                                   "row per step")
    opener.add_argument("--vocabulary", type=Path,
                        help="the model's tokens: vocab.json (a list) or vocab.txt")
    opener.add_argument("--port", type=int, help="the local server's port (default 8000)")
    opener.add_argument("--data-dir", type=Path, help="the data directory of a server "
                                                      "started here")
    opener.add_argument("--no-browser", action="store_true",
                        help="only print the URL (also: GATESCOPE_NO_BROWSER=1)")


def open_command(args: argparse.Namespace) -> int:
    from app.core import launcher

    for given in (args.file, args.csv, args.vocabulary):
        if given is not None and not given.is_file():
            print(f"gatescope: no file {str(given)!r}", file=sys.stderr)
            return 2
    sequence = ({"text": args.text} if args.text is not None
                else {"csv": args.csv.read_text(encoding="utf-8-sig")})
    try:
        url, server = launcher.open_session(args.file, sequence, args.vocabulary, args.port,
                                            args.data_dir)
    except launcher.LaunchError as exc:
        print(f"gatescope: {exc}", file=sys.stderr)
        return 1
    how = "started in the background" if server.started else "already running"
    print(f"gatescope: server {server.url} ({how}, pid {server.pid})", file=sys.stderr)
    print(url)
    if launcher.browser_wanted(not args.no_browser):
        webbrowser.open(url)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    if args.command == "train":
        return training.run(args)
    if args.command == "lab":
        return lab_command.run(args)
    if args.command == "open":
        return open_command(args)
    return 2  # pragma: no cover - argparse refuses unknown commands


def serve(args: argparse.Namespace) -> int:
    import uvicorn  # imported here so that `gatescope --help` stays fast

    from app.sessions.datadir import DataDirUnusable, Store

    allowed = tuple(h.strip() for h in (args.allowed_hosts or "").split(",") if h.strip())
    try:
        settings = Settings.from_env(host=args.host, port=args.port, data_dir=args.data_dir,
                                     allowed_hosts=allowed or None, token=args.token)
    except ValueError as exc:
        print(f"gatescope: {exc}", file=sys.stderr)
        return 2
    if args.workers < 1:
        print("gatescope: --workers must be at least 1", file=sys.stderr)
        return 2
    try:
        Store(settings.data_dir)  # created, written and flushed once, or refused here
    except DataDirUnusable as exc:
        print(f"gatescope: {exc}", file=sys.stderr)
        return 2
    token = settings.token
    if args.no_token:
        token = ""
        if not is_loopback(settings.host):
            print(f"gatescope: WARNING: listening on {settings.host} WITHOUT A TOKEN: anyone "
                  "who can reach this port can use the server and fill its disk",
                  file=sys.stderr)
    elif not token and not is_loopback(settings.host):
        token = secrets.token_urlsafe(24)
    if token and not is_loopback(settings.host):
        print(f"gatescope: listening on {settings.host}, reachable from other machines; "
              "clients need the token in the URL below", file=sys.stderr)
    changes = {"host": args.host, "port": args.port, "data_dir": args.data_dir,
               "allowed_hosts": ",".join(allowed) if allowed else None, "token": token,
               "allow_no_token": "1" if args.no_token else None}
    for name, value in changes.items():
        if value is not None:
            os.environ[ENV_PREFIX + name.upper()] = str(value)
    url = f"http://{_url_host(settings.host)}:{settings.port}/"
    shown_url = f"{url}?token={token}" if token else url
    if args.open:
        threading.Thread(target=_open_when_ready, args=(settings, shown_url),
                         daemon=True).start()
    print(f"gatescope: serving {shown_url} (data in {settings.data_dir.resolve()})",
          file=sys.stderr)
    if args.workers > 1:
        share_blas_threads(args.workers)
    uvicorn.run(
        "app.core.factory:create_app", factory=True, host=settings.host, port=settings.port,
        http="app.core.connections:GuardedHttpProtocol",
        workers=args.workers, log_level=args.log_level,
        # uvicorn's supervisor kills a worker that has not answered its health check within
        # this many seconds; its default (5) kills workers still importing NumPy on a busy
        # machine, and then every replacement too.
        timeout_worker_healthcheck=60,
        ws_max_size=settings.max_ws_message_bytes,
        # Frames are sent as they are: deflating 130 KB per frame costs more than loopback saves.
        ws_per_message_deflate=False,
        server_header=False,
    )
    return 0


def share_blas_threads(workers: int) -> None:
    """Give each worker's BLAS its share of the cores, unless the environment already says.
    Every worker running a BLAS thread per core oversubscribes the machine, and OpenBLAS's
    spinning threads then slow them all: on 2 cores, two workers answered a 48-socket seek
    storm with a fifth of the frames they answer with one thread each."""
    threads = str(max(1, (os.cpu_count() or 1) // workers))
    for name in BLAS_THREAD_VARIABLES:
        os.environ.setdefault(name, threads)


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _open_when_ready(settings: Settings, url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, settings.port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.2)
    webbrowser.open(url)


if __name__ == "__main__":
    raise SystemExit(main())
