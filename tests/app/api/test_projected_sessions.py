"""Sessions of an nn.LSTM(proj_size=P) model: a torch-written Embedding → 2-layer
bidirectional projected LSTM → Linear, uploaded with its vocabulary. Every (layer, direction)
window, the CSV and NPZ traces, the stream's frames (JSON and binary), the difference route
and the sensitivity route give torch's own numbers (its forward and its autograd), computed
here; a unit of h past its P values, bad layers, directions and names are 4xx that say what."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from tests import projected_reference as reference
from tests.support import assert_error, close, create_session, upload_model

VOCABULARY = list("abcdefgh ")
TEXT = "a bad cafe fed a badge"
OTHER = "bad a face deaf cab egg"[:len(TEXT)]
E, H, P = 4, 6, 3
DIRECTIONS = ("forward", "backward")


class ProjectedModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(7)
        self.emb = torch.nn.Embedding(len(VOCABULARY), E)
        self.lstm = torch.nn.LSTM(E, H, num_layers=2, bidirectional=True, proj_size=P)
        self.fc = torch.nn.Linear(2 * P, len(VOCABULARY))


def torch_run(module, text):
    """Torch's output of each layer (T, 2P), run layer by layer from its own weights, and
    the head's softmax (T, V)."""
    ids = torch.tensor([VOCABULARY.index(ch) for ch in text])
    with torch.no_grad():
        x = module.emb(ids)[:, None]
        outputs = []
        for layer in range(2):
            one = torch.nn.LSTM(x.shape[-1], H, bidirectional=True, proj_size=P).to(x.dtype)
            one.load_state_dict({k.replace(f"_l{layer}", "_l0"): v
                                 for k, v in module.lstm.state_dict().items()
                                 if f"_l{layer}" in k})
            x, _ = one(x)
            outputs.append(x[:, 0].numpy())
        whole, _ = module.lstm(module.emb(ids)[:, None])
        probs = torch.softmax(module.fc(whole[:, 0]), -1).numpy()
    np.testing.assert_allclose(outputs[-1], whole[:, 0].numpy(), rtol=1e-12, atol=1e-12)
    return outputs, probs


def expected_h(outputs, layer, direction):
    """That cell's h in its own step order (a backward cell's step k is time T−1−k)."""
    rows = outputs[layer][:, :P] if direction == "forward" else outputs[layer][::-1, P:]
    return rows


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    folder = tmp_path_factory.mktemp("projected")
    module = ProjectedModel().double()
    path = folder / "projected.safetensors"
    save_file(module.state_dict(), str(path))
    return path, module


@pytest.fixture
def session(client, written):
    record = upload_model(client, written[0], VOCABULARY)
    return create_session(client, weights_id=record["weights_id"], dtype="float64",
                          sequence={"text": TEXT})


def trace(client, sid, **params):
    response = client.get(f"/api/sessions/{sid}/trace", params=params)
    assert response.status_code == 200, response.text
    return response


def test_upload_record_and_session_say_the_projection(client, written, session):
    record = upload_model(client, written[0], VOCABULARY)
    assert record["model"]["layers"] == 2
    assert record["model"]["directions"] == list(DIRECTIONS)
    got = client.get(f"/api/sessions/{session['id']}").json()
    assert got["layers"] == 2 and got["directions"] == list(DIRECTIONS)
    assert got["head"]["kind"] == "softmax" and got["head"]["labels"] == VOCABULARY
    assert got["hidden_size"] == H
    for layer, row in enumerate(got["cells"]):
        assert [c["direction"] for c in row] == list(DIRECTIONS)
        for cell in row:
            assert cell["proj_size"] == P and cell["hidden_size"] == H
            assert cell["output_size"] == P
            assert cell["input_size"] == (E if layer == 0 else 2 * P)  # [h→, h←] of layer 0
            assert cell["stages"][-2:] == ["output", "projection"]
            sizes = {s["name"]: s["size"] for s in cell["signals"]}
            assert sizes["h"] == sizes["h_prev"] == "projection" and sizes["m"] == "hidden"
            stage = {s["name"]: s["stage"] for s in cell["signals"]}
            assert stage["h"] == "projection" and stage["m"] == "output"
    assert [s["name"] for s in got["signals"]] == [s["name"] for s in got["cells"][0][0]["signals"]]


@pytest.mark.parametrize("layer", [0, 1])
@pytest.mark.parametrize("direction", DIRECTIONS)
def test_windows_equal_torch(client, written, session, layer, direction):
    outputs, _ = torch_run(written[1], TEXT)
    got = trace(client, session["id"], layer=layer, direction=direction).json()["signals"]
    want = expected_h(outputs, layer, direction)
    close(got["h"], want, "float64")
    assert np.asarray(got["m"]).shape == (len(TEXT), H)
    assert np.asarray(got["h_prev"]).shape == (len(TEXT), P)
    np.testing.assert_array_equal(np.asarray(got["h_prev"])[1:], np.asarray(got["h"])[:-1])
    # m = o ⊙ tanh(c) and h = W_hr·m with torch's own W_hr
    suffix = f"_l{layer}" + ("_reverse" if direction == "backward" else "")
    w_hr = getattr(written[1].lstm, f"weight_hr{suffix}").detach().numpy()
    close(np.asarray(got["m"]) @ w_hr.T, want, "float64")
    if layer == 1:  # what layer 1 reads is layer 0's projected output, both directions
        close(got["x"], outputs[0][::-1] if direction == "backward" else outputs[0],
              "float64")


def test_probs_equal_torch(client, written, session):
    _, probs = torch_run(written[1], TEXT)
    got = trace(client, session["id"], names="probs").json()["signals"]
    np.testing.assert_allclose(got["probs"], probs, rtol=1e-10, atol=1e-12)


def test_float32_session_within_1e5(client, written):
    record = upload_model(client, written[0], VOCABULARY)
    made = create_session(client, weights_id=record["weights_id"], sequence={"text": TEXT})
    outputs, _ = torch_run(written[1], TEXT)
    got = trace(client, made["id"], layer=1, direction="backward", names="h").json()["signals"]
    close(got["h"], expected_h(outputs, 1, "backward"), "float32")


def test_csv_and_npz_have_p_columns_for_h(client, written, session):
    outputs, _ = torch_run(written[1], TEXT)
    want = expected_h(outputs, 1, "forward")
    body = trace(client, session["id"], layer=1, names="m,h", format="csv").text
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0] == ["t", *[f"m[{k}]" for k in range(H)], *[f"h[{k}]" for k in range(P)]]
    np.testing.assert_allclose(np.asarray(rows[1:], float)[:, 1 + H:], want, rtol=1e-8,
                               atol=1e-10)
    npz = np.load(io.BytesIO(trace(client, session["id"], layer=1, format="npz").content),
                  allow_pickle=False)
    assert npz["h"].shape == (len(TEXT), P) and npz["m"].shape == (len(TEXT), H)
    close(npz["h"], want, "float64")


@pytest.mark.parametrize("binary", [False, True])
def test_stream_frames(client, written, session, binary):
    outputs, probs = torch_run(written[1], TEXT)
    url = f"/api/sessions/{session['id']}/stream?layer=1&direction=backward"
    with client.websocket_connect(url + ("&format=binary" if binary else "")) as ws:
        ws.send_json({"seek": 4})
        if binary:
            data = ws.receive_bytes()
            n = int.from_bytes(data[:4], "little")
            frame = json.loads(data[4:4 + n])
            widths = dict(frame["signals"])
            values = np.frombuffer(data[4 + n:], np.float64)
            offsets = np.cumsum([0] + [w for _, w in frame["signals"]])
            names = [name for name, _ in frame["signals"]]
            signals = {name: values[offsets[k]:offsets[k + 1]] for k, name in enumerate(names)}
            assert widths["h"] == P and widths["m"] == H and widths["h_prev"] == P
        else:
            frame = ws.receive_json()
            signals = {k: np.asarray(v) for k, v in frame["signals"].items()}
    assert frame["t"] == 4 and frame["time"] == len(TEXT) - 1 - 4
    assert signals["h"].shape == (P,) and signals["m"].shape == (H,)
    close(signals["h"], expected_h(outputs, 1, "backward")[4], "float64")
    order = np.argsort(-probs[frame["time"]], kind="stable")[:5]
    assert [item["token"] for item in frame["top"]] == [VOCABULARY[j] for j in order]
    np.testing.assert_allclose([item["value"] for item in frame["top"]],
                               probs[frame["time"]][order], rtol=1e-10)


def test_difference_of_one_cell(client, written, session):
    record = upload_model(client, written[0], VOCABULARY)
    other = create_session(client, weights_id=record["weights_id"], dtype="float64",
                           sequence={"text": OTHER})
    mine, _ = torch_run(written[1], TEXT)
    theirs, _ = torch_run(written[1], OTHER)
    response = client.get(f"/api/sessions/{session['id']}/difference",
                          params={"from": other["id"], "names": "h", "layer": 1,
                                  "direction": "backward"})
    assert response.status_code == 200, response.text
    np.testing.assert_allclose(response.json()["signals"]["h"],
                               expected_h(mine, 1, "backward") - expected_h(theirs, 1, "backward"),
                               rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize(("layer", "direction", "of", "unit"),
                         [(1, "backward", "h", 2), (0, "forward", "c", 5)])
def test_sensitivity_equals_torch_autograd(client, written, session, layer, direction, of,
                                           unit):
    outputs, _ = torch_run(written[1], TEXT)
    inputs = (written[1].emb(torch.tensor([VOCABULARY.index(ch) for ch in TEXT])).detach()
              .numpy() if layer == 0 else outputs[layer - 1])
    if direction == "backward":  # the cell reads the sequence from the end
        inputs = inputs[::-1]
    t = 9
    response = client.get(f"/api/sessions/{session['id']}/sensitivity",
                          params={"t": t, "unit": unit, "of": of, "window": 6,
                                  "layer": layer, "direction": direction})
    assert response.status_code == 200, response.text
    got = response.json()
    assert got["start"] == t - 5 and got["t"] == t
    cell = reference.one_cell(written[1].lstm, layer, direction)
    want = reference.sensitivity(cell, inputs, t, unit, of, 6)
    for name in ("x", "h", "c"):
        np.testing.assert_allclose(got[name], want[name], rtol=1e-8, atol=1e-12, err_msg=name)


def test_sensitivity_of_h_past_its_p_values_named(client, session):
    response = client.get(f"/api/sessions/{session['id']}/sensitivity",
                          params={"t": 3, "unit": P, "of": "h", "layer": 1})
    assert_error(response, 422, "unit", f"proj_size {P} values", "of=c")


def test_bad_requests_named(client, session):
    url = f"/api/sessions/{session['id']}/trace"
    assert_error(client.get(url, params={"layer": 2}), 422, "layer", "0..1")
    assert_error(client.get(url, params={"direction": "sideways"}), 422, "direction",
                 "'sideways'")
    assert_error(client.get(url, params={"names": "h,q"}), 422, "names", "'q'")
    assert client.get(url, params={"layer": -1}).status_code == 422
    with client.websocket_connect(f"/api/sessions/{session['id']}/stream?layer=5") as ws:
        message = ws.receive_json()
    assert "layer" in json.dumps(message)


def test_one_projected_layer_on_numbers(client, tmp_path):
    """A lone nn.LSTM(proj_size) (no embedding, no head) is a model session too."""
    torch.manual_seed(3)
    module = torch.nn.LSTM(2, 4, proj_size=1).double()
    path = tmp_path / "lone.safetensors"
    save_file(module.state_dict(), str(path))
    response = client.post("/api/weights", files={"file": (path.name, path.read_bytes())})
    assert response.status_code == 201, response.text
    xs = np.random.default_rng(3).normal(size=(9, 2))
    made = create_session(client, weights_id=response.json()["weights_id"], dtype="float64",
                          sequence={"values": xs.tolist()})
    got = client.get(f"/api/sessions/{made['id']}").json()
    assert got["cells"][0][0]["proj_size"] == 1 and got["head"] is None
    with torch.no_grad():
        want = module(torch.from_numpy(xs)[:, None])[0][:, 0].numpy()
    h = trace(client, made["id"], names="h").json()["signals"]["h"]
    close(h, want, "float64")
