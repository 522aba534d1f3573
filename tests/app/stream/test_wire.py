"""app/wire.py: the numbers on the wire read back as the engine's, bit for bit."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.stream import wire


def read_back(encoded: bytes, dtype) -> np.ndarray:
    values = json.loads(encoded)
    return np.array([np.nan if v is None else v for v in values], np.float64).astype(dtype)


def assert_round_trip(values: np.ndarray) -> None:
    encoded = wire.signals_json({"v": values})
    back = read_back(json.dumps(json.loads(encoded)["v"]), values.dtype)
    finite = np.isfinite(values)
    assert np.array_equal(back[finite], values[finite])
    assert np.isnan(back[~finite]).all()  # NaN and ±Inf travel as null


def test_every_float32_bit_pattern_sample_round_trips():
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2**32, 1_000_000, dtype=np.uint64).astype(np.uint32)
    assert_round_trip(bits.view(np.float32))


def test_edges_round_trip():
    powers = np.array([10.0**k for k in range(-45, 39)], np.float32)
    edges = np.concatenate([
        powers, np.nextafter(powers, np.float32(0)), np.nextafter(powers, np.float32(np.inf)),
        -powers,
        np.array([0.0, -0.0, 1e-45, -1e-45, 1.17549435e-38, 3.4028235e38, -3.4028235e38,
                  np.inf, -np.inf, np.nan, 0.5, 1.0, 9.99999999e-1], np.float32),
    ])
    assert_round_trip(edges)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(width=32, allow_nan=False), min_size=1, max_size=50))
def test_any_float32_list_round_trips(values):
    assert_round_trip(np.array(values, np.float32))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=20))
def test_float64_is_written_exactly(values):
    assert_round_trip(np.array(values, np.float64))


def test_one_step_frame_layout():
    frame = {"x": np.array([1.0, -2.5], np.float32), "h": np.array([0.25], np.float32),
             "empty": np.zeros(0, np.float32)}
    message = json.loads(wire.frame_message(3, 7, 10, True, wire.signals_json(frame)))
    assert message == {"t": 3, "seq": 7, "steps": 10, "playing": True,
                       "signals": {"x": [1.0, -2.5], "h": [0.25], "empty": []}}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_window_json_and_csv(dtype):
    rng = np.random.default_rng(1)
    window = {"f": rng.standard_normal((3, 2)).astype(dtype), "x": np.zeros((3, 0), dtype)}
    body = json.loads(wire.window_json(4, 7, window, ["f", "x"]))
    assert (body["start"], body["stop"]) == (4, 7)
    assert np.array_equal(np.array(body["signals"]["f"], np.float64).astype(dtype), window["f"])
    assert body["signals"]["x"] == [[], [], []]
    empty = json.loads(wire.window_json(0, 0, {"f": np.zeros((0, 2), dtype)}, ["f"]))
    assert empty["signals"]["f"] == []
    text = wire.window_csv(4, {"f": window["f"]}, ["f"])
    lines = text.splitlines()
    assert lines[0] == "t,f[0],f[1]"
    rows = np.array([line.split(",") for line in lines[1:]], np.float64)
    assert rows[:, 0].tolist() == [4, 5, 6]
    assert np.array_equal(rows[:, 1:].astype(dtype), window["f"])
