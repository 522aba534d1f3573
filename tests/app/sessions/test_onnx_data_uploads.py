"""An .onnx model uploaded with its external data (model.onnx.data, as torch.onnx.export
writes it): kept as one self-contained file; its sessions equal onnxruntime."""

from __future__ import annotations

import warnings

import numpy as np
import onnx
import onnxruntime
import torch

from tests.support import assert_error, create_session

VOCABULARY = list("abc ")
TEXT = "a cab"


class Tagger(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.emb = torch.nn.Embedding(len(VOCABULARY), 8)
        self.rnn = torch.nn.GRU(8, 16, num_layers=2)  # big enough to be written outside
        self.fc = torch.nn.Linear(16, len(VOCABULARY))

    def forward(self, ids):
        return torch.softmax(self.fc(self.rnn(self.emb(ids))[0]), -1)


def exported(tmp_path):
    path = tmp_path / "tagger.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Tagger().eval(), (torch.tensor([[0], [1], [2], [3], [0]]),),
                          str(path), dynamo=True, input_names=["ids"], verbose=False)
    stored = onnx.load(str(path), load_external_data=False).graph.initializer
    assert any(t.data_location == onnx.TensorProto.EXTERNAL for t in stored)
    return path


def post(client, **files):
    return client.post("/api/weights", files={k: (p.name, p.read_bytes())
                                              for k, p in files.items()})


def test_a_model_with_its_data_file(client, tmp_path):
    path = exported(tmp_path)
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(VOCABULARY) + "\n")
    answer = post(client, file=path, data=tmp_path / "tagger.onnx.data", vocabulary=vocab)
    assert answer.status_code == 201, answer.text
    record = answer.json()
    assert record["filename"] == "tagger.onnx" and record["layers"] == 2
    session = create_session(client, weights_id=record["weights_id"], sequence={"text": TEXT})
    got = client.get(f"/api/sessions/{session['id']}/trace",
                     params={"names": "probs"}).json()["signals"]["probs"]
    ids = np.array([VOCABULARY.index(ch) for ch in TEXT])[:, None]
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    expected = onnxruntime.InferenceSession(str(path), options).run(None, {"ids": ids})[0]
    np.testing.assert_allclose(got, expected[:, 0], rtol=1e-5, atol=1e-5)


def test_without_its_data_file_or_with_a_stray_one(client, tmp_path):
    path = exported(tmp_path)
    assert_error(post(client, file=path), 422, "file",
                 "'tagger.onnx.data', which is not a file beside the model; give it with "
                 "the model")
    other = tmp_path / "model.safetensors"
    other.write_bytes(b"\x00" * 16)
    assert_error(post(client, file=other, data=tmp_path / "tagger.onnx.data"), 422, "data",
                 "only an .onnx model keeps its weights in a data file")
    short = tmp_path / "short.data"
    short.write_bytes((tmp_path / "tagger.onnx.data").read_bytes()[:100])
    assert_error(post(client, file=path, data=short), 422, "data", "past the end of "
                 "tagger.onnx.data")
