"""POST /api/weights and sessions on uploaded weights."""

from __future__ import annotations

import hashlib
import io

import h5py
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import cells
from tests.support import assert_error, create_session

VALUES = [[0.5, -1.0, 0.25], [1.0, 0.0, -0.5], [0.1, 0.2, 0.3], [-2.0, 1.5, 0.0]]


def upload(client, path, **form):
    with open(path, "rb") as handle:
        return client.post("/api/weights", files={"file": (path.name, handle.read())},
                           data={k: str(v).lower() if isinstance(v, bool) else str(v)
                                 for k, v in form.items()})


def saved_cell(tmp_path, kind="lstm", suffix=".safetensors", **options):
    cell = cells.create(kind, input_size=3, hidden_size=4, seed=7, **options)
    path = tmp_path / f"model{suffix}"
    cells.save(cell, path)
    return cell, path


def onnx_lstm(path, cell):
    """The cell as one ONNX LSTM node (blocks i, o, f, c; one bias of W and R halves)."""
    H = cell.hidden_size
    order = [0, 3, 1, 2]  # ONNX i, o, f, c from PyTorch i, f, g, o

    def blocks(a):
        return np.concatenate([a[k * H:(k + 1) * H] for k in order])

    p = cell.params
    w, r = blocks(p["weight_ih"])[None], blocks(p["weight_hh"])[None]
    b = np.concatenate([blocks(p["bias_ih"]), blocks(p["bias_hh"])])[None]
    node = helper.make_node("LSTM", ["X", "W", "R", "B"], ["Y"], hidden_size=H)
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 1, 3])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(a, n) for n, a in (("W", w), ("R", r), ("B", b))])
    onnx.save(helper.make_model(graph), str(path))
    return path


def keras_lstm(path, cell):
    """Keras 3 .weights.h5: kernel (I, 4H), recurrent_kernel (H, 4H), bias (4H,); i f c o."""
    p = cell.params
    with h5py.File(path, "w") as f:
        group = f.create_group("layers/lstm/cell/vars")
        group["0"] = p["weight_ih"].T
        group["1"] = p["weight_hh"].T
        group["2"] = p["bias_ih"] + p["bias_hh"]
    return path


def assert_session_runs(client, weights_id, expected_cell, **body):
    s = create_session(client, weights_id=weights_id, sequence={"values": VALUES}, **body)
    assert (s["input_size"], s["hidden_size"]) == (3, 4)
    # The session carries the upload's record, exactly as GET /api/weights/{id} gives it.
    assert s["weights"] == client.get(f"/api/weights/{weights_id}").json()
    assert s["weights"]["weights_id"] == weights_id
    trace = client.get(f"/api/sessions/{s['id']}/trace").json()["signals"]
    expected = expected_cell.run(np.array(VALUES))
    for name in expected.names:
        assert np.array_equal(np.array(trace[name], expected_cell.dtype), expected[name]), name
    return s


@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
def test_upload_engine_files_and_run(client, settings, tmp_path, suffix):
    cell, path = saved_cell(tmp_path, "gru", suffix, reset_after=False)
    response = upload(client, path)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["weights_id"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (body["cell"], body["input_size"], body["hidden_size"]) == ("gru", 3, 4)
    assert body["options"] == {"reset_after": False}
    assert (settings.data_dir / "weights" / f"{body['weights_id']}{suffix}").exists()
    s = assert_session_runs(client, body["weights_id"], cell)
    assert s["cell"] == "gru" and s["options"] == {"reset_after": False}


def test_upload_pytorch_state_dict(client, tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    torch.manual_seed(0)
    module = torch.nn.LSTM(3, 4)
    path = tmp_path / "torch_lstm.safetensors"
    save_file({k: v.contiguous() for k, v in module.state_dict().items()}, str(path))
    body = upload(client, path).json()
    assert body["cell"] == "lstm"
    assert_session_runs(client, body["weights_id"], cells.load(path))


def test_upload_onnx_and_keras(client, tmp_path):
    cell = cells.create("lstm", input_size=3, hidden_size=4, seed=3)
    for path in (onnx_lstm(tmp_path / "m.onnx", cell), keras_lstm(tmp_path / "m.weights.h5", cell)):
        response = upload(client, path)
        assert response.status_code == 201, response.text
        assert response.json()["cell"] == "lstm"
        loaded = cells.load(path)
        assert_session_runs(client, response.json()["weights_id"], loaded)
        np.testing.assert_allclose(loaded.params["weight_hh"], cell.params["weight_hh"])


def test_same_bytes_same_id(client, tmp_path):
    _, path = saved_cell(tmp_path)
    assert upload(client, path).json()["weights_id"] == upload(client, path).json()["weights_id"]


def test_lstm_weights_read_as_a_compatible_kind(client, tmp_path):
    cell, path = saved_cell(tmp_path, "lstm")
    weights_id = upload(client, path).json()["weights_id"]
    peephole = cells.load(path, kind="peephole_lstm")
    s = assert_session_runs(client, weights_id, peephole, cell="peephole_lstm")
    assert s["cell"] == "peephole_lstm"


def test_weights_of_the_wrong_shape_for_the_chosen_cell(client, tmp_path):
    _, path = saved_cell(tmp_path, "lstm")
    assert_error(upload(client, path, cell="gru"), 422, "cell", "gate blocks")
    weights_id = upload(client, path).json()["weights_id"]
    assert_error(client.post("/api/sessions", json={"weights_id": weights_id, "cell": "gru",
                                                    "sequence": {"values": VALUES}}),
                 422, "cell", "gate blocks")
    assert_error(client.post("/api/sessions", json={"weights_id": weights_id,
                                                    "sequence": {"values": [[1.0, 2.0]]}}),
                 422, "sequence", "input_size 3")
    assert_error(client.post("/api/sessions", json={"weights_id": weights_id, "hidden_size": 9,
                                                    "sequence": {"values": VALUES}}),
                 422, "hidden_size", "4")
    assert_error(client.post("/api/sessions", json={"weights_id": weights_id,
                                                    "sequence": {"text": "ab"}}),
                 422, "sequence.text", "2 distinct characters", "input_size 3")


def test_text_on_uploaded_weights_with_a_matching_vocabulary(client, tmp_path):
    cell, path = saved_cell(tmp_path, "rnn")
    weights_id = upload(client, path).json()["weights_id"]
    s = create_session(client, weights_id=weights_id, sequence={"text": "abcab"})
    assert s["vocabulary"] == "abc" and s["steps"] == 5


def test_bad_uploads(client, tmp_path):
    assert_error(client.post("/api/weights", files={"file": ("model.pt", b"\x80\x04pickle")}),
                 422, "file", "pickles are refused")
    assert_error(client.post("/api/weights", files={"file": ("model.onnx", b"\x00garbage")}),
                 422, "file")
    assert_error(client.post("/api/weights", files={"file": ("m.weights.h5", b"not hdf5")}),
                 422, "file")
    assert_error(client.post("/api/weights", files={"file": ("m.safetensors", b"\xff" * 64)}),
                 422, "file")
    buffer = io.BytesIO()
    np.savez(buffer, weight_ih_l0=np.array([object()], dtype=object))
    assert_error(client.post("/api/weights", files={"file": ("m.npz", buffer.getvalue())}),
                 422, "file")
    _, path = saved_cell(tmp_path, "rnn")
    assert_error(upload(client, path, cell="nope"), 422, "cell", "'lstm'")
    assert_error(upload(client, path, nonlinearity="sigmoid"), 422, "nonlinearity")
    assert_error(client.post("/api/weights", data={"cell": "lstm"}), 422, "file")


def test_upload_limits_the_sizes(make_client, tmp_path):
    client = make_client(max_hidden_size=3)
    _, path = saved_cell(tmp_path)
    assert_error(upload(client, path), 422, "file", "hidden_size 4", "limit of 3")
