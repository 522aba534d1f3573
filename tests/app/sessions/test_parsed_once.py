"""An uploaded file is parsed once, on upload: its canonical arrays are kept beside it, so a
session made after a cold start (an empty model cache) reads them and never parses the
original format again."""

from __future__ import annotations

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

import cells.formats.onnx_format as onnx_format
from app.sessions.datadir import Store
from tests.support import TOLERANCE, create_session

I, H = 3, 4
VALUES = [[0.5, -1.0, 0.25], [1.5, 0.0, -0.75], [-0.5, 2.0, 1.0]]


def _onnx_of(module: torch.nn.LSTM, path):
    """The LSTM as one ONNX LSTM node (gate blocks i, o, f, c; the biases of W and R)."""
    order = [0, 3, 1, 2]  # ONNX i, o, f, c from PyTorch i, f, g, o

    def blocks(a):
        a = a.detach().numpy()
        return np.concatenate([a[k * H:(k + 1) * H] for k in order])

    w, r = blocks(module.weight_ih_l0)[None], blocks(module.weight_hh_l0)[None]
    b = np.concatenate([blocks(module.bias_ih_l0), blocks(module.bias_hh_l0)])[None]
    node = helper.make_node("LSTM", ["X", "W", "R", "B"], ["Y"], hidden_size=H)
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 1, I])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(a, n) for n, a in (("W", w), ("R", r), ("B", b))])
    onnx.save(helper.make_model(graph), str(path))
    return path


def test_a_cold_cache_reads_the_parsed_arrays(client, app_state, settings, tmp_path,
                                              monkeypatch):
    torch.manual_seed(3)
    module = torch.nn.LSTM(I, H)
    path = _onnx_of(module, tmp_path / "lstm.onnx")
    parsed = []
    read_onnx = onnx_format.read_onnx

    def counting(*args, **kwargs):
        parsed.append(args[0])
        return read_onnx(*args, **kwargs)

    monkeypatch.setattr(onnx_format, "read_onnx", counting)
    record = client.post("/api/weights", files={"file": ("lstm.onnx", path.read_bytes())})
    assert record.status_code == 201, record.text
    weights_id = record.json()["weights_id"]
    assert parsed  # read on upload
    assert (settings.data_dir / "weights" / f"{weights_id}.cell.npz").exists()
    parsed.clear()
    app_state.sessions.models.clear()  # a cold start: nothing built in this process
    session = create_session(client, weights_id=weights_id, sequence={"values": VALUES})
    trace = client.get(f"/api/sessions/{session['id']}/trace").json()["signals"]
    assert parsed == []  # the original was not parsed again
    with torch.no_grad():
        expected, _ = module(torch.tensor(VALUES)[:, None, :])
    np.testing.assert_allclose(trace["h"], expected[:, 0].numpy(), atol=TOLERANCE["float32"],
                               rtol=0)
    # a prototype LSTM over the same weights, from the parsed arrays too
    other = create_session(client, weights_id=weights_id, cell="prototype_lstm",
                           sequence={"values": VALUES})
    assert other["cell"] == "prototype_lstm" and parsed == []


def test_deleting_an_upload_deletes_its_parsed_arrays(client, settings, tmp_path):
    torch.manual_seed(4)
    path = _onnx_of(torch.nn.LSTM(I, H), tmp_path / "lstm.onnx")
    weights_id = client.post("/api/weights", files={"file": ("lstm.onnx", path.read_bytes())}
                             ).json()["weights_id"]
    folder = settings.data_dir / "weights"
    assert (folder / f"{weights_id}.cell.npz").exists()
    Store(settings.data_dir).delete_upload(weights_id)
    assert not any(p.name.startswith(weights_id) for p in folder.iterdir())
