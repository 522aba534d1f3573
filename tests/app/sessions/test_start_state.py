"""POST /api/sessions takes a starting state ({"h": rows, "c": rows}, one row per layer
and direction, as PyTorch takes h0 and c0): every part's trace and the head then equal
torch run from that state."""

from __future__ import annotations

import json

import numpy as np
import torch
from safetensors.torch import save_file

import cells
from tests.support import assert_error, close, create_session

VOCABULARY = list("abc ")
TEXT = "a cab cab"
E, H = 3, 4


class TextModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(3)
        self.emb = torch.nn.Embedding(len(VOCABULARY), E)
        self.lstm = torch.nn.LSTM(E, H, num_layers=2, bidirectional=True)
        self.fc = torch.nn.Linear(2 * H, len(VOCABULARY))


def upload(client, path, vocabulary=None):
    files = {"file": (path.name, path.read_bytes())}
    if vocabulary is not None:
        files["vocabulary"] = ("vocab.json", json.dumps(vocabulary).encode())
    answer = client.post("/api/weights", files=files)
    assert answer.status_code == 201, answer.text
    return answer.json()["weights_id"]


def trace(client, session, **params):
    answer = client.get(f"/api/sessions/{session['id']}/trace", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()["signals"]


def rows(shape, seed):
    return np.random.default_rng(seed).normal(0, 0.7, shape).astype(np.float32)


def test_a_model_session_from_a_given_state(client, tmp_path):
    module = TextModel()
    save_file(module.state_dict(), str(tmp_path / "model.safetensors"))
    weights_id = upload(client, tmp_path / "model.safetensors", VOCABULARY)
    h0, c0 = rows((4, H), 0), rows((4, H), 1)
    session = create_session(client, weights_id=weights_id, sequence={"text": TEXT},
                             state={"h": h0.tolist(), "c": c0.tolist()})
    ids = torch.tensor([VOCABULARY.index(ch) for ch in TEXT])
    with torch.no_grad():
        y, _ = module.lstm(module.emb(ids), (torch.from_numpy(h0), torch.from_numpy(c0)))
        probs = torch.softmax(module.fc(y), -1).numpy()
    got = trace(client, session, names="probs")["probs"]
    close(got, probs, "float32")
    backward = trace(client, session, names="h", layer=1, direction="backward")["h"]
    close(backward[::-1], y[:, H:].numpy(), "float32")
    zero = create_session(client, weights_id=weights_id, sequence={"text": TEXT})
    assert not np.allclose(trace(client, zero, names="probs")["probs"], got)


def test_a_cell_session_from_a_given_state(client, tmp_path):
    cell = cells.create("gru", input_size=2, hidden_size=H, seed=4)
    cells.save(cell, tmp_path / "gru.npz")
    weights_id = upload(client, tmp_path / "gru.npz")
    xs, h0 = rows((6, 2), 2), rows((H,), 3)
    session = create_session(client, weights_id=weights_id,
                             sequence={"values": xs.tolist()}, state={"h": h0.tolist()})
    reference = torch.nn.GRU(2, H)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(reference, f"{name}_l0").copy_(torch.from_numpy(cell.params[name]))
        y, _ = reference(torch.from_numpy(xs), torch.from_numpy(h0)[None])
    close(trace(client, session, names="h")["h"], y.numpy(), "float32")


def test_states_that_do_not_fit_are_refused_by_name(client, tmp_path):
    cells.save(cells.create("gru", input_size=2, hidden_size=H, seed=4), tmp_path / "g.npz")
    weights_id = upload(client, tmp_path / "g.npz")
    body = {"weights_id": weights_id, "sequence": {"values": [[0.0, 1.0]]}}
    assert_error(client.post("/api/sessions", json={**body, "state": {"h": [0.0] * 3}}),
                 422, "state", "h0 row of layer 0 forward has shape (3,); that cell's h is 4")
    assert_error(client.post("/api/sessions", json={**body, "state": {"h": [0.0] * 4,
                                                                        "c": [0.0] * 4}}),
                 422, "state", "c0 given, but layer 0 forward is a gru")
    assert_error(client.post("/api/sessions", json={**body, "state": {"h": [[0.0] * 4] * 2}}),
                 422, "state", "h0 has shape (2, 4); give one row per layer and direction")
    answer = client.post("/api/sessions", json={**body, "state": {"x": [1.0]}})
    assert answer.status_code == 422
