"""What an upload holds, said plainly: its name, the options the file states and those it
leaves open, its layers and directions; what the file states wins over the request."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import cells
from tests.support import assert_error, create_session

torch = pytest.importorskip("torch")
from safetensors.torch import save_file  # noqa: E402

VALUES = [[0.5, -1.0, 0.25], [1.0, 0.0, -0.5]]


def upload(client, path, name=None, **form):
    response = client.post("/api/weights", files={"file": (name or path.name, path.read_bytes())},
                           data={k: str(v).lower() if isinstance(v, bool) else str(v)
                                 for k, v in form.items()})
    return response


def onnx_gru(path, linear_before_reset: int, hidden=4, inputs=3):
    rng = np.random.default_rng(0)
    w = rng.standard_normal((1, 3 * hidden, inputs)).astype(np.float32)
    r = rng.standard_normal((1, 3 * hidden, hidden)).astype(np.float32)
    b = rng.standard_normal((1, 6 * hidden)).astype(np.float32)
    node = helper.make_node("GRU", ["X", "W", "R", "B"], ["Y"], hidden_size=hidden,
                            linear_before_reset=linear_before_reset)
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 1, inputs])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(a, n) for n, a in (("W", w), ("R", r), ("B", b))])
    onnx.save(helper.make_model(graph), str(path))
    return path


def torch_file(path, module):
    save_file({k: v.contiguous() for k, v in module.state_dict().items()}, str(path))
    return path


def test_an_onnx_gru_states_reset_after_and_it_wins(client, tmp_path):
    path = onnx_gru(tmp_path / "my gru.onnx", linear_before_reset=0)
    record = upload(client, path, cell="gru").json()
    assert record["filename"] == "my gru.onnx"
    assert record["options"] == {"reset_after": False} and record["open_options"] == []
    assert (record["layers"], record["directions"]) == (1, ["forward"])
    assert record["shown"] == {"layer": 0, "direction": "forward"}
    assert record["bytes"] == path.stat().st_size
    assert client.get(f"/api/weights/{record['weights_id']}").json() == record
    wid = record["weights_id"]
    s = create_session(client, weights_id=wid, sequence={"values": VALUES})
    assert s["options"] == {"reset_after": False}  # the file's value, not the default
    expected = cells.load(path).run(np.array(VALUES))
    h = client.get(f"/api/sessions/{s['id']}/trace", params={"names": "h"}).json()
    assert np.array_equal(np.array(h["signals"]["h"], np.float32), expected["h"])
    body = assert_error(client.post("/api/sessions", json={
        "weights_id": wid, "options": {"reset_after": True}, "sequence": {"values": VALUES}}),
        422, "options")
    assert "'my gru.onnx'" in body["detail"] and "reset_after = false" in body["detail"]
    assert wid not in body["detail"]  # the file is named by its name, not its hash
    assert_error(upload(client, path, reset_after=True), 422, "reset_after", "my gru.onnx")


def test_an_option_the_file_leaves_open(client, tmp_path):
    path = torch_file(tmp_path / "rnn.safetensors", torch.nn.RNN(3, 4, nonlinearity="relu"))
    record = upload(client, path).json()
    assert record["cell"] == "rnn"
    assert record["options"] == {} and record["open_options"] == ["nonlinearity"]
    plain = create_session(client, weights_id=record["weights_id"],
                           sequence={"values": VALUES})
    assert plain["options"] == {"nonlinearity": "tanh"}  # the kind's default
    relu = create_session(client, weights_id=record["weights_id"],
                          options={"nonlinearity": "relu"}, sequence={"values": VALUES})
    assert relu["options"] == {"nonlinearity": "relu"}
    expected = cells.load(path, nonlinearity="relu").run(np.array(VALUES))
    h = client.get(f"/api/sessions/{relu['id']}/trace", params={"names": "h"}).json()
    assert np.array_equal(np.array(h["signals"]["h"], np.float32), expected["h"])
    again = client.get(f"/api/sessions/{relu['id']}").json()
    assert again["options"] == {"nonlinearity": "relu"}  # the session keeps what it used
    assert again["weights"]["filename"] == "rnn.safetensors"


@pytest.mark.parametrize(("module", "layers", "directions"), [
    (torch.nn.LSTM(3, 4, num_layers=2), 2, ["forward"]),
    (torch.nn.LSTM(3, 4, bidirectional=True), 1, ["forward", "backward"]),
])
def test_bigger_files_say_which_part_is_shown(client, tmp_path, module, layers, directions):
    record = upload(client, torch_file(tmp_path / "big.safetensors", module)).json()
    assert (record["layers"], record["directions"]) == (layers, directions)
    assert record["shown"] == {"layer": 0, "direction": "forward"}


def test_the_session_describes_itself_as_created(client):
    seeded = create_session(client, cell="gru", hidden_size=3, seed=7,
                            options={"reset_after": False}, sequence={"csv": "x,y\n1,2\n3,4\n"})
    described = client.get(f"/api/sessions/{seeded['id']}").json()
    assert described["seed"] == 7 and described["weights"] == {"seed": 7}
    assert described["options"] == {"reset_after": False}
    assert described["sequence"] == {"csv": "x,y\n1,2\n3,4\n"}
    assert (described["input_size"], described["hidden_size"]) == (2, 3)
    preset = create_session(client, preset="counter", sequence={"text": "(a)"})
    described = client.get(f"/api/sessions/{preset['id']}").json()
    assert described["preset"] == "counter" and described["sequence"] == {"text": "(a)"}
    values = create_session(client, hidden_size=2, sequence={"values": [[1.5], [-2.0]]})
    assert client.get(f"/api/sessions/{values['id']}").json()["sequence"] == \
        {"values": [[1.5], [-2.0]]}
