"""What if in a model session: interventions name their cell's layer and direction; the
session's traces, head outputs, stream frames and differences are the engine's held run
(which tests/cells/models/test_model_interventions.py checks against torch stepped by hand), and
bad items are 422s naming the item and field."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

import cells
from tests.support import assert_error, create_session, upload_model

VOCABULARY = list("abcdefgh ")
TEXT = "a bad cafe fed a badge"
E, H = 5, 6
HELD = [{"signal": "f", "start": 4, "stop": len(TEXT), "units": [2], "value": 1.0, "layer": 1},
        {"signal": "c", "start": 0, "stop": 3, "units": None, "value": 0.0, "layer": 0,
         "direction": "backward"}]


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    torch.manual_seed(4)
    state = {"emb.weight": torch.randn(len(VOCABULARY), E),
             **torch.nn.LSTM(E, H, num_layers=2, bidirectional=True).state_dict(),
             "fc.weight": torch.randn(len(VOCABULARY), 2 * H), "fc.bias": torch.randn(9)}
    state = {k if k.startswith(("emb", "fc")) else f"lstm.{k}": v for k, v in state.items()}
    path = tmp_path_factory.mktemp("model") / "model.safetensors"
    save_file(state, str(path))
    return path


@pytest.fixture
def weights_id(client, written):
    return upload_model(client, written, VOCABULARY)["weights_id"]


def window(client, session_id, **params):
    response = client.get(f"/api/sessions/{session_id}/trace", params=params)
    assert response.status_code == 200, response.text
    return {k: np.asarray(v) for k, v in response.json()["signals"].items()}


def test_held_session_is_the_engines_held_run(client, written, weights_id):
    model = cells.load_model(written, vocabulary=VOCABULARY)
    want, plain = model.run(TEXT, interventions=HELD), model.run(TEXT)
    orig = create_session(client, weights_id=weights_id, sequence={"text": TEXT})
    held = create_session(client, weights_id=weights_id, sequence={"text": TEXT},
                          interventions=HELD)
    assert held["id"] != orig["id"]
    got = client.get(f"/api/sessions/{held['id']}").json()
    assert [c["holdable"] for c in got["cells"][1]] == [["i", "f", "g", "o", "c", "h"]] * 2
    # reported as given, the defaults written out
    assert got["interventions"] == [{**HELD[0], "direction": "forward"}, HELD[1]]
    for layer in range(2):
        for direction in ("forward", "backward"):
            rows = window(client, held["id"], layer=layer, direction=direction)
            for name, expected in want.layer(layer, direction).window(0, len(TEXT)).items():
                np.testing.assert_array_equal(rows[name].astype(np.float32), expected, name)
    assert np.all(window(client, held["id"], layer=1, names="f")["f"][4:, 2] == 1.0)
    probs = window(client, held["id"], names="probs")["probs"]
    np.testing.assert_allclose(probs, want["probs"], rtol=1e-6, atol=1e-7)
    assert np.abs(want["probs"] - plain["probs"]).max() > 1e-3  # the hold reaches the head
    # the difference route, at the held cell: h_new − h_orig as the engine's two runs
    response = client.get(f"/api/sessions/{held['id']}/difference",
                          params={"from": orig["id"], "names": "h,f", "layer": 1})
    assert response.status_code == 200, response.text
    diff = response.json()["signals"]
    for name in ("h", "f"):
        np.testing.assert_allclose(diff[name], want.layer(1)[name].astype(np.float64)
                                   - plain.layer(1)[name], rtol=0, atol=1e-7)
    # the stream of the held cell: the held value, and the top outputs of the held head
    with client.websocket_connect(f"/api/sessions/{held['id']}/stream?layer=1") as ws:
        ws.send_json({"seek": 6})
        frame = ws.receive_json()
    assert frame["signals"]["f"][2] == 1.0
    order = np.argsort(-want["probs"][6], kind="stable")[:5]
    assert [item["token"] for item in frame["top"]] == [VOCABULARY[j] for j in order]


@pytest.mark.parametrize("item, fragment", [
    ({"layer": 2}, "interventions[0].layer: 2 is not one of 0..1"),
    ({"direction": "sideways"}, "interventions[0].direction: 'sideways' is not one of "
                                "forward, backward"),
    ({"signal": "x"}, "interventions[0].signal: 'x' cannot be held in a lstm"),
    ({"stop": 99}, "interventions[0]: steps [0, 99)"),
])
def test_bad_items_name_item_and_field(client, weights_id, item, fragment):
    body = {"signal": "f", "start": 0, "stop": 2, "units": None, "value": 1.0, **item}
    response = client.post("/api/sessions", json={
        "weights_id": weights_id, "sequence": {"text": TEXT}, "interventions": [body]})
    assert_error(response, 422, "interventions", fragment)


def test_unknown_fields_still_refused(client, weights_id):
    response = client.post("/api/sessions", json={
        "weights_id": weights_id, "sequence": {"text": TEXT},
        "interventions": [{"signal": "f", "start": 0, "stop": 2, "value": 1.0, "cell": 1}]})
    assert response.status_code == 422, response.text
    assert "cell" in response.text


def test_a_single_cell_session_keeps_its_contract(client):
    body = {"preset": "counter", "sequence": {"text": "(a)"}}
    response = client.post("/api/sessions", json={**body, "interventions": [
        {"signal": "f", "start": 0, "stop": 2, "units": None, "value": 1.0, "layer": 0}]})
    assert_error(response, 422, "interventions", "interventions[0] has unknown field(s) "
                                                 "['layer']")
    made = create_session(client, **body, interventions=[
        {"signal": "f", "start": 0, "stop": 2, "units": None, "value": 1.0}])
    assert made["interventions"] == [{"signal": "f", "start": 0, "stop": 2, "units": None,
                                      "value": 1.0}]
