"""POST /api/sessions with "weight_edits": the edited weights are part of the session (stored,
returned, in its key only when there are some), every route reads the edited cell (trace,
stream, difference, sensitivity), each equal to torch with the same weight changed by the
test; bad edits are 4xx errors naming the field."""

import hashlib
import json

import numpy as np
import pytest
import torch

import cells
from app.sessions.config import SessionConfig
from tests.support import COUNTER_TEXT, assert_error, close, create_session, of_first_part

torch.set_num_threads(1)

T, I, H = 24, 3, 4
XS = np.random.default_rng(7).normal(size=(T, I))


def seeded(client, kind, edits=(), **more):
    return create_session(client, cell=kind, hidden_size=H, seed=5, dtype="float64",
                          sequence={"values": XS.tolist()}, weight_edits=list(edits), **more)


def torch_module(kind, edits):
    """nn.LSTM/nn.GRU with the seeded cell's starting weights, then the edits made by the
    test on torch's own tensors."""
    params = cells.create(kind, input_size=I, hidden_size=H, seed=5, dtype="float64").params
    module = (torch.nn.LSTM if kind == "lstm" else torch.nn.GRU)(I, H, dtype=torch.float64)
    with torch.no_grad():
        for name, a in params.items():
            getattr(module, f"{name}_l0").copy_(torch.from_numpy(np.array(a)))
        for e in edits:
            at = (e["row"],) if e.get("col") is None else (e["row"], e["col"])
            getattr(module, f"{e['param']}_l0")[at] = e["value"]
    return module


def torch_h(module, xs):
    out, _ = module(xs[:, None])
    return out[:, 0]


EDITS = [{"param": "weight_hh", "row": 5, "col": 2, "value": 3.0},
         {"param": "bias_ih", "row": 1, "col": None, "value": -2.0},
         {"param": "weight_ih", "row": 9, "col": 0, "value": 1.5}]
# by parameter (weight_ih, weight_hh, ...), row; recorded with their part (layer 0, forward)
CANONICAL = of_first_part([EDITS[2], EDITS[0], EDITS[1]])


def trace_h(client, session, **params):
    body = client.get(f"/api/sessions/{session['id']}/trace",
                      params={"names": "h", **params}).json()
    return np.asarray(body["signals"]["h"])


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_trace_equals_torch_with_the_same_weights_changed(client, kind):
    s = seeded(client, kind, EDITS)
    assert s["weight_edits"] == CANONICAL
    again = client.get(f"/api/sessions/{s['id']}").json()
    assert again["weight_edits"] == CANONICAL
    with torch.no_grad():
        expected = torch_h(torch_module(kind, EDITS), torch.from_numpy(XS)).numpy()
    close(trace_h(client, s), expected, "float64")
    plain = seeded(client, kind)
    assert plain["weight_edits"] == []
    assert np.abs(trace_h(client, plain) - expected).max() > 1e-3  # the edit mattered

    # the stream serves the edited cell's frames
    with client.websocket_connect(f"/api/sessions/{s['id']}/stream") as ws:
        ws.send_json({"seek": 17})
        frame = ws.receive_json()
    close(frame["signals"]["h"], expected[17], "float64")

    # the difference against the original run is the edited run minus torch's unedited one
    body = client.get(f"/api/sessions/{s['id']}/difference",
                      params={"from": plain["id"], "names": "h", "start": 3, "stop": 20}).json()
    with torch.no_grad():
        unedited = torch_h(torch_module(kind, []), torch.from_numpy(XS)).numpy()
    close(body["signals"]["h"], (expected - unedited)[3:20], "float64")


def test_sensitivity_is_the_edited_cells(client):
    s = seeded(client, "lstm", EDITS)
    t, unit = 15, 2
    body = client.get(f"/api/sessions/{s['id']}/sensitivity",
                      params={"t": t, "unit": unit}).json()
    xs = torch.from_numpy(XS.copy()).requires_grad_()
    torch_h(torch_module("lstm", EDITS), xs)[t, unit].backward()
    expected = xs.grad.norm(dim=1).numpy()[body["start"]:t + 1]
    np.testing.assert_allclose(body["x"], expected, rtol=1e-10, atol=1e-12)
    plain = seeded(client, "lstm")
    other = client.get(f"/api/sessions/{plain['id']}/sensitivity",
                       params={"t": t, "unit": unit}).json()
    assert not np.allclose(other["x"], body["x"])


def test_edits_combine_with_interventions_and_survive_a_restart(make_client):
    first = make_client()
    held = [{"signal": "f", "start": 10, "stop": T, "units": None, "value": 1.0},
            {"signal": "i", "start": 10, "stop": T, "units": None, "value": 0.0}]
    s = seeded(first, "lstm", EDITS, interventions=held)
    second = make_client()  # a new app on the same data directory: nothing cached
    record = second.get(f"/api/sessions/{s['id']}").json()
    assert record["weight_edits"] == CANONICAL and record["interventions"] == of_first_part(held)
    c = np.asarray(second.get(f"/api/sessions/{s['id']}/trace",
                              params={"names": "c"}).json()["signals"]["c"])
    np.testing.assert_array_equal(c[10:], np.tile(c[9], (T - 10, 1)))  # written down
    with torch.no_grad():
        expected = torch_h(torch_module("lstm", EDITS), torch.from_numpy(XS[:10])).numpy()
    close(trace_h(second, s, stop=10), expected, "float64")


def test_append_keeps_the_edits(client):
    s = create_session(client, cell="gru", hidden_size=H, seed=5, dtype="float64",
                       sequence={"values": XS[:10].tolist()}, weight_edits=EDITS)
    trace_h(client, s)  # the trace of the first ten steps exists, so it is extended
    r = client.post(f"/api/sessions/{s['id']}/append", json={"values": XS[10:].tolist()})
    assert r.status_code == 200, r.text
    assert r.json()["weight_edits"] == CANONICAL
    with torch.no_grad():
        expected = torch_h(torch_module("gru", EDITS), torch.from_numpy(XS)).numpy()
    close(trace_h(client, s), expected, "float64")


def test_the_key_is_unchanged_without_edits_and_one_for_any_order(client):
    plain = seeded(client, "lstm")
    one = seeded(client, "lstm", EDITS)
    two = seeded(client, "lstm", list(reversed(EDITS)))
    services = client.app.state.sessions
    a, b, c = (services.get(x["id"]) for x in (plain, one, two))
    assert b.key == c.key != a.key
    assert b.cell_key() == c.cell_key() != a.cell_key()
    # a config without edits hashes exactly the fields sessions were keyed by before
    content = {"cell": a.cell, "options": a.options, "dtype": a.dtype,
               "input_size": a.input_size, "hidden_size": a.hidden_size, "weights": a.weights,
               "vocabulary": a.vocabulary, "sequence": {"values_sha256": a.values_digest}}
    data = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert a.key == hashlib.sha256(data.encode()).hexdigest()
    assert a.cell_key() == json.dumps([a.cell, a.options, a.dtype, a.weights, a.input_size,
                                       a.hidden_size], sort_keys=True)
    # a stored config from before weight edits existed reads with none and the same key
    stored = a.to_json()
    del stored["weight_edits"]
    old = SessionConfig.from_json(stored)
    assert old.weight_edits == () and old.content_key() == a.key


def test_the_weight_route_gives_the_value_used_and_the_original(client):
    s = seeded(client, "lstm", EDITS)
    base = cells.create("lstm", input_size=I, hidden_size=H, seed=5, dtype="float64").params
    got = client.get(f"/api/sessions/{s['id']}/weight",
                     params={"param": "weight_hh", "row": 5, "col": 2}).json()
    assert got == {"param": "weight_hh", "row": 5, "col": 2, "value": 3.0,
                   "original": float(base["weight_hh"][5, 2])}
    got = client.get(f"/api/sessions/{s['id']}/weight",
                     params={"param": "bias_hh", "row": 3}).json()
    assert got["value"] == got["original"] == float(base["bias_hh"][3])
    for params, field, fragment in [
        ({"param": "weight_xx", "row": 0, "col": 0}, "param", "weight_ih, weight_hh"),
        ({"param": "weight_hh", "row": 16, "col": 0}, "row", "outside 0 … 15"),
        ({"param": "weight_hh", "row": 0}, "col", "is required"),
        ({"param": "bias_ih", "row": 0, "col": 1}, "col", "one-dimensional"),
        ({"param": "weight_ih", "row": 0, "col": 3}, "col", "(16, 3)"),
    ]:
        assert_error(client.get(f"/api/sessions/{s['id']}/weight", params=params), 422,
                     field, fragment)
    assert client.get(f"/api/sessions/{'0' * 22}/weight",
                      params={"param": "bias_hh", "row": 0}).status_code == 404


def test_the_session_lists_its_parameters_with_their_gate_blocks(client):
    s = create_session(client, cell="peephole_lstm", hidden_size=2, seed=0,
                       sequence={"text": "abcab"})
    params = {p["name"]: p for p in s["params"]}
    assert params["weight_hh"] == {"name": "weight_hh", "shape": [8, 2],
                                   "blocks": ["i", "f", "g", "o"], "columns": "hidden"}
    assert params["weight_ih"]["shape"] == [8, 3] and params["weight_ih"]["columns"] == "input"
    assert params["peephole_o"] == {"name": "peephole_o", "shape": [2], "blocks": None,
                                    "columns": None}
    gru = create_session(client, cell="gru", hidden_size=2, seed=0, sequence={"text": "ab"})
    assert {p["name"]: p["blocks"] for p in gru["params"]}["bias_hh"] == ["r", "z", "n"]


@pytest.mark.parametrize("edit, fragment", [
    ({"param": "weight_xx", "row": 0, "col": 0, "value": 1.0},
     "has no parameter 'weight_xx'; its parameters: weight_ih, weight_hh, bias_ih, bias_hh"),
    ({"param": "weight_hh", "row": 99, "col": 0, "value": 1.0},
     "weight_edits[0].row: 99 is outside 0 … 15 (weight_hh has shape (16, 4))"),
    ({"param": "weight_ih", "row": 0, "col": 3, "value": 1.0}, "weight_edits[0].col: 3"),
    ({"param": "weight_ih", "row": 0, "value": 1.0}, "weight_edits[0].col: is required"),
    ({"param": "bias_hh", "row": 0, "col": 0, "value": 1.0}, "one-dimensional"),
])
def test_bad_edits_are_refused_by_name(client, edit, fragment):
    r = client.post("/api/sessions", json={"cell": "lstm", "hidden_size": H, "seed": 1,
                                           "sequence": {"values": XS.tolist()},
                                           "weight_edits": [edit]})
    assert_error(r, 422, "weight_edits", fragment)


def test_schema_refusals_and_models(client):
    base = {"preset": "counter", "sequence": {"text": COUNTER_TEXT}}
    for edit in ({"param": "weight_hh", "row": 0, "col": 0},  # no value
                 {"param": "weight_hh", "row": 0, "col": 0, "value": "1"},
                 {"param": "weight_hh", "row": -1, "col": 0, "value": 1},
                 {"param": "weight_hh", "row": 0, "col": 0, "value": 1, "extra": 1}):
        r = client.post("/api/sessions", json={**base, "weight_edits": [edit]})
        assert r.status_code == 422 and r.json()["detail"].startswith("weight_edits"), r.text
    r = client.post("/api/sessions", content=json.dumps(base)[:-1].encode()
                    + b', "weight_edits": [{"param": "weight_hh", "row": 0, "col": 0,'
                      b' "value": Infinity}]}', headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    twice = [{"param": "bias_ih", "row": 0, "value": 1.0}, {"param": "bias_ih", "row": 0,
                                                            "value": 2.0}]
    assert_error(client.post("/api/sessions", json={**base, "weight_edits": twice}), 422,
                 "weight_edits", "again")
    # a model preset takes edits of its cells (tests/app/api/test_model_weight_edits.py)
    preset = cells.presets.get("long-memory-lstm")
    edit = {"param": "weight_hh", "row": 0, "col": 0, "value": 1.0}
    made = create_session(client, preset="long-memory-lstm",
                          sequence={"text": preset.sample[:20]}, weight_edits=[edit])
    assert made["weight_edits"] == [{**edit, "layer": 0, "direction": "forward"}]
    model = create_session(client, preset="long-memory-lstm",
                           sequence={"text": preset.sample[:20]})
    assert model["params"] == [] and model["weight_edits"] == []
    assert {p["name"] for p in model["cells"][0][0]["params"]} >= {"weight_ih", "weight_hh"}


def test_counter_preset_edit_in_float32(client):
    """A preset's float32 cell with one weight changed: torch in float32, to 1e-5."""
    preset = cells.presets.get("counter")
    edit = {"param": "weight_hh", "row": 1, "col": 0, "value": -4.0}
    s = create_session(client, preset="counter", sequence={"text": COUNTER_TEXT},
                       weight_edits=[edit])
    module = torch.nn.LSTM(preset.cell.input_size, preset.cell.hidden_size)
    with torch.no_grad():
        for name, a in preset.cell.params.items():
            getattr(module, f"{name}_l0").copy_(torch.from_numpy(np.array(a)))
        module.weight_hh_l0[1, 0] = -4.0
        expected = torch_h(module, torch.from_numpy(preset.encode(COUNTER_TEXT))).numpy()
    close(trace_h(client, s), expected, "float32")
    assert preset.cell.params["weight_hh"][1, 0] != -4.0  # the preset itself is untouched
