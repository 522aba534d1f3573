"""A Mamba session through the API: its matrix signals in the trace, its sizes in the part,
the hidden attention endpoint (the engine's own numbers, and 4xx naming what is wrong),
and the sensitivity of a channel."""

from __future__ import annotations

import numpy as np
import pytest

import cells
from tests.support import assert_error, create_session

XS = np.random.default_rng(0).normal(0, 1, (70, 2)).round(3)


@pytest.fixture
def mamba_session(client) -> dict:
    return create_session(client, cell="mamba", hidden_size=3, seed=1,
                          sequence={"values": XS.tolist()}, options={"d_state": 4})


def engine_trace():
    cell = cells.create("mamba", input_size=2, hidden_size=3, seed=1, d_state=4)
    return cell.run(XS)


def test_the_session_says_its_shapes_and_serves_matrices(client, mamba_session):
    body = client.get(f"/api/sessions/{mamba_session['id']}").json()
    part = body["parts"][0]["forward"]
    assert part["dims"]["E"] == 6 and part["dims"]["N"] == 4
    shapes = {s["name"]: s["shape"] for s in part["signals"]}
    assert shapes["h"] == ["E", "N"] and shapes["B"] == ["N"] and shapes["out"] == ["H"]
    assert set(part["holdable"]) == {"x_conv", "delta", "decay", "h", "gate"}
    assert body["parallel_max_abs_diff"] <= 1e-5
    window = client.get(f"/api/sessions/{mamba_session['id']}/trace",
                        params={"start": 60, "stop": 70}).json()["signals"]
    expected = engine_trace()
    for name in ("h", "decay", "B", "out", "conv_prev"):
        assert np.array_equal(np.array(window[name], np.float32), expected[name][60:70]), name


def test_hidden_attention_is_the_engines_and_reproduces_y(client, mamba_session):
    response = client.get(f"/api/sessions/{mamba_session['id']}/hidden-attention",
                          params={"t": 69, "channel": 5, "window": 40})
    assert response.status_code == 200, response.text
    body = response.json()
    expected = engine_trace().hidden_attention(5, 69, 40)
    assert body["start"] == 30 and body["channel"] == 5
    assert np.array_equal(np.array(body["weights"]), expected["weights"])
    weights, x = np.array(body["weights"]), np.array(body["x"])
    np.testing.assert_allclose(weights @ x + np.array(body["from_state"]), body["y"],
                               rtol=1e-5, atol=1e-5)
    default = client.get(f"/api/sessions/{mamba_session['id']}/hidden-attention",
                         params={"t": 3}).json()
    assert default["start"] == 0 and len(default["weights"]) == 4


@pytest.mark.parametrize("params,field,fragment", [
    ({"t": 10, "channel": 6}, "channel", "[0, 5]"),
    ({"t": 10, "channel": -1}, "channel", "[0, 5]"),
    ({"t": 70}, "t", "[0, 69]"),
    ({"t": 10, "window": 0}, "window", "[1, 512]"),
    ({"t": 10, "window": 513}, "window", "[1, 512]"),
    ({"t": 10, "layer": 1}, "layer", ""),
])
def test_bad_hidden_attention_requests_are_refused(client, mamba_session, params, field,
                                                   fragment):
    response = client.get(f"/api/sessions/{mamba_session['id']}/hidden-attention",
                          params=params)
    assert_error(response, 422, field, fragment)


def test_hidden_attention_of_another_kind_is_refused(client):
    s = create_session(client, cell="lstm", hidden_size=3, seed=1,
                       sequence={"values": XS[:5].tolist()})
    response = client.get(f"/api/sessions/{s['id']}/hidden-attention", params={"t": 2})
    assert_error(response, 422, "layer", "Mamba")


def test_sensitivity_of_a_channel(client, mamba_session):
    response = client.get(f"/api/sessions/{mamba_session['id']}/sensitivity",
                          params={"t": 50, "unit": 5, "window": 20})
    assert response.status_code == 200, response.text
    body = response.json()
    expected = engine_trace().sensitivity(50, 5, of="y", window=20)
    np.testing.assert_allclose(body["h"], expected["h"], rtol=1e-6)
    np.testing.assert_allclose(body["x"], expected["x"], rtol=1e-6)
    assert_error(client.get(f"/api/sessions/{mamba_session['id']}/sensitivity",
                            params={"t": 50, "unit": 6}), 422, "unit", "channel")
