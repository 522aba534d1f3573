"""GET /api/sessions/{id}/sensitivity: the engine's `trace.sensitivity` over HTTP, checked
against torch autograd's jacobian norms computed here, with its window setting and its
refusals (t, unit, of, window)."""

import numpy as np
import pytest
import torch

import cells
from tests.support import assert_error, create_session

torch.set_num_threads(1)

RNG = np.random.default_rng(3)
VALUES = RNG.normal(size=(12, 3)).round(6).tolist()


def torch_norms(cell, xs, t, unit, of):
    """‖∂ of_t[unit] / ∂ v_s‖ for v = x, h, c by torch.autograd.functional.jacobian, each
    state after step s an independent variable (later inputs fixed)."""
    m = torch.nn.LSTMCell(cell.input_size, cell.hidden_size, dtype=torch.float64)
    m.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in cell.params.items()})
    xs_t = torch.from_numpy(np.asarray(xs, np.float64))
    H = cell.hidden_size
    states = [(torch.zeros(H, dtype=torch.float64), torch.zeros(H, dtype=torch.float64))]
    for x in xs_t[:t + 1]:
        h, c = m(x[None], (states[-1][0][None], states[-1][1][None]))
        states.append((h[0], c[0]))

    def run(first, h, c, x_first=None):
        for s in range(first, t + 1):
            x = x_first if (s == first and x_first is not None) else xs_t[s]
            h, c = (v[0] for v in m(x[None], (h[None], c[None])))
        return (h if of == "h" else c)[unit]

    jac = torch.autograd.functional.jacobian
    out = {"x": [], "h": [], "c": []}
    for s in range(t + 1):
        out["x"].append(jac(lambda x, s=s: run(s, *states[s], x_first=x), xs_t[s]))
        h_s, c_s = states[s + 1]
        out["h"].append(jac(lambda h, s=s, c=c_s: run(s + 1, h, c), h_s))
        out["c"].append(jac(lambda c, s=s, h=h_s: run(s + 1, h, c), c_s))
    return {k: np.array([float(torch.linalg.norm(v)) for v in vs]) for k, vs in out.items()}


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
