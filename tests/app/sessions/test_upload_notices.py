"""What an upload's loading left out or changed is in its record (`notices`) and in its
sessions' `weights`: an int8 model read as the float model, tensors a file holds beside
its cells."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic

import cells
from tests.support import create_session


class Tagger(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.rnn = torch.nn.LSTM(3, 4)
        self.fc = torch.nn.Linear(4, 2)

    def forward(self, xs):
        return self.fc(self.rnn(xs)[0])


def post(client, path):
    with open(path, "rb") as handle:
        return client.post("/api/weights", files={"file": (path.name, handle.read())})


def test_an_int8_model_says_its_numbers_are_the_float_models(client, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Tagger().eval(), (torch.zeros(5, 1, 3),), str(tmp_path / "f.onnx"),
                          dynamo=False, input_names=["xs"])
        quantize_dynamic(str(tmp_path / "f.onnx"), str(tmp_path / "int8.onnx"),
                         weight_type=QuantType.QInt8)
    answer = post(client, tmp_path / "int8.onnx")
    assert answer.status_code == 201, answer.text
    (notice,) = answer.json()["notices"]
    assert notice.startswith("the model is int8-quantized") and "the float model's" in notice
    session = create_session(client, weights_id=answer.json()["weights_id"],
                             sequence={"values": [[0.0, 1.0, 0.5]] * 3})
    assert session["weights"]["notices"] == [notice]


def test_tensors_beside_the_cells_are_named(client, tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "keras.npz", **{
        "lstm/kernel:0": rng.normal(size=(3, 16)), "lstm/recurrent_kernel:0":
        rng.normal(size=(4, 16)), "lstm/bias:0": rng.normal(size=16),
        "dense/kernel:0": rng.normal(size=(4, 2))})
    answer = post(client, tmp_path / "keras.npz")
    assert answer.status_code == 201, answer.text
    (notice,) = answer.json()["notices"]
    assert notice == "left out 1 tensor(s) the model does not use: dense/kernel:0"
    with pytest.warns(cells.LeftOutWarning) as caught:  # the engine's words, the file named
        cells.load_model(tmp_path / "keras.npz")
    assert str(caught[0].message) == f"keras.npz: {notice}"
