"""GET /api/sessions/{id}/sensitivity: the engine's `trace.sensitivity` over HTTP, checked
against torch autograd's jacobian norms computed here, with its window setting and its
refusals (t, unit, of, window)."""

import numpy as np
import pytest

import cells
from tests.sensitivity_reference import torch_norms
from tests.support import assert_error, create_session

RNG = np.random.default_rng(3)
VALUES = RNG.normal(size=(12, 3)).round(6).tolist()


@pytest.fixture
def lstm64(client):
    return create_session(client, cell="lstm", hidden_size=4, seed=5, dtype="float64",
                          sequence={"values": VALUES})


@pytest.mark.parametrize("of", ["h", "c"])
def test_values_equal_the_engine_and_torch_autograd(client, lstm64, of):
    t, unit = 9, 2
    r = client.get(f"/api/sessions/{lstm64['id']}/sensitivity",
                   params={"t": t, "unit": unit, "of": of})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["start"], body["t"], body["unit"], body["of"]) == (0, t, unit, of)
    cell = cells.create("lstm", input_size=3, hidden_size=4, seed=5, dtype="float64")
    engine = cell.run(np.asarray(VALUES)).sensitivity(t, unit, of=of)
    expected = torch_norms(cell, VALUES, t, unit, of)
    for v in ("x", "h", "c"):
        assert len(body[v]) == t + 1
        np.testing.assert_array_equal(body[v], engine[v])  # the engine's numbers, unchanged
        np.testing.assert_allclose(body[v], expected[v], rtol=1e-10, atol=1e-12)


def test_window_default_and_cap_come_from_settings(make_client):
    client = make_client(sensitivity_window=4, max_sensitivity_window=6)
    s = create_session(client, cell="gru", hidden_size=3, seed=1, sequence={"values": VALUES})
    base = f"/api/sessions/{s['id']}/sensitivity"
    body = client.get(base, params={"t": 10, "unit": 1}).json()
    assert body["start"] == 7 and len(body["h"]) == 4 and body["c"] is None
    assert client.get(base, params={"t": 10, "window": 6}).json()["start"] == 5
    assert_error(client.get(base, params={"t": 10, "window": 7}), 422, "window", "6")
    assert_error(client.get(base, params={"t": 10, "window": 0}), 422, "window")


def test_a_window_across_segments_equals_one_run(make_client):
    """Windows reaching into the segment before are rerun from the state there."""
    from app.sessions import traces

    client = make_client()
    values = RNG.normal(size=(300, 2)).tolist()
    s = create_session(client, cell="lstm", hidden_size=3, seed=2, dtype="float64",
                       sequence={"values": values})
    shared = client.app.state.sessions.trace(client.app.state.sessions.get(s["id"]))
    shared.segment_steps = 128  # force small segments on this trace (multiples of 128 only)
    assert traces.CHUNK >= 128
    body = client.get(f"/api/sessions/{s['id']}/sensitivity",
                      params={"t": 200, "unit": 0, "window": 100}).json()
    cell = cells.create("lstm", input_size=2, hidden_size=3, seed=2, dtype="float64")
    engine = cell.run(np.asarray(values)).sensitivity(200, 0, window=100)
    assert body["start"] == 101
    for v in ("x", "h", "c"):
        np.testing.assert_allclose(body[v], engine[v], rtol=1e-9, atol=1e-13)


def test_refusals_name_the_parameter(client, lstm64):
    base = f"/api/sessions/{lstm64['id']}/sensitivity"
    assert_error(client.get(base, params={"t": 12}), 422, "t", "[0, 11]")
    assert_error(client.get(base, params={"t": -1}), 422, "t")
    assert_error(client.get(base, params={"t": 3, "unit": 4}), 422, "unit", "[0, 3]")
    assert client.get(base, params={"t": 3, "of": "g"}).status_code == 422
    assert client.get(base).status_code == 422  # t is required
    rnn = create_session(client, cell="rnn", hidden_size=2, seed=0, sequence={"values": VALUES})
    assert_error(client.get(f"/api/sessions/{rnn['id']}/sensitivity",
                            params={"t": 3, "of": "c"}), 422, "of", "no cell state")
    assert client.get("/api/sessions/" + "0" * 32 + "/sensitivity",
                      params={"t": 0}).status_code == 404
