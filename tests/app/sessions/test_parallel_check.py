"""A session of a kind with a parallel form reports parallel_max_abs_diff: the engine's
parallel and step-by-step runs of its cell over its inputs, computed independently here."""

import numpy as np
import pytest

import cells


@pytest.mark.parametrize("kind,options", [("min_gru", {}), ("min_lstm", {}),
                                          ("min_lstm", {"normalize": False})])
def test_session_reports_the_parallel_difference(client, kind, options):
    xs = np.random.default_rng(0).normal(0, 1, (40, 3))
    r = client.post("/api/sessions", json={"cell": kind, "hidden_size": 5, "seed": 2,
                                           "options": options, "dtype": "float64",
                                           "sequence": {"values": xs.tolist()}})
    assert r.status_code in (200, 201), r.text
    body = client.get(f"/api/sessions/{r.json()['id']}").json()
    cell = cells.create(kind, input_size=3, hidden_size=5, seed=2, dtype="float64", **options)
    step, par = cell.run(xs), cell.run(xs, parallel=True)
    expected = max(float(abs(step[n] - par[n]).max()) for n in cell.layout.names)
    assert body["parallel_max_abs_diff"] == pytest.approx(expected, abs=1e-15)
    assert 0 <= body["parallel_max_abs_diff"] < 1e-10


def test_kinds_without_a_parallel_form_report_none(client):
    r = client.post("/api/sessions", json={"cell": "slstm", "hidden_size": 4, "seed": 1,
                                           "options": {"heads": 2},
                                           "sequence": {"values": [[0.5, -1.0]] * 6}})
    assert r.status_code in (200, 201), r.text
    body = client.get(f"/api/sessions/{r.json()['id']}").json()
    assert body.get("parallel_max_abs_diff") is None
    assert body["options"] == {"heads": 2, "stabilized": True} and body["cell"] == "slstm"
