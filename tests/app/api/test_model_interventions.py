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
from app.sessions.config import SessionConfig
from tests.support import (
    COUNTER_TEXT,
    assert_error,
    create_session,
    of_first_part,
    upload_model,
)

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


def test_a_single_cell_session_is_the_one_part_model(client):
    """A single cell's holds name its one part like a model's: given without a part or with
    layer 0 forward, one record (the part written out), one content key (the key sessions
    stored before had) and one trace; another part is refused by the model's checker."""
    body = {"preset": "counter", "sequence": {"text": COUNTER_TEXT}}
    item = {"signal": "f", "start": 3, "stop": 20, "units": None, "value": 1.0}
    bare = create_session(client, **body, interventions=[item])
    named = create_session(client, **body, interventions=[
        {**item, "layer": 0, "direction": "forward"}])
    assert bare["interventions"] == named["interventions"] == of_first_part([item])
    services = client.app.state.sessions
    config = services.get(bare["id"])
    assert config.key == services.get(named["id"]).key
    stored_before = {**config.to_json(), "format": 3, "interventions": [item]}
    assert SessionConfig.from_json(stored_before).content_key() == config.key
    traces = [client.get(f"/api/sessions/{s['id']}/trace", params={"names": "f,c"}).json()
              for s in (bare, named)]
    assert traces[0]["signals"] == traces[1]["signals"]
    preset = cells.presets.get("counter")
    engine = preset.cell.run(preset.encode(COUNTER_TEXT), interventions=[item])
    np.testing.assert_array_equal(np.asarray(traces[0]["signals"]["c"], np.float32),
                                  engine["c"])
    for part, field, fragment in [({"layer": 1}, "interventions", "layer: 1 is not one of 0..0"),
                                  ({"direction": "backward"}, "interventions",
                                   "'backward' is not one of forward")]:
        response = client.post("/api/sessions", json={**body,
                                                      "interventions": [{**item, **part}]})
        assert_error(response, 422, field, fragment)
