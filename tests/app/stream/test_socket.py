"""The WebSocket stream: seek, step, play, pause, errors, Origin, limits, no task left."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest
from starlette.websockets import WebSocketDisconnect

import cells
from app.stream.socket import SendQueue, StreamStats
from tests.support import COUNTER_TEXT, counter_trace, create_session, wait_until

STEPS = len(COUNTER_TEXT)


def stream_url(session) -> str:
    return f"/api/sessions/{session['id']}/stream"


def assert_frame_is_the_engines(frame: dict, expected) -> None:
    t = frame["t"]
    assert list(frame["signals"]) == list(expected.names)
    for name, values in frame["signals"].items():
        assert np.array_equal(np.array(values, expected.cell.dtype), expected[name][t]), name


def test_seek_and_step(client, counter_session):
    expected = counter_trace()
    with client.websocket_connect(stream_url(counter_session)) as ws:
        ws.send_json({"seek": 5})
        frame = ws.receive_json()
        assert (frame["t"], frame["seq"], frame["steps"], frame["playing"]) == (5, 1, STEPS, False)
        assert_frame_is_the_engines(frame, expected)
        ws.send_json({"step": 1})
        assert ws.receive_json()["t"] == 6
        ws.send_json({"step": -1})
        assert ws.receive_json()["t"] == 5
        ws.send_json({"step": -100})
        frame = ws.receive_json()
        assert frame["t"] == 0 and frame["seq"] == 4
        assert_frame_is_the_engines(frame, expected)
        ws.send_json({"step": 1000})
        frame = ws.receive_json()
        assert frame["t"] == STEPS - 1
        assert_frame_is_the_engines(frame, expected)


def test_every_frame_equals_the_engine(client):
    values = np.random.default_rng(0).standard_normal((12, 5)).tolist()
    s = create_session(client, cell="gru", hidden_size=6, seed=4, sequence={"values": values})
    expected = cells.create("gru", input_size=5, hidden_size=6, seed=4).run(np.array(values))
    with client.websocket_connect(stream_url(s)) as ws:
        for t in range(12):
            ws.send_json({"seek": t})
            assert_frame_is_the_engines(ws.receive_json(), expected)


def test_play_to_the_end(client, counter_session):
    with client.websocket_connect(stream_url(counter_session)) as ws:
        ws.send_json({"play": 500})
        seen = []
        while True:
            frame = ws.receive_json()
            seen.append(frame)
            if not frame["playing"]:
                break
        assert seen[0]["t"] == 0 and seen[0]["playing"]
        assert seen[-1]["t"] == STEPS - 1
        ts = [f["t"] for f in seen]
        assert ts == sorted(ts)
        seqs = [f["seq"] for f in seen]
        assert seqs == list(range(1, len(seen) + 1))
        assert_frame_is_the_engines(seen[len(seen) // 2], counter_trace())


def test_play_then_pause(client, app_state, counter_session):
    with client.websocket_connect(stream_url(counter_session)) as ws:
        ws.send_json({"play": 20})
        first = ws.receive_json()
        assert first["playing"]
        assert app_state.streams.tasks == 3  # receiver, sender, player
        ws.send_json({"pause": True})
        while (frame := ws.receive_json())["playing"]:
            pass
        assert frame["t"] < STEPS - 1
        assert wait_until(lambda: app_state.streams.tasks == 2, "two stream tasks")
        ws.send_json({"seek": 1})  # still answering after a pause
        assert ws.receive_json()["t"] == 1


def test_seek_while_playing_plays_on_from_there(client, counter_session):
    with client.websocket_connect(stream_url(counter_session)) as ws:
        ws.send_json({"play": 10})
        ws.receive_json()
        ws.send_json({"seek": 30})
        while (frame := ws.receive_json())["t"] < 30:
            pass
        assert frame["t"] == 30 and frame["playing"]
        nxt = ws.receive_json()
        assert nxt["t"] == 31 and nxt["playing"]


@pytest.mark.parametrize("rate", [1000, 5])
def test_disconnect_mid_play_leaves_no_task(client, app_state, counter_session, rate):
    with client.websocket_connect(stream_url(counter_session)) as ws:
        ws.send_json({"play": rate})
        ws.receive_json()
        assert app_state.streams.tasks == 3 and app_state.streams.connections == 1
    assert wait_until(lambda: app_state.streams.tasks == 0, "no stream task left")
    assert app_state.streams.connections == 0


def test_errors_keep_the_connection(client, counter_session):
    bad = [
        ("not json", "not JSON"),
        (json.dumps({"seek": -1}), "seek"),
        (json.dumps({"seek": STEPS}), "past the last step"),
        (json.dumps({"seek": "five"}), "seek"),
        (json.dumps({"play": 0}), "play"),
        (json.dumps({"play": 10**9}), "over the limit"),
        (json.dumps({"pause": False}), "pause"),
        (json.dumps({"jump": 3}), '"seek"'),
        (json.dumps({"seek": 1, "step": 1}), '"seek"'),
        (json.dumps([1, 2]), '"seek"'),
    ]
    with client.websocket_connect(stream_url(counter_session)) as ws:
        for text, fragment in bad:
            ws.send_text(text)
            reply = ws.receive_json()
            assert fragment in reply["error"], (text, reply)
        ws.send_bytes(b'{"seek": 1}')
        assert "text" in ws.receive_json()["error"]
        ws.send_json({"seek": 2})
        frame = ws.receive_json()
        assert frame["t"] == 2 and frame["seq"] == 1  # errors carry no seq


def test_oversized_message_closes_with_1009(client, counter_session):
    with client.websocket_connect(stream_url(counter_session)) as ws:
        ws.send_text(json.dumps({"seek": 1, "pad": "x" * 70_000}))
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 1009


def test_unknown_session(client):
    with client.websocket_connect("/api/sessions/AAAAAAAAAAAAAAAAAAAAAA/stream") as ws:
        assert "no session" in ws.receive_json()["error"]
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 4404


@pytest.mark.parametrize("origin", ["http://evil.example", "http://testserver:81", "null",
                                    "file://", "http://testserver.evil.example"])
def test_foreign_origin_is_refused(client, counter_session, origin):
    with pytest.raises(WebSocketDisconnect) as refused:
        with client.websocket_connect(stream_url(counter_session), headers={"origin": origin}):
            pass
    assert refused.value.code == 1008


@pytest.mark.parametrize("origin", ["http://testserver", "http://testserver:80", None])
def test_same_origin_or_none_is_accepted(client, counter_session, origin):
    headers = {"origin": origin} if origin else {}
    with client.websocket_connect(stream_url(counter_session), headers=headers) as ws:
        ws.send_json({"seek": 0})
        assert ws.receive_json()["t"] == 0


def test_allowed_origins_setting(make_client):
    client = make_client(allowed_origins=("http://localhost:5173",))
    s = create_session(client, preset="counter", sequence={"text": "()"})
    with client.websocket_connect(stream_url(s), headers={"origin": "http://localhost:5173"}) as ws:
        ws.send_json({"seek": 1})
        assert ws.receive_json()["t"] == 1


def test_connection_cap(make_client):
    client = make_client(max_ws_connections=1)
    s = create_session(client, preset="counter", sequence={"text": "()"})
    with client.websocket_connect(stream_url(s)) as first:
        with client.websocket_connect(stream_url(s)) as second:
            assert "too many" in second.receive_json()["error"]
            with pytest.raises(WebSocketDisconnect) as closed:
                second.receive_json()
            assert closed.value.code == 1013
        first.send_json({"seek": 1})
        assert first.receive_json()["t"] == 1


def test_stream_sees_appended_steps(client, counter_session):
    with client.websocket_connect(stream_url(counter_session)) as ws:
        ws.send_json({"seek": STEPS - 1})
        assert ws.receive_json()["steps"] == STEPS
        client.post(f"/api/sessions/{counter_session['id']}/append", json={"text": "()"})
        ws.send_json({"seek": STEPS + 1})
        frame = ws.receive_json()
        assert (frame["t"], frame["steps"]) == (STEPS + 1, STEPS + 2)
        assert_frame_is_the_engines(frame, counter_trace(COUNTER_TEXT + "()"))


def test_send_queue_keeps_only_the_newest():
    async def scenario():
        stats = StreamStats()
        queue = SendQueue(4, stats)
        for t in range(100):
            queue.put(t)
        got = [await queue.get() for _ in range(4)]
        return got, stats.frames_dropped

    got, dropped = asyncio.run(scenario())
    assert got == [96, 97, 98, 99] and dropped == 96


def test_float64_frames_are_exact(client):
    values = np.random.default_rng(5).standard_normal((4, 3)).tolist()
    s = create_session(client, cell="pseudo_lstm", hidden_size=4, seed=2, dtype="float64",
                       sequence={"values": values})
    expected = cells.create("pseudo_lstm", input_size=3, hidden_size=4, seed=2,
                            dtype="float64").run(np.array(values))
    with client.websocket_connect(stream_url(s)) as ws:
        for t in (3, 0):
            ws.send_json({"seek": t})
            assert_frame_is_the_engines(ws.receive_json(), expected)


def decode_binary(message: bytes) -> dict:
    """A binary frame read as the page reads it: head length, JSON head, aligned values."""
    n = int.from_bytes(message[:4], "little")
    assert (4 + n) % 8 == 0, "values must start at a multiple of 8 bytes"
    head = json.loads(message[4:4 + n])
    dtype = np.dtype("<" + {"float32": "f4", "float64": "f8"}[head["dtype"]])
    offset, signals = 4 + n, {}
    for name, length in head["signals"]:
        signals[name] = np.frombuffer(message, dtype, length, offset)
        offset += length * dtype.itemsize
    assert offset == len(message), "no bytes after the last signal"
    return {**head, "signals": signals}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_binary_frames_carry_the_engines_bits(client, dtype):
    values = np.random.default_rng(6).standard_normal((6, 3)).tolist()
    s = create_session(client, cell="peephole_lstm", hidden_size=5, seed=3, dtype=dtype,
                       sequence={"values": values})
    expected = cells.create("peephole_lstm", input_size=3, hidden_size=5, seed=3,
                            dtype=dtype).run(np.array(values))
    with client.websocket_connect(stream_url(s) + "?format=binary") as ws:
        for t in (4, 0, 5):
            ws.send_json({"seek": t})
            frame = decode_binary(ws.receive_bytes())
            assert (frame["t"], frame["steps"], frame["playing"]) == (t, 6, False)
            assert frame["dtype"] == dtype
            assert list(frame["signals"]) == list(expected.names)
            for name, got in frame["signals"].items():
                assert got.dtype == expected[name].dtype
                assert np.array_equal(got, expected[name][t]), name
        ws.send_json({"seek": 99})  # errors stay JSON text in either format
        assert "past the last step" in ws.receive_json()["error"]


def test_binary_and_json_streams_agree(client, counter_session):
    with client.websocket_connect(stream_url(counter_session)) as text_ws, \
            client.websocket_connect(stream_url(counter_session) + "?format=binary") as bin_ws:
        for t in range(STEPS):
            text_ws.send_json({"seek": t})
            bin_ws.send_json({"seek": t})
            a, b = text_ws.receive_json(), decode_binary(bin_ws.receive_bytes())
            assert (a["t"], a["seq"], a["steps"]) == (b["t"], b["seq"], b["steps"]) == (
                t, t + 1, STEPS)
            assert list(a["signals"]) == list(b["signals"])
            for name, values in a["signals"].items():
                assert np.array_equal(np.array(values, np.float32), b["signals"][name]), name


def test_unknown_frame_format_is_refused(client, counter_session):
    with client.websocket_connect(stream_url(counter_session) + "?format=msgpack") as ws:
        assert "format: 'msgpack'" in ws.receive_json()["error"]
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 1008
