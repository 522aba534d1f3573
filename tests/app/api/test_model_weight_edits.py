"""What if, weights, in a model session: `weight_edits` items name their cell's layer and
direction; the session's traces, head outputs, stream frames, differences and the weight
route are torch's with the same weights changed by the test (float64, 1e-10); the edits
are in the config and key (absent when none), reported with layer and direction written
out; each model cell lists its `params`; bad items are 422s naming the item and field."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

import cells
from app.sessions.config import SessionConfig
from tests.support import assert_error, close, create_session, of_first_part, upload_model

torch.set_num_threads(1)

VOCABULARY = list("abcdefgh ")
TEXT = "a bad cafe fed a badge"
E, H = 5, 6
T = len(TEXT)
# given out of order, layer and direction left out on one: the defaults are 0 and forward
EDITS = [{"param": "weight_hh", "row": 1 * H + 2, "col": 4, "value": 2.5, "layer": 1,
          "direction": "backward"},
         {"param": "bias_ih", "row": 3 * H + 1, "value": -3.0},
         {"param": "weight_ih", "row": 2 * H + 5, "col": 7, "value": -2.0, "layer": 1}]
CANONICAL = [{"param": "bias_ih", "row": 3 * H + 1, "col": None, "value": -3.0, "layer": 0,
              "direction": "forward"},
             {"param": "weight_ih", "row": 2 * H + 5, "col": 7, "value": -2.0, "layer": 1,
              "direction": "forward"},
             {"param": "weight_hh", "row": 1 * H + 2, "col": 4, "value": 2.5, "layer": 1,
              "direction": "backward"}]


def modules():
    torch.manual_seed(8)
    emb = torch.nn.Embedding(len(VOCABULARY), E)
    lstm = torch.nn.LSTM(E, H, num_layers=2, bidirectional=True)
    fc = torch.nn.Linear(2 * H, len(VOCABULARY))
    return emb, lstm, fc


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    emb, lstm, fc = modules()
    state = {"emb.weight": emb.weight, **{f"lstm.{k}": v for k, v in lstm.state_dict().items()},
             "fc.weight": fc.weight, "fc.bias": fc.bias}
    path = tmp_path_factory.mktemp("model") / "model.safetensors"
    save_file({k: v.detach().contiguous() for k, v in state.items()}, str(path))
    return path


@pytest.fixture
def weights_id(client, written):
    return upload_model(client, written, VOCABULARY)["weights_id"]


def by_torch(edits):
    """Each layer's output (T, 2H) and the head's probabilities, by torch in float64 with
    the edits made on torch's own tensors."""
    emb, lstm, fc = (m.to(torch.float64) for m in modules())
    with torch.no_grad():
        for e in edits:
            suffix = "_reverse" if e.get("direction", "forward") == "backward" else ""
            tensor = getattr(lstm, f"{e['param']}_l{e.get('layer', 0)}{suffix}")
            tensor[(e["row"],) if e.get("col") is None else (e["row"], e["col"])] = e["value"]
        x = emb(torch.as_tensor([VOCABULARY.index(ch) for ch in TEXT]))
        outputs = []
        for layer in range(2):
            one = torch.nn.LSTM(x.shape[1], H, bidirectional=True).to(torch.float64)
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                for suffix in ("", "_reverse"):
                    getattr(one, f"{name}_l0{suffix}").copy_(
                        getattr(lstm, f"{name}_l{layer}{suffix}"))
            x = one(x[:, None])[0][:, 0]
            outputs.append(x.numpy())
        probs = torch.softmax(fc(x), dim=-1).numpy()
    return outputs, probs, lstm.requires_grad_(False)


def window(client, session_id, **params):
    response = client.get(f"/api/sessions/{session_id}/trace", params=params)
    assert response.status_code == 200, response.text
    return {k: np.asarray(v, np.float64) for k, v in response.json()["signals"].items()}


def part_h(outputs, layer, direction):
    """torch's h of that cell, in the cell's own step order (a backward cell from the end)."""
    half = outputs[layer][:, :H] if direction == "forward" else outputs[layer][:, H:][::-1]
    return half


def test_edited_model_session_is_torch_with_the_weights_changed(client, weights_id):
    outputs, probs, lstm = by_torch(EDITS)
    plain_outputs, plain_probs, plain_lstm = by_torch([])
    body = {"weights_id": weights_id, "dtype": "float64", "sequence": {"text": TEXT}}
    orig = create_session(client, **body)
    edited = create_session(client, **body, weight_edits=EDITS)
    got = client.get(f"/api/sessions/{edited['id']}").json()
    assert got["weight_edits"] == CANONICAL == edited["weight_edits"]
    assert orig["weight_edits"] == [] and got["params"] == []
    weight_hh = next(p for p in got["cells"][1][1]["params"] if p["name"] == "weight_hh")
    assert weight_hh == {"name": "weight_hh", "shape": [4 * H, H],
                         "blocks": ["i", "f", "g", "o"], "columns": "hidden"}
    assert next(p for p in got["cells"][1][0]["params"]
                if p["name"] == "weight_ih")["shape"] == [4 * H, 2 * H]
    services = client.app.state.sessions
    assert services.get(edited["id"]).key != services.get(orig["id"]).key
    again = create_session(client, **body, weight_edits=list(reversed(EDITS)))
    assert services.get(again["id"]).key == services.get(edited["id"]).key

    for layer in range(2):
        for direction in ("forward", "backward"):
            h = window(client, edited["id"], layer=layer, direction=direction, names="h")["h"]
            close(h, part_h(outputs, layer, direction), "float64", rtol=0,
                  err_msg=f"{layer} {direction}")
    close(window(client, edited["id"], names="probs")["probs"], probs, "float64", rtol=0)
    assert np.abs(probs - plain_probs).max() > 1e-3  # the edits reach the head

    # the difference route at an edited cell: torch's h_new − h_orig
    response = client.get(f"/api/sessions/{edited['id']}/difference",
                          params={"from": orig["id"], "names": "h", "layer": 1,
                                  "direction": "backward"})
    assert response.status_code == 200, response.text
    close(response.json()["signals"]["h"],
          part_h(outputs, 1, "backward") - part_h(plain_outputs, 1, "backward"),
          "float64", rtol=0)
    # the stream of that cell: its h and the top outputs of the edited head
    with client.websocket_connect(f"/api/sessions/{edited['id']}/stream?layer=1"
                                  "&direction=backward") as ws:
        ws.send_json({"seek": 6})
        frame = ws.receive_json()
    close(frame["signals"]["h"], part_h(outputs, 1, "backward")[6], "float64", rtol=0)
    # the weight route: the value used and the original, at that layer and direction
    got = client.get(f"/api/sessions/{edited['id']}/weight", params={
        "param": "weight_hh", "row": H + 2, "col": 4, "layer": 1, "direction": "backward"})
    assert got.status_code == 200, got.text
    assert got.json() == {"param": "weight_hh", "row": H + 2, "col": 4, "value": 2.5,
                          "original": float(plain_lstm.weight_hh_l1_reverse[H + 2, 4])}
    got = client.get(f"/api/sessions/{edited['id']}/weight",
                     params={"param": "bias_ih", "row": 3 * H + 1}).json()
    assert got["value"] == -3.0 and got["original"] == float(plain_lstm.bias_ih_l0[3 * H + 1])
    got = client.get(f"/api/sessions/{orig['id']}/weight", params={
        "param": "weight_ih", "row": 0, "col": 11, "layer": 1}).json()
    assert got["value"] == got["original"] == float(plain_lstm.weight_ih_l1[0, 11])


@pytest.mark.parametrize("item, fragment", [
    ({"layer": 2}, "weight_edits[0].layer: 2 is not one of 0..1"),
    ({"direction": "sideways"}, "weight_edits[0].direction: 'sideways' is not one of "
                                "forward, backward"),
    ({"param": "fc.weight"}, "weight_edits[0].param: a lstm has no parameter 'fc.weight'"),
    ({"row": 99, "layer": 1}, "weight_edits[0].row: 99 is outside 0 … 23"),
    ({"col": 12, "layer": 1}, "weight_edits[0].col: 12 is outside 0 … 11 (weight_ih has "
                              "shape (24, 12))"),
])
def test_bad_items_name_item_and_field(client, weights_id, item, fragment):
    edit = {"param": "weight_ih", "row": 0, "col": 0, "value": 1.0, **item}
    response = client.post("/api/sessions", json={
        "weights_id": weights_id, "sequence": {"text": TEXT}, "weight_edits": [edit]})
    assert_error(response, 422, "weight_edits", fragment)


def test_the_weight_route_names_a_bad_layer_direction_or_position(client, weights_id):
    s = create_session(client, weights_id=weights_id, sequence={"text": TEXT})
    for params, field, fragment in [
        ({"layer": 2}, "layer", "not one of 0..1"),
        ({"direction": "up"}, "direction", "'up' is not one of forward, backward"),
        ({"layer": 1, "col": 12}, "col", "(24, 12)"),
        ({"param": "weight_xx"}, "param", "weight_ih, weight_hh"),
    ]:
        query = {"param": "weight_ih", "row": 0, "col": 0, **params}
        assert_error(client.get(f"/api/sessions/{s['id']}/weight", params=query), 422,
                     field, fragment)


def test_a_single_cell_session_is_the_one_part_model(client):
    """A single cell's weight edits name its one part like a model's: given without a part
    or with layer 0 forward, one record (the part written out), one content key (the key
    sessions stored before had) and one trace; another part is refused."""
    body = {"preset": "counter", "sequence": {"text": "(a(b)c)"}}
    edit = {"param": "bias_hh", "row": 0, "col": None, "value": 1.0}
    bare = create_session(client, **body, weight_edits=[edit])
    named = create_session(client, **body, weight_edits=[
        {**edit, "layer": 0, "direction": "forward"}])
    assert bare["weight_edits"] == named["weight_edits"] == of_first_part([edit])
    services = client.app.state.sessions
    config = services.get(bare["id"])
    assert config.key == services.get(named["id"]).key
    stored_before = {**config.to_json(), "format": 3, "weight_edits": [edit]}
    assert SessionConfig.from_json(stored_before).content_key() == config.key
    traces = [client.get(f"/api/sessions/{s['id']}/trace", params={"names": "h"}).json()
              for s in (bare, named)]
    assert traces[0]["signals"] == traces[1]["signals"]
    preset = cells.presets.get("counter")
    engine = preset.cell.with_weights([edit]).run(preset.encode("(a(b)c)"))
    np.testing.assert_array_equal(np.asarray(traces[0]["signals"]["h"], np.float32),
                                  engine["h"])
    for part, fragment in [({"layer": 1}, "layer: 1 is not one of 0..0"),
                           ({"direction": "backward"}, "'backward' is not one of forward")]:
        response = client.post("/api/sessions", json={**body,
                                                      "weight_edits": [{**edit, **part}]})
        assert_error(response, 422, "weight_edits", fragment)
