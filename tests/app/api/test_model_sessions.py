"""Sessions of whole models: a torch-written stacked bidirectional text model uploaded with
its vocabulary; each (layer, direction) window equals that cell's trace in `model.run`, the
head's probabilities equal torch's softmax, and frames carry the top outputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

import cells
from app.stream import wire
from tests.support import assert_error, create_session

VOCABULARY = list("abcdefgh ")
TEXT = "a bad cafe fed a badge"
E, H = 5, 6


class TextModel(torch.nn.Module):
    """Embedding → 2-layer bidirectional LSTM → Linear, as people write one."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(1)
        self.emb = torch.nn.Embedding(len(VOCABULARY), E)
        self.lstm = torch.nn.LSTM(E, H, num_layers=2, bidirectional=True)
        self.fc = torch.nn.Linear(2 * H, len(VOCABULARY))

    def forward(self, ids):
        y, _ = self.lstm(self.emb(ids)[:, None])
        return self.fc(y[:, 0])


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    module = TextModel()
    path = folder / "model.safetensors"
    save_file(module.state_dict(), str(path))
    ids = torch.tensor([VOCABULARY.index(ch) for ch in TEXT])
    with torch.no_grad():
        probs = torch.softmax(module(ids), -1).numpy()
    return path, probs


def upload(client, path, vocabulary=VOCABULARY, name="vocab.json"):
    files = {"file": (path.name, path.read_bytes())}
    if vocabulary is not None:
        body = json.dumps(vocabulary) if name.endswith(".json") else "\n".join(vocabulary) + "\n"
        files["vocabulary"] = (name, body.encode())
    response = client.post("/api/weights", files=files)
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture
def model_session(client, written):
    record = upload(client, written[0])
    return create_session(client, weights_id=record["weights_id"], sequence={"text": TEXT})


def trace(client, session, **params):
    response = client.get(f"/api/sessions/{session['id']}/trace", params=params)
    assert response.status_code == 200, response.text
    return response.json()["signals"]


def test_upload_record_says_it_is_a_model(client, written):
    record = upload(client, written[0], name="vocab.txt")
    assert record["model"] == {"layers": 2, "directions": ["forward", "backward"],
                               "head": {"kind": "softmax", "outputs": len(VOCABULARY)},
                               "encoding": "embedding", "vocabulary_size": len(VOCABULARY)}


def test_session_says_layers_directions_head(client, model_session):
    got = client.get(f"/api/sessions/{model_session['id']}").json()
    assert got["layers"] == 2 and got["directions"] == ["forward", "backward"]
    assert got["head"] == {"kind": "softmax", "outputs": len(VOCABULARY), "labels": VOCABULARY}
    assert got["steps"] == len(TEXT)
    assert [[c["direction"] for c in layer] for layer in got["cells"]] == \
        [["forward", "backward"]] * 2
    assert got["cells"][1][0]["input_size"] == 2 * H


def test_windows_equal_each_cell_of_model_run(client, model_session, written):
    model = cells.load_model(written[0], vocabulary=VOCABULARY)
    run = model.run(TEXT)
    for layer in range(2):
        for direction in ("forward", "backward"):
            got = trace(client, model_session, layer=layer, direction=direction, start=3, stop=9)
            want = run.layer(layer, direction).window(3, 9)
            assert set(got) == set(want)
            for name, rows in want.items():
                np.testing.assert_array_equal(np.asarray(got[name], np.float32), rows, name)


def test_probs_equal_torch_softmax(client, model_session, written):
    got = trace(client, model_session, names="probs,logits")
    np.testing.assert_allclose(np.asarray(got["probs"]), written[1], rtol=1e-5, atol=1e-6)
    assert np.asarray(got["logits"]).shape == (len(TEXT), len(VOCABULARY))


@pytest.mark.parametrize("binary", [False, True])
def test_frames_carry_top_of_the_time_they_read(client, model_session, written, binary):
    model = cells.load_model(written[0], vocabulary=VOCABULARY)
    run = model.run(TEXT)
    url = f"/api/sessions/{model_session['id']}/stream?layer=1&direction=backward"
    with client.websocket_connect(url + ("&format=binary" if binary else "")) as ws:
        ws.send_json({"seek": 4})
        if binary:
            data = ws.receive_bytes()
            n = int.from_bytes(data[:4], "little")
            frame = json.loads(data[4:4 + n])
            h = np.frombuffer(data[4 + n:], np.float32)
            offset = 0
            for name, length in frame["signals"]:
                if name == "h":
                    h = h[offset:offset + length]
                    break
                offset += length
        else:
            frame = ws.receive_json()
            h = np.asarray(frame["signals"]["h"], np.float32)
    time_step = len(TEXT) - 1 - 4  # a backward cell's step 4 reads from the end
    assert frame["time"] == time_step
    np.testing.assert_array_equal(h, run.layer(1, "backward")["h"][4])
    probs = run["probs"][time_step]
    order = np.argsort(-probs, kind="stable")[:5]
    assert [item["token"] for item in frame["top"]] == [VOCABULARY[j] for j in order]
    np.testing.assert_allclose([item["value"] for item in frame["top"]], probs[order],
                               rtol=1e-6)


def test_bad_layer_and_direction_named(client, model_session):
    url = f"/api/sessions/{model_session['id']}/trace"
    assert_error(client.get(url, params={"layer": 2}), 422, "layer", "0..1")
    assert_error(client.get(url, params={"direction": "sideways"}), 422, "direction",
                 "'sideways'")
    with client.websocket_connect(f"/api/sessions/{model_session['id']}/stream?layer=7") as ws:
        assert "layer 7" in ws.receive_json()["error"]


def test_unknown_tokens_listed(client, written):
    record = upload(client, written[0])
    response = client.post("/api/sessions", json={"weights_id": record["weights_id"],
                                                  "sequence": {"text": "a bad zebra"}})
    assert_error(response, 422, "sequence.text", "'z'", "'r'")


def test_single_cell_session_is_one_forward_layer(client, counter_session):
    assert counter_session["layers"] == 1 and counter_session["directions"] == ["forward"]
    assert counter_session["head"] is None
    url = f"/api/sessions/{counter_session['id']}/trace"
    assert_error(client.get(url, params={"layer": 1}), 422, "layer")
    with client.websocket_connect(f"/api/sessions/{counter_session['id']}/stream") as ws:
        ws.send_json({"seek": 0})
        assert "top" not in ws.receive_json()


def test_model_preset_runs_the_whole_model(client):
    preset = cells.presets.get("long-memory-lstm")
    text = preset.sample[:40]
    session = create_session(client, preset="long-memory-lstm", sequence={"text": text})
    assert session["head"]["kind"] == "softmax"
    got = trace(client, session, names="probs,h")
    run = preset.model.run(text)
    np.testing.assert_array_equal(np.asarray(got["probs"], np.float32), run["probs"])
    np.testing.assert_array_equal(np.asarray(got["h"], np.float32),
                                  run.layer(0, "forward")["h"])


def test_appending_text_reruns_the_model(client, model_session, written):
    response = client.post(f"/api/sessions/{model_session['id']}/append", json={"text": " ace"})
    assert response.status_code == 200, response.text
    model = cells.load_model(written[0], vocabulary=VOCABULARY)
    run = model.run(TEXT + " ace")
    got = trace(client, model_session, layer=0, direction="backward", names="h")
    np.testing.assert_array_equal(np.asarray(got["h"], np.float32),
                                  run.layer(0, "backward")["h"])


def test_frame_message_extra_members_stay_json():
    text = wire.frame_message(0, 1, 2, False, b"{}", b',"top":[]')
    assert json.loads(text)["top"] == []


def test_sensitivity_of_a_models_cell(client, model_session, written):
    model = cells.load_model(written[0], vocabulary=VOCABULARY)
    want = model.run(TEXT).layer(1, "backward").sensitivity(7, 2, of="c", window=5)
    response = client.get(f"/api/sessions/{model_session['id']}/sensitivity",
                          params={"t": 7, "unit": 2, "of": "c", "window": 5, "layer": 1,
                                  "direction": "backward"})
    assert response.status_code == 200, response.text
    got = response.json()
    assert got["start"] == want["start"]
    for path in ("x", "h", "c"):
        np.testing.assert_allclose(got[path], want[path], rtol=1e-6, atol=1e-12)
