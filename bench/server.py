"""Benchmark the WebSocket stream over a real socket on loopback.

Starts `python -m app serve` in a subprocess (a fresh data directory, a free port on
127.0.0.1), then measures with the `websockets` client:

1. seek -> frame latency, one client, on a 10k-step H=512 session (and a 2k-step H=64
   one), in both frame formats (JSON text, the contract's default, and ?format=binary,
   what the page uses): steps in random order (each frame encoded for the first time),
   then random steps again (frame cache warm); the peer, in the same run, is a bare
   uvicorn WebSocket app that answers each seek with a ready-made message of the same size
   and type: the transport alone;
2. play mode: frames per second received at several requested rates;
3. many clients (200 by default) seeking at random steps of the H=512 session for 20 s,
   each at a human pace (10 seeks/s) and as fast as answered: latency p50/p99, frames,
   errors, and the server's resident memory (psutil);
4. a seek storm: 48 sockets seeking as fast as answered on the H=512 session, on a server
   whose trace cache (128 MiB) holds less than the session, so seeks recompute; meanwhile
   another client's GETs and its seeks on a small session;
5. the first frame of a 1M-step session: from the POST to the frame of step 0.

Targets (the server's issue): 200 clients p99 < 100 ms with no errors; during the storm the
other client's GET p99 < 100 ms and its seeks p99 < 50 ms; first frame of 1M steps < 1 s;
seek -> binary frame p50 <= 2x the bare peer. It prints figures and asserts nothing. Every
loop is bounded.

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
STEPS = {64: 2000, 512: 10_000}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, workers: int, env: dict | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data = tempfile.TemporaryDirectory(prefix="gatescope-bench-")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--port", str(self.port), "--data-dir",
             self.data.name, "--log-level", "warning", "--workers", str(workers)],
            cwd=ROOT, env={**os.environ, "GATESCOPE_MAX_WS_CONNECTIONS": "1000",
                           "GATESCOPE_MAX_CONNECTIONS_PER_CLIENT": "2000", **(env or {})})
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


def create_text_session(server: Server, hidden: int, steps: int) -> str:
    """An LSTM session on `steps` characters of ten letters (a 1M-step session of numbers
    would be a body over the server's limit)."""
    rng = random.Random(hidden)
    text = "".join(rng.choice("abcdefghij") for _ in range(steps))
    response = httpx.post(server.url + "/api/sessions", timeout=600, content=json.dumps({
        "cell": "lstm", "hidden_size": hidden, "seed": 1, "sequence": {"text": text}}),
        headers={"content-type": "application/json"})
    if response.status_code != 201:
        raise RuntimeError(f"{response.status_code}: {response.text[:300]}")
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


async def observe(url: str, port: int, small_id: str, small_steps: int,
                  seconds: float) -> tuple[list[float], list[float], list[str], list[float]]:
    """Another user (a tab of its own): GETs the small session and seeks on it, 20 times a
    second each, and creates a small session 5 times a second."""
    stop_at = time.monotonic() + seconds
    gets: list[float] = []
    seeks: list[float] = []
    creates: list[float] = []
    errors: list[str] = []
    tab = {"X-Gatescope-Tab": "observer-tab-0001"}

    async def creator() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=120, headers=tab) as client:
            k = 0
            while time.monotonic() < stop_at:
                k += 1
                started = time.perf_counter()
                response = await client.post("/api/sessions", json={
                    "preset": "counter", "sequence": {"text": f"(({k}))"}})
                creates.append(time.perf_counter() - started)
                if response.status_code != 201:
                    errors.append(f"POST {response.status_code}")
                await asyncio.sleep(0.2)

    async def getter() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=30, headers=tab) as client:
            while time.monotonic() < stop_at:
                started = time.perf_counter()
                response = await client.get(f"/api/sessions/{small_id}")
                gets.append(time.perf_counter() - started)
                if response.status_code != 200:
                    errors.append(f"GET {response.status_code}")
                await asyncio.sleep(0.05)

    async def seeker() -> None:
        rng = random.Random(7)
        address = (f"ws://127.0.0.1:{port}/api/sessions/{small_id}/stream?format=binary"
                   "&tab=observer-tab-0001")
        async with websockets.connect(address, compression=None, max_size=2**24,
                                      open_timeout=30) as ws:
            while time.monotonic() < stop_at:
                seeks.append(await seek_and_wait(ws, rng.randrange(small_steps)))
                await asyncio.sleep(0.05)

    await asyncio.gather(getter(), seeker(), creator())
    return gets, seeks, errors, creates


def _observer_process(url, port, small_id, small_steps, seconds, results) -> None:
    results.put(asyncio.run(observe(url, port, small_id, small_steps, seconds)))


async def storm(server: Server, big_id: str, big_steps: int, small_id: str,
                small_steps: int, sockets: int, seconds: float) -> None:
    """`sockets` clients seek at random on the big session as fast as answered; meanwhile
    another user, in a process of its own (so that its figures are the server's, not this
    client's busy event loop), GETs a small session and seeks on it."""
    import multiprocessing

    stop_at = time.monotonic() + seconds
    storm_latencies: list[float] = []
    errors: list[str] = []
    frames = [0] * sockets  # frames each storming socket received

    async def stormer(index: int) -> None:
        rng = random.Random(1000 + index)
        try:
            async with websockets.connect(ws_url(server, big_id, "binary"), compression=None,
                                          max_size=2**24, open_timeout=30) as ws:
                while time.monotonic() < stop_at:
                    waiting = asyncio.ensure_future(seek_and_wait(ws, rng.randrange(big_steps)))
                    done, _ = await asyncio.wait({waiting}, timeout=stop_at - time.monotonic())
                    if not done:  # the storm is over before this frame came
                        waiting.cancel()
                        break
                    storm_latencies.append(waiting.result())
                    frames[index] += 1
        except Exception as exc:  # noqa: BLE001 - counted and reported
            errors.append(f"{type(exc).__name__}: {exc}")

    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    observer = context.Process(target=_observer_process, args=(
        server.url, server.port, small_id, small_steps, seconds - 2.0, results))
    storming = asyncio.gather(*(stormer(i) for i in range(sockets)))
    await asyncio.sleep(1.0)  # the storm is under way
    observer.start()
    await storming
    gets, seeks, observed_errors, creates = await asyncio.to_thread(results.get, True, 120)
    observer.join(10)
    print(f"    storm, {sockets} sockets on H=512: {percentiles(storm_latencies)}")
    print(f"    frames per storming socket: min {min(frames)}, median "
          f"{int(np.median(frames))}, max {max(frames)}; sockets with none "
          f"{sum(1 for n in frames if n == 0)} of {sockets}")
    print(f"    the other user's GET          : {percentiles(gets)}")
    print(f"    its creates                   : {percentiles(creates)}")
    print(f"    its seeks on a small session  : {percentiles(seeks)}")
    errors += observed_errors
    print(f"    errors {len(errors)}{': ' + errors[0] if errors else ''}")


async def observed(server: Server, small_id: str, seconds: float, attack) -> None:
    """Run `attack(stop_at)` while another user (a process of its own) GETs, seeks and
    creates; print the other user's figures."""
    import multiprocessing

    stop_at = time.monotonic() + seconds
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    observer = context.Process(target=_observer_process, args=(
        server.url, server.port, small_id, 200, seconds - 2.0, results))
    attacking = asyncio.ensure_future(attack(stop_at))
    await asyncio.sleep(1.0)  # the storm is under way
    observer.start()
    await attacking
    gets, seeks, errors, creates = await asyncio.to_thread(results.get, True, 300)
    observer.join(10)
    print(f"    the other user's GET          : {percentiles(gets)}")
    print(f"    its creates                   : {percentiles(creates)}")
    print(f"    its seeks on a small session  : {percentiles(seeks)}")
    print(f"    its errors {len(errors)}{': ' + errors[0] if errors else ''}")


async def sensitivity_storm(server: Server, small_id: str, requests: int,
                            seconds: float) -> None:
    """`requests` concurrent heavy sensitivity requests (window 4096, H 1024), each client
    asking again as soon as answered."""
    values = np.random.default_rng(5).standard_normal((5000, INPUT_SIZE)).round(4)
    created = httpx.post(server.url + "/api/sessions", timeout=600, json={
        "cell": "lstm", "hidden_size": 1024, "seed": 1,
        "sequence": {"values": values.tolist()}})
    created.raise_for_status()
    big = created.json()["id"]
    answered: list[float] = []
    statuses: dict[int, int] = {}

    async def attack(stop_at: float) -> None:
        async def one(k: int) -> None:
            rng = random.Random(k)
            async with httpx.AsyncClient(base_url=server.url, timeout=600) as client:
                while time.monotonic() < stop_at:
                    started = time.perf_counter()
                    response = await client.get(f"/api/sessions/{big}/sensitivity", params={
                        "t": rng.randrange(4096, 5000), "unit": rng.randrange(1024),
                        "window": 4096})
                    answered.append(time.perf_counter() - started)
                    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        await asyncio.gather(*(one(k) for k in range(requests)))

    await observed(server, small_id, seconds, attack)
    print(f"    sensitivity answers {percentiles(answered)}, statuses {statuses}")


async def progress_storm(server: Server, small_id: str, sockets: int, seconds: float) -> None:
    """`sockets` progress sockets (each a tab of its own) on one running training job."""
    job = httpx.post(server.url + "/api/train", timeout=60, json={
        "text": "the cat sat on the mat; the bat ate the rat. " * 20, "hidden_size": 64,
        "steps": 20_000, "seq_len": 32, "batch": 8}).json()["job"]
    admitted, refused, messages = [0], [0], [0]
    reasons: dict[str, int] = {}

    async def attack(stop_at: float) -> None:
        async def one(k: int) -> None:
            url = (f"ws://127.0.0.1:{server.port}/api/train/{job}/progress"
                   f"?tab=storm-tab-{k:06d}")
            try:
                async with websockets.connect(url, open_timeout=60) as ws:
                    first = json.loads(await ws.recv())
                    if "state" not in first:  # an error message, not the job's record
                        refused[0] += 1
                        reason = str(first.get("error")).split(";")[0][:60]
                        reasons[reason] = reasons.get(reason, 0) + 1
                        return
                    admitted[0] += 1
                    while time.monotonic() < stop_at:
                        try:
                            await asyncio.wait_for(ws.recv(), max(0.1, stop_at - time.monotonic()))
                            messages[0] += 1
                        except asyncio.TimeoutError:
                            break
            except (OSError, websockets.WebSocketException) as exc:
                refused[0] += 1
                reason = f"{type(exc).__name__}: {exc}"[:60]
                reasons[reason] = reasons.get(reason, 0) + 1

        await asyncio.gather(*(one(k) for k in range(sockets)))

    await observed(server, small_id, seconds, attack)
    httpx.delete(f"{server.url}/api/train/{job}", timeout=60)
    print(f"    progress sockets admitted {admitted[0]}, refused {refused[0]} ({reasons}), "
          f"messages to the admitted {messages[0]}")


async def idle(stop_at: float) -> None:
    """No attack: the other user's figures on the same server and load (the peer)."""
    await asyncio.sleep(max(0.0, stop_at - time.monotonic()))


async def storms(args: argparse.Namespace) -> None:
    """The three storms of the fair-share issue, with another user's GET and create."""
    server = Server(args.workers)
    try:
        print(f"gatescope server on {server.url}, {args.workers} worker(s), load average "
              f"{os.getloadavg()[0]:.1f}")
        big_id = create_session(server, 512, STEPS[512])
        small_id = create_session(server, 64, 200)
        time.sleep(5)
        print("  no storm (the peer: the same server, machine and load)")
        await observed(server, small_id, args.seconds, idle)
        print(f"  seek storm: {args.storm} sockets on a 10k-step H=512 session")
        await storm(server, big_id, STEPS[512], small_id, 200, args.storm, args.seconds)
        print(f"  seek storm: {args.storm} sockets on a 1M-step H=512 session (its trace is "
              f"bigger than the cache: seeks recompute)")
        try:
            long_id = create_text_session(server, 512, 1_000_000)
        except RuntimeError as refused:
            print(f"    the server refused the session: {refused}")
        else:
            started = time.perf_counter()  # its last step: the whole trace computed once
            httpx.get(f"{server.url}/api/sessions/{long_id}/trace", timeout=900, params={
                "start": 999_999, "stop": 1_000_000}).raise_for_status()
            print(f"    its trace computed to the end in {time.perf_counter() - started:.0f} s")
            await storm(server, long_id, 1_000_000, small_id, 200, args.storm, args.seconds)
        print("  sensitivity storm: 16 concurrent requests, window 4096, H=1024")
        await sensitivity_storm(server, small_id, 16, args.seconds)
        print("  progress storm: 200 sockets on one training job")
        await progress_storm(server, small_id, 200, args.seconds)
    finally:
        server.stop()


async def first_frame_of_a_long_session(server: Server, steps: int = 1_000_000) -> None:
    text = "".join(random.Random(3).choice("abcdefghij") for _ in range(steps))
    body = json.dumps({"cell": "lstm", "hidden_size": 64, "seed": 0,
                       "sequence": {"text": text}})
    async with httpx.AsyncClient(base_url=server.url, timeout=120) as client:
        started = time.perf_counter()
        response = await client.post("/api/sessions", content=body,
                                     headers={"content-type": "application/json"})
        created = time.perf_counter() - started
        response.raise_for_status()
        session_id = response.json()["id"]
    async with websockets.connect(ws_url(server, session_id, "binary"), compression=None,
                                  max_size=2**24) as ws:
        await seek_and_wait(ws, 0)
    first = time.perf_counter() - started
    print(f"    {steps} steps, lstm H=64, text: 201 after {created:.2f} s, first frame "
          f"{first:.2f} s after the POST")


async def storms_only(args: argparse.Namespace) -> None:
    server = Server(args.workers)
    try:
        print(f"gatescope server on {server.url}, load average {os.getloadavg()[0]:.1f}")
        big_id = create_session(server, 512, STEPS[512])
        small_id = create_session(server, 64, 200)
        time.sleep(5)  # the background computation of the big session is done or nearly
        print("  seek storm (the default 512 MiB trace cache holds the session)")
        await storm(server, big_id, STEPS[512], small_id, 200, args.storm, args.seconds / 2)
        print("  first frame of a long session")
        await first_frame_of_a_long_session(server)
    finally:
        server.stop()


async def main_async(args: argparse.Namespace) -> None:
    if args.only == "storm":
        await storms_only(args)
        return
    if args.only == "storms":
        await storms(args)
        return
    if args.only == "progress":
        server = Server(args.workers)
        try:
            small_id = create_session(server, 64, 200)
            print(f"  no storm (the peer), {args.workers} worker(s), load average "
                  f"{os.getloadavg()[0]:.1f}")
            await observed(server, small_id, args.seconds, idle)
            print(f"  progress storm: 200 sockets on one training job, {args.workers} worker(s)")
            await progress_storm(server, small_id, 200, args.seconds)
        finally:
            server.stop()
        return
    server = Server(args.workers)
    peer = Peer()
    try:
        print(f"gatescope server on {server.url}, {args.workers} worker(s), "
              f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; lstm, "
              f"input {INPUT_SIZE}")
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
        print("  play, one client, H=64")
        for rate in (30, 120, 1000):
            await play_rate(server, sessions[64], STEPS[64], rate)
        for hidden in args.many_hidden:
            print(f"  random seeks, many clients, H={hidden}")
            for pace, fmt in ((args.pace, "binary"), (args.pace, "json"), (0.0, "binary")):
                await many_clients(server, sessions[hidden], STEPS[hidden], args.clients,
                                   args.seconds, pace, fmt)
        print("  seek storm (the default 512 MiB trace cache holds the session)")
        small_id = create_session(server, 64, 200)
        await storm(server, sessions[512], STEPS[512], small_id, 200, args.storm,
                    args.seconds / 2)
        print("  first frame of a long session")
        await first_frame_of_a_long_session(server)
        print(f"  health: {httpx.get(server.url + '/api/health').json()}")
    finally:
        server.stop()
        peer.stop()
    print("  seek storm with recomputes (a server with a 128 MiB trace cache)")
    small = Server(args.workers, env={"GATESCOPE_TRACE_CACHE_BYTES": str(128 * 2**20)})
    try:
        big_id = create_session(small, 512, STEPS[512])
        small_id = create_session(small, 64, 200)
        await storm(small, big_id, STEPS[512], small_id, 200, args.storm, args.seconds / 2)
    finally:
        small.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--pace", type=float, default=10.0,
                        help="seeks per second per client in the paced many-clients run")
    parser.add_argument("--many-hidden", type=int, nargs="+", default=[512],
                        choices=list(STEPS), help="hidden sizes for the many-clients run")
    parser.add_argument("--storm", type=int, default=48, help="sockets in the seek storm")
    parser.add_argument("--only", choices=["storm", "storms", "progress"],
                        help="only the seek storm (default cache) and the first frame; or "
                             "'storms': the seek, sensitivity and progress storms with "
                             "another user's GET and create")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
