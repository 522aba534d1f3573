"""An mLSTM session through the API: its memory C (heads × d × d per step) and per-head
gates in the trace, equal to the engine's; its sizes in the part; the parallel check; a
held input gate; the sensitivity of a unit (to x and to the memory)."""

from __future__ import annotations

import numpy as np
import pytest

import cells
from tests.support import create_session

XS = np.random.default_rng(0).normal(0, 1, (40, 2)).round(3)


@pytest.fixture
def mlstm_session(client) -> dict:
    return create_session(client, cell="mlstm", hidden_size=4, seed=1,
                          sequence={"values": XS.tolist()}, options={"heads": 2})


def test_the_session_serves_the_memory_and_says_its_shapes(client, mlstm_session):
    body = client.get(f"/api/sessions/{mlstm_session['id']}").json()
    part = body["parts"][0]["forward"]
    assert part["dims"] == {"I": 2, "H": 4, "heads": 2, "d": 2}
    shapes = {s["name"]: s["shape"] for s in part["signals"]}
    assert shapes["C"] == ["heads", "d", "d"] and shapes["i"] == ["heads"]
    assert shapes["h"] == ["H"]
    assert body["parallel_max_abs_diff"] <= 1e-5
    window = client.get(f"/api/sessions/{mlstm_session['id']}/trace",
                        params={"start": 30, "stop": 40}).json()["signals"]
    expected = cells.create("mlstm", input_size=2, hidden_size=4, seed=1, heads=2).run(XS)
    for name in ("C", "C_prev", "n", "m", "i", "f", "q", "h_tilde", "h"):
        assert np.array_equal(np.array(window[name], np.float32), expected[name][30:40]), name


def test_a_held_gate_and_the_sensitivity(client):
    held = [{"signal": "i", "start": 5, "stop": 9, "units": [1], "value": 0.0}]
    session = create_session(client, cell="mlstm", hidden_size=4, seed=1,
                             sequence={"values": XS.tolist()}, options={"heads": 2},
                             interventions=held)
    window = client.get(f"/api/sessions/{session['id']}/trace",
                        params={"start": 0, "stop": 12}).json()["signals"]
    cell = cells.create("mlstm", input_size=2, hidden_size=4, seed=1, heads=2)
    expected = cell.run(XS, interventions=held)
    assert np.array_equal(np.array(window["C"], np.float32), expected["C"][:12])
    assert all(row[1] == 0 for row in window["i"][5:9])
    response = client.get(f"/api/sessions/{session['id']}/sensitivity",
                          params={"t": 20, "unit": 3, "window": 8})
    assert response.status_code == 200, response.text
    body = response.json()
    ours = expected.sensitivity(20, 3, window=8)
    np.testing.assert_allclose(body["x"], ours["x"], rtol=1e-6)
    np.testing.assert_allclose(body["h"], ours["C"], rtol=1e-6)  # the memory's
