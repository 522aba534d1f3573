"""From a notebook or a shell to the page: find (or start) a local gatescope server, upload a
model, make a session of it and give its URL.

`gatescope open FILE --text …` and `app.show(model_or_path, sequence)` both end here. A
server already answering on the port is used as it is; otherwise one is started in the
background (`python -m app serve`, its own process group, its log in the data directory)
and outlives the caller, as a Jupyter server does. Only the standard library talks HTTP
here, and torch is never imported: an nn.Module is read through `cells.from_torch`, which
asks the module for its `state_dict()` (duck typing).
"""

from __future__ import annotations

import html
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import webbrowser
from dataclasses import dataclass
from pathlib import Path

from app.core.settings import ENV_PREFIX

DEFAULT_PORT = 8000
START_SECONDS = 60.0  # how long a started server may take to answer
NO_BROWSER_ENV = ENV_PREFIX + "NO_BROWSER"  # set to 1: print the URL, open no browser


class LaunchError(Exception):
    """A sentence for the user: what did not work and what to do."""


@dataclass(frozen=True)
class LocalServer:
    url: str  # http://127.0.0.1:PORT
    pid: int  # the server process (from its /api/health)
    started: bool  # started by this call (else it was already running)


def health(url: str, timeout: float = 1.0) -> dict | None:
    """The server's /api/health, or None when nothing (or not gatescope) answers."""
    try:
        with urllib.request.urlopen(url + "/api/health", timeout=timeout) as response:
            body = json.loads(response.read())
    except (OSError, ValueError):
        return None
    return body if isinstance(body, dict) and body.get("status") == "ok" else None


def ensure_server(port: int | None = None, data_dir: str | os.PathLike | None = None,
                  frame_ancestors: tuple[str, ...] = ()) -> LocalServer:
    """A gatescope server on 127.0.0.1:port: the running one, or one started now (letting
    `frame_ancestors` show its page in a frame)."""
    port = int(port or os.environ.get(ENV_PREFIX + "PORT") or DEFAULT_PORT)
    url = f"http://127.0.0.1:{port}"
    found = health(url)
    if found is not None:
        return LocalServer(url, int(found["pid"]), started=False)
    folder = Path(data_dir or os.environ.get(ENV_PREFIX + "DATA_DIR") or ".gatescope-data")
    folder.mkdir(parents=True, exist_ok=True)
    log = open(folder / "server.log", "ab")  # noqa: SIM115 - handed to the child process
    root = Path(__file__).resolve().parents[2]
    command = [sys.executable, "-m", "app", "serve", "--port", str(port),
               "--data-dir", str(folder.resolve()), "--log-level", "warning"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(root), *filter(None, [os.environ.get("PYTHONPATH")])])}
    if frame_ancestors:
        env[ENV_PREFIX + "FRAME_ANCESTORS"] = ",".join(frame_ancestors)
    try:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                   start_new_session=True, env=env)
    finally:
        log.close()
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        found = health(url, timeout=0.5)
        if found is not None:
            return LocalServer(url, int(found["pid"]), started=True)
        if process.poll() is not None:
            raise LaunchError(f"the gatescope server did not start on port {port} (see "
                              f"{folder / 'server.log'}); is the port taken?")
        time.sleep(0.1)
    process.terminate()
    raise LaunchError(f"the gatescope server did not answer on port {port} within "
                      f"{START_SECONDS:.0f} s (see {folder / 'server.log'})")


# -- talking to it --------------------------------------------------------------------------
def _request(url: str, data: bytes, content_type: str) -> dict:
    request = urllib.request.Request(url, data=data, method="POST",
                                     headers={"Content-Type": content_type,
                                              "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        try:
            detail = json.loads(error.read()).get("detail")
        except (ValueError, AttributeError):
            detail = None
        raise LaunchError(f"the server refused it ({error.code}): {detail or error.reason}"
                          ) from None


def _multipart(parts: list[tuple[str, str, bytes]]) -> tuple[bytes, str]:
    """(body, content type) of multipart/form-data with file parts (field, filename, bytes)."""
    boundary = "gatescope-" + secrets.token_hex(12)
    chunks = []
    for field, filename, data in parts:
        safe = filename.replace('"', "_").replace("\r", "_").replace("\n", "_")
        chunks += [f"--{boundary}\r\n".encode(),
                   f'Content-Disposition: form-data; name="{field}"; filename="{safe}"\r\n'
                   "Content-Type: application/octet-stream\r\n\r\n".encode(), data, b"\r\n"]
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


def upload(server: LocalServer, path: Path, vocabulary: Path | None = None) -> dict:
    parts = [("file", path.name, path.read_bytes())]
    if vocabulary is not None:
        parts.append(("vocabulary", vocabulary.name, vocabulary.read_bytes()))
    body, content_type = _multipart(parts)
    return _request(server.url + "/api/weights", body, content_type)


def create_session(server: LocalServer, weights_id: str, sequence: dict) -> dict:
    body = json.dumps({"weights_id": weights_id, "sequence": sequence}).encode()
    return _request(server.url + "/api/sessions", body, "application/json")


def sequence_of(sequence) -> dict:
    """The API's sequence for text, CSV text ({"csv": ...}) or rows of numbers."""
    if isinstance(sequence, dict):
        return sequence
    if isinstance(sequence, str):
        return {"text": sequence}
    rows = sequence.tolist() if hasattr(sequence, "tolist") else [list(r) for r in sequence]
    if rows and not isinstance(rows[0], list):
        raise LaunchError("numbers must be rows, one per step: a (T, I) array or list of lists")
    return {"values": [[float(v) for v in row] for row in rows]}


def open_session(path: Path, sequence: dict, vocabulary: Path | None = None,
                 port: int | None = None, data_dir=None,
                 frame_ancestors: tuple[str, ...] = ()) -> tuple[str, LocalServer]:
    """(URL of a new session of the model file, the server it is on)."""
    server = ensure_server(port, data_dir, frame_ancestors)
    record = upload(server, path, vocabulary)
    session = create_session(server, record["weights_id"], sequence)
    return f"{server.url}/?session={session['id']}", server


def browser_wanted(flag: bool = True) -> bool:
    return flag and os.environ.get(NO_BROWSER_ENV, "") not in ("1", "true", "yes")


# Where notebooks run: a server app.show starts lets their pages frame its page.
NOTEBOOK_ORIGINS = ("http://localhost:*", "http://127.0.0.1:*")
IFRAME_HEIGHT = 760  # pixels: the diagram and its controls without scrolling


class ShownPage(str):
    """A session page's URL: str() is the URL; Jupyter shows the page inline, in an IFrame
    (as TensorBoard's notebook extension does), with the link beneath it."""

    def _repr_html_(self) -> str:
        url = html.escape(str(self), quote=True)
        return (f'<iframe src="{url}" title="gatescope" width="100%" height="{IFRAME_HEIGHT}" '
                f'style="border: 1px solid #ccc"></iframe>'
                f'<div><a href="{url}" target="_blank" rel="noopener">{url}</a></div>')


def show(model_or_path, sequence, *, vocabulary=None, port: int | None = None, data_dir=None,
         open_browser: bool = False) -> ShownPage:
    """Start or reuse a local gatescope server, make a session of the model over `sequence`
    and return its URL, which a notebook shows inline (opened in a browser too when
    `open_browser`). A server started here lets loopback notebook pages frame it.

    model_or_path: a file `cells.load_model` reads, a `cells.Model`, or an object with
    `state_dict()` (an nn.Module holding an LSTM/GRU/RNN, with its Embedding and Linear).
    sequence: text, or rows of numbers (T, I). vocabulary: the tokens of a module's
    embedding (a str is its characters, or a list), or a vocab file for a path."""
    import cells

    with tempfile.TemporaryDirectory() as folder:
        if isinstance(model_or_path, (str, os.PathLike)):
            path = Path(model_or_path)
            vocab_file = Path(vocabulary) if isinstance(vocabulary, (str, os.PathLike)) \
                and Path(vocabulary).is_file() else None
            if vocabulary is not None and vocab_file is None:
                vocab_file = _vocabulary_file(Path(folder), vocabulary)
        else:
            model = model_or_path
            if not isinstance(model, cells.Model):
                if not hasattr(model, "state_dict"):
                    raise LaunchError(f"show() takes a model file, a cells.Model or a module "
                                      f"with state_dict(), not {type(model).__name__}")
                model = cells.from_torch(model, vocabulary=vocabulary)
            path = Path(folder) / "model.safetensors"
            cells.save_model(model, path)  # its vocabulary goes with it
            vocab_file = None
        url, _ = open_session(path, sequence_of(sequence), vocab_file, port, data_dir,
                              NOTEBOOK_ORIGINS)
    if browser_wanted(open_browser):
        webbrowser.open(url)
    return ShownPage(url)


def _vocabulary_file(folder: Path, vocabulary) -> Path:
    tokens = list(vocabulary)
    path = folder / "vocab.json"
    path.write_text(json.dumps(tokens, ensure_ascii=False), encoding="utf-8")
    return path
