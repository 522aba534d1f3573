"""An uploaded file is parsed once, on upload: its canonical arrays (one cell's) or its
parts (a whole model's) are kept beside it, so a session made after a cold start (an empty
model cache) reads them and never parses the original format again."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")  # fixed when keras is first imported

import json  # noqa: E402
import warnings  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import onnx  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

import cells.formats.keras_h5 as keras_h5  # noqa: E402
import cells.formats.onnx_format as onnx_format  # noqa: E402
import cells.formats.whole_keras as whole_keras  # noqa: E402
import cells.formats.whole_named as whole_named  # noqa: E402
import cells.formats.whole_onnx as whole_onnx  # noqa: E402
import cells.weights_io as weights_io  # noqa: E402
from app.sessions.datadir import PARSED_MODEL_EXT, Store  # noqa: E402
from cells.formats.tensor_files import MODEL_KEY  # noqa: E402
from tests.support import TOLERANCE, close, create_session  # noqa: E402

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


# -- whole models --------------------------------------------------------------------------
VOCABULARY = list("abcdefg ")
TEXT = "a bad cafe fed a badge"
E, HM = 4, 5


def original_reads(monkeypatch) -> list[str]:
    """Every call of an original format's reader (a state dict's, ONNX's, Keras's; not the
    reader of the gatescope model file an upload's parts are kept in), by what it read."""
    calls: list[str] = []

    def counted(module, name, label_of=lambda args: str(args[0])):
        reader = getattr(module, name)

        def counting(*args, **kwargs):
            label = label_of(args)
            if label is not None:
                calls.append(label)
            return reader(*args, **kwargs)

        monkeypatch.setattr(module, name, counting)

    for module, name in ((onnx_format, "read_onnx"), (whole_onnx, "read_onnx_model"),
                         (whole_keras, "read_keras_archive"),
                         (whole_keras, "read_keras_weights_file"), (keras_h5, "read_keras_h5")):
        counted(module, name)
    for module, name in ((whole_named, "read_named_model"), (weights_io, "read_named")):
        counted(module, name, lambda args: None if MODEL_KEY in args[0].metadata
                else args[0].label)
    return calls


class TorchText(torch.nn.Module):
    """Embedding → 2-layer bidirectional LSTM → Linear → softmax, as people write one."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(5)
        self.emb = torch.nn.Embedding(len(VOCABULARY), E)
        self.lstm = torch.nn.LSTM(E, HM, num_layers=2, bidirectional=True)
        self.fc = torch.nn.Linear(2 * HM, len(VOCABULARY))

    def forward(self, ids):  # (T, 1)
        return torch.softmax(self.fc(self.lstm(self.emb(ids))[0]), -1)


def ids_of(text: str) -> list[int]:
    return [VOCABULARY.index(ch) for ch in text]


def state_dict_model(folder):
    module = TorchText().eval()
    path = folder / "model.safetensors"
    save_file(module.state_dict(), str(path))
    with torch.no_grad():
        return path, module(torch.tensor(ids_of(TEXT))[:, None])[:, 0].numpy()


def onnx_model(folder):
    module = TorchText().eval()
    path = folder / "model.onnx"
    ids = torch.tensor(ids_of(TEXT))[:, None]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter announces its deprecation
        torch.onnx.export(module, (ids,), str(path), dynamo=False, input_names=["ids"])
    with torch.no_grad():
        return path, module(ids)[:, 0].numpy()


def keras_model(folder):
    keras.utils.set_random_seed(5)
    model = keras.Sequential([
        keras.Input((None,), dtype="int32"), keras.layers.Embedding(len(VOCABULARY), E),
        keras.layers.Bidirectional(keras.layers.GRU(HM, return_sequences=True)),
        keras.layers.LSTM(HM, return_sequences=True),
        keras.layers.Dense(len(VOCABULARY), activation="softmax")])
    model.build((None, None))
    rng = np.random.default_rng(5)  # random biases too, so every weight is checked
    for weight in model.weights:
        weight.assign(rng.normal(0, 0.6, weight.shape))
    path = folder / "model.keras"
    model.save(path)
    return path, model.predict(np.array([ids_of(TEXT)]), verbose=0)[0]


def upload_with(client, path, vocabulary):
    files = {"file": (path.name, path.read_bytes())}
    if vocabulary is not None:
        files["vocabulary"] = ("vocab.json", json.dumps(vocabulary).encode())
    response = client.post("/api/weights", files=files)
    assert response.status_code == 201, response.text
    return response.json()


def probs_of(client, weights_id: str) -> np.ndarray:
    session = create_session(client, weights_id=weights_id, sequence={"text": TEXT})
    response = client.get(f"/api/sessions/{session['id']}/trace", params={"names": "probs"})
    assert response.status_code == 200, response.text
    return np.asarray(response.json()["signals"]["probs"])


@pytest.mark.parametrize("written", [state_dict_model, onnx_model, keras_model],
                         ids=["state_dict", "onnx", "keras"])
def test_a_cold_cache_reads_a_whole_models_parts(client, app_state, settings, tmp_path,
                                                 monkeypatch, written):
    path, expected = written(tmp_path)
    calls = original_reads(monkeypatch)
    record = upload_with(client, path, VOCABULARY)
    assert record["model"] is not None and record["model"]["head"]["kind"] == "softmax"
    assert calls  # read on upload
    weights_id = record["weights_id"]
    assert (settings.data_dir / "weights" / f"{weights_id}{PARSED_MODEL_EXT}").exists()
    calls.clear()
    app_state.sessions.models.clear()  # a cold start: nothing built in this process
    probs = probs_of(client, weights_id)
    assert calls == []  # the original was not parsed again
    close(probs, expected, "float32")
    Store(settings.data_dir).delete_upload(weights_id)
    assert not any(p.name.startswith(weights_id) for p in (settings.data_dir / "weights").iterdir())


def test_an_upload_from_before_parsed_models_reads_the_original(client, app_state, settings,
                                                                tmp_path, monkeypatch):
    path, expected = onnx_model(tmp_path)
    weights_id = upload_with(client, path, VOCABULARY)["weights_id"]
    (settings.data_dir / "weights" / f"{weights_id}{PARSED_MODEL_EXT}").unlink()
    calls = original_reads(monkeypatch)
    app_state.sessions.models.clear()
    close(probs_of(client, weights_id), expected, "float32")
    assert calls  # no parts kept: the original is read, as before


def test_the_vocabulary_given_later_decides_what_the_file_leaves_open(client, app_state,
                                                                      tmp_path, monkeypatch):
    """A state dict of a one-hot RNN with a Linear head says neither that it reads text nor
    its head's activation. Uploaded first without a vocabulary it is a model of numbers
    with a linear head; the same bytes uploaded again with one make a text model with a
    softmax head, and a cold cache builds that from the parts kept the first time."""
    torch.manual_seed(6)
    rnn, fc = torch.nn.RNN(len(VOCABULARY), HM), torch.nn.Linear(HM, len(VOCABULARY))
    state = {f"rnn.{k}": v for k, v in rnn.state_dict().items()}
    state |= {f"fc.{k}": v for k, v in fc.state_dict().items()}
    path = tmp_path / "rnn.safetensors"
    save_file(state, str(path))
    first = upload_with(client, path, None)
    assert first["model"]["head"]["kind"] == "linear"
    assert first["model"]["encoding"] == "numbers"
    again = upload_with(client, path, VOCABULARY)
    assert again["weights_id"] == first["weights_id"]
    assert again["model"]["head"]["kind"] == "softmax"
    calls = original_reads(monkeypatch)
    app_state.sessions.models.clear()
    probs = probs_of(client, again["weights_id"])
    assert calls == []
    with torch.no_grad():
        one_hot = torch.eye(len(VOCABULARY))[ids_of(TEXT)][:, None]
        expected = torch.softmax(fc(rnn(one_hot)[0][:, 0]), -1).numpy()
    close(probs, expected, "float32")
