"""Benchmark the WebSocket stream over a real socket on loopback.

Starts `python -m app serve` in a subprocess (a fresh data directory, a free port on
127.0.0.1), then measures with the `websockets` client:

1. seek -> frame latency, one client, at H=64 and H=512, in both frame formats (JSON text,
   the contract's default, and ?format=binary, what the page uses): every step once in
   random order (each frame encoded for the first time), then random steps again (frame
   cache warm); the peer, in the same run, is a bare uvicorn WebSocket app that answers
   each seek with a ready-made message of the same size and type: the transport alone;
2. play mode: frames per second received at several requested rates;
3. many clients (200 by default) seeking at random steps for 20 s, first as fast as the
   server answers, then each at a human pace (10 seeks/s), in each format: latency
   p50/p99, frames, errors, and the server's resident memory (psutil).

Targets (DESIGN/issue 3): H=512 one client p50 < 2 ms, p99 < 10 ms; 200 clients p99 < 50 ms
with no errors. It prints figures and asserts nothing. Every loop is bounded.

    .venv/bin/python bench/server.py [--clients 200] [--seconds 20] [--pace 10] [--workers 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import psutil
import websockets

ROOT = Path(__file__).resolve().parents[1]
# JSON frames start like this; binary ones after their 4-byte head length (app/stream/wire.py)
HEAD = re.compile(rb'\{"t":(\d+),"seq":(\d+)')
FORMATS = ("json", "binary")


def frame_t(message: bytes) -> int | None:
    """The step of a frame in either format; None for anything else (an error message)."""
    match = HEAD.match(message) or HEAD.match(message, 4)
    return int(match.group(1)) if match else None
INPUT_SIZE = 32
STEPS = {64: 4000, 512: 2000}  # H=512 x 2000 steps keeps the trace (~55 MB) fully resident


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, workers: int):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data = tempfile.TemporaryDirectory(prefix="gatescope-bench-")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--port", str(self.port), "--data-dir",
             self.data.name, "--log-level", "warning", "--workers", str(workers)],
            cwd=ROOT, env={**os.environ, "GATESCOPE_MAX_WS_CONNECTIONS": "1000"})
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/api/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("the server did not start within 30 s")

    def rss(self) -> int:
        """Resident memory of the server and its worker processes, in bytes."""
        try:
            main = psutil.Process(self.process.pid)
            return sum(p.memory_info().rss for p in [main, *main.children(recursive=True)])
        except psutil.NoSuchProcess:
            return 0

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.data.cleanup()


# The peer: a bare ASGI WebSocket app on the same uvicorn settings that answers every
# message with a ready-made frame of the same size (it computes and encodes nothing), so
# seek latency is compared with what the transport alone costs, in the same run.
PEER_APP = """
import json, sys, uvicorn

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
        return
    query = dict(p.split("=") for p in scope["query_string"].decode().split("&"))
    size, binary = int(query["size"]), query["format"] == "binary"
    await receive()
    await send({"type": "websocket.accept"})
    seq = 0
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        seq += 1
        head = '{"t":%d,"seq":%d,"signals":"' % (json.loads(message["text"])["seek"], seq)
        if binary:
            body = (b"\\0" * 4 + head.encode()).ljust(size, b" ")
            await send({"type": "websocket.send", "bytes": body})
        else:
            body = head + " " * (size - len(head) - 2) + '"}'
            await send({"type": "websocket.send", "text": body})

uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
            ws_max_size=65536, ws_per_message_deflate=False)
"""


class Peer(Server):
    def __init__(self):  # noqa: D107 - same life cycle as Server, another program
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data = tempfile.TemporaryDirectory(prefix="gatescope-bench-peer-")
        self.process = subprocess.Popen([sys.executable, "-c", PEER_APP, str(self.port)])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("the peer did not start within 30 s")


async def peer_latency(peer: Peer, frame_bytes: int, steps: int, fmt: str) -> list[float]:
    url = f"ws://127.0.0.1:{peer.port}/?size={frame_bytes}&format={fmt}"
    async with websockets.connect(url, compression=None, max_size=2**24) as ws:
        for t in range(5):
            await seek_and_wait(ws, t)
        order = random.Random(0).sample(range(5, steps), min(steps - 5, 1500))
        return [await seek_and_wait(ws, t) for t in order]


def create_session(server: Server, hidden: int, steps: int) -> str:
    values = np.random.default_rng(hidden).standard_normal((steps, INPUT_SIZE)).round(4)
    response = httpx.post(server.url + "/api/sessions", timeout=300, json={
        "cell": "lstm", "hidden_size": hidden, "seed": 1, "sequence": {"values": values.tolist()}})
    response.raise_for_status()
    return response.json()["id"]


def ws_url(server: Server, session_id: str, fmt: str = "json") -> str:
    return f"ws://127.0.0.1:{server.port}/api/sessions/{session_id}/stream?format={fmt}"


def percentiles(samples: list[float]) -> str:
    if not samples:
        return "no samples"
    ms = np.array(samples) * 1e3
    return (f"p50 {np.percentile(ms, 50):6.2f} ms  p99 {np.percentile(ms, 99):6.2f} ms  "
            f"max {ms.max():6.2f} ms  (n={len(ms)})")


async def seek_and_wait(ws, t: int) -> float:
    """Latency of one seek: send, then receive until the frame for step t arrives."""
    start = time.perf_counter()
    await ws.send(json.dumps({"seek": t}))
    for _ in range(100):  # bounded: a stale frame or two may precede ours
        if frame_t(await ws.recv(decode=False)) == t:
            return time.perf_counter() - start
    raise RuntimeError(f"no frame for step {t}")


async def single_client(server: Server, session_id: str, steps: int, peer: Peer,
                        fmt: str) -> None:
    async with websockets.connect(ws_url(server, session_id, fmt), compression=None,
                                  max_size=2**24) as ws:
        for t in range(5):  # warm up the connection and the code paths
            await seek_and_wait(ws, t)
        await ws.send(json.dumps({"seek": 0}))
        frame_bytes = len(await ws.recv(decode=False))
        order = random.Random(0).sample(range(5, steps), min(steps - 5, 1500))
        cold = [await seek_and_wait(ws, t) for t in order]
        warm = [await seek_and_wait(ws, random.Random(t).choice(order)) for t in range(1500)]
    bare = await peer_latency(peer, frame_bytes, steps, fmt)
    print(f"    {fmt:>6}, {frame_bytes:>6} B frames")
    print(f"      first time per step : {percentiles(cold)}")
    print(f"      cached frames       : {percentiles(warm)}")
    print(f"      peer, bare          : {percentiles(bare)}")
    print(f"      ratio p50 first-time / peer: {np.median(cold) / np.median(bare):.1f}x")


async def play_rate(server: Server, session_id: str, steps: int, rate: float,
                    seconds: float = 2.0) -> None:
    async with websockets.connect(ws_url(server, session_id), compression=None,
                                  max_size=2**24) as ws:
        await ws.send(json.dumps({"seek": 0}))
        await ws.recv(decode=False)
        await ws.send(json.dumps({"play": rate}))
        frames, first, last_t = 0, None, 0
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            try:
                message = await asyncio.wait_for(ws.recv(decode=False),
                                                 deadline - time.perf_counter())
            except TimeoutError:
                break
            t = frame_t(message)
            if t is None:
                continue
            frames += 1
            first = first or time.perf_counter()
            last_t = t
            if last_t >= steps - 1:
                break
        elapsed = time.perf_counter() - (first or time.perf_counter())
        await ws.send(json.dumps({"pause": True}))
    fps = (frames - 1) / elapsed if frames > 1 and elapsed > 0 else 0.0
    print(f"    play {rate:6.0f} steps/s : {fps:7.1f} frames/s received, "
          f"{frames} frames, reached t={last_t}")


async def many_clients(server: Server, session_id: str, steps: int, clients: int,
                       seconds: float, pace: float, fmt: str) -> None:
    """Each client seeks, waits for the frame, and seeks again: at once (pace 0, a stress
    test: latency is then about clients / throughput) or `pace` times a second."""
    latencies: list[float] = []
    settled: list[float] = []  # seeks sent after the first 3 s (all clients connected)
    errors: list[str] = []
    rss_peak = server.rss()
    stop_at = time.monotonic() + seconds

    async def client(index: int) -> None:
        rng = random.Random(index)
        try:
            async with websockets.connect(ws_url(server, session_id, fmt), compression=None,
                                          max_size=2**24, open_timeout=30) as ws:
                next_at = time.monotonic() + (rng.random() / pace if pace else 0.0)
                while time.monotonic() < stop_at:
                    if pace:
                        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
                        next_at += 1.0 / pace
                    sent = time.monotonic()
                    latency = await seek_and_wait(ws, rng.randrange(steps))
                    latencies.append(latency)
                    if sent - started >= 3.0:
                        settled.append(latency)
        except Exception as exc:  # noqa: BLE001 - counted and reported, the run goes on
            errors.append(f"{type(exc).__name__}: {exc}")

    async def watch_memory() -> None:
        nonlocal rss_peak
        while time.monotonic() < stop_at:
            rss_peak = max(rss_peak, server.rss())
            await asyncio.sleep(0.5)

    rss_before = server.rss()
    started = time.monotonic()
    await asyncio.gather(watch_memory(), *(client(i) for i in range(clients)))
    elapsed = time.monotonic() - started
    how = f"{pace:g} seeks/s each" if pace else "as fast as answered"
    print(f"    {clients} clients, {fmt}, {how}, {elapsed:.1f} s: {percentiles(latencies)}")
    print(f"      from 3 s on (connected, warm): {percentiles(settled)}")
    print(f"    frames {len(latencies)} ({len(latencies) / elapsed:.0f}/s), errors "
          f"{len(errors)}{': ' + errors[0] if errors else ''}")
    print(f"    server RSS {rss_before / 2**20:.0f} MiB before, peak {rss_peak / 2**20:.0f} MiB")


async def main_async(args: argparse.Namespace) -> None:
    server = Server(args.workers)
    peer = Peer()
    try:
        print(f"gatescope server on {server.url}, {args.workers} worker(s), "
              f"{os.cpu_count()} CPUs; lstm, input {INPUT_SIZE}")
        sessions = {}
        for hidden, steps in STEPS.items():
            started = time.perf_counter()
            sessions[hidden] = create_session(server, hidden, steps)
            print(f"  session H={hidden}, {steps} steps created in "
                  f"{time.perf_counter() - started:.2f} s")
        for hidden, steps in STEPS.items():
            print(f"  seek -> frame, one client, H={hidden}")
            for fmt in FORMATS:
                await single_client(server, sessions[hidden], steps, peer, fmt)
        for hidden, steps in STEPS.items():
            print(f"  play, one client, H={hidden}")
            for rate in (30, 120, 1000):
                await play_rate(server, sessions[hidden], steps, rate)
        for hidden in args.many_hidden:
            print(f"  random seeks, many clients, H={hidden}")
            for pace in (0.0, args.pace):
                for fmt in FORMATS:
                    await many_clients(server, sessions[hidden], STEPS[hidden], args.clients,
                                       args.seconds, pace, fmt)
        print(f"  health: {httpx.get(server.url + '/api/health').json()}")
    finally:
        server.stop()
        peer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--pace", type=float, default=10.0,
                        help="seeks per second per client in the paced many-clients run")
    parser.add_argument("--many-hidden", type=int, nargs="+", default=[64], choices=list(STEPS),
                        help="hidden sizes for the many-clients run")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
