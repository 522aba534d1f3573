"""An .onnx model that keeps its weights in a data file beside it (torch.onnx.export with
the dynamo exporter writes model.onnx and model.onnx.data) is uploaded on the page with
both files; its session's probabilities equal onnxruntime's (float32, 1e-5). Without the
data file the refusal says which file is missing."""

from __future__ import annotations

import warnings

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from gs_browser_helpers import open_view, run_new_session
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

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


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tagger")
    path = folder / "tagger.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Tagger().eval(), (torch.tensor([[0], [1], [2], [3], [0]]),),
                          str(path), dynamo=True, input_names=["ids"], verbose=False)
    stored = onnx.load(str(path), load_external_data=False).graph.initializer
    assert any(t.data_location == onnx.TensorProto.EXTERNAL for t in stored)
    (folder / "vocab.txt").write_text("\n".join(VOCABULARY) + "\n")
    return path


def choose_files(page, path, with_data: bool) -> None:
    open_view(page, "")
    page.get_by_label("file", exact=True).check()
    page.set_input_files("#vocabulary-file", str(path.parent / "vocab.txt"))
    if with_data:
        page.set_input_files("#weights-data-file", str(path.parent / "tagger.onnx.data"))
    page.set_input_files("#weights-file", str(path))


def test_a_model_with_its_data_file_runs_as_onnxruntime_runs_it(page, api, exported, errors):
    choose_files(page, exported, with_data=True)
    expect(page.locator("#weights-id")).to_contain_text("tagger.onnx")
    page.get_by_label("text", exact=True).check()
    page.get_by_label("Sequence", exact=True).fill(TEXT)
    sid = run_new_session(page)
    got = api("GET", f"/api/sessions/{sid}/trace?start=0&stop={len(TEXT)}&names=probs")
    ids = np.array([VOCABULARY.index(ch) for ch in TEXT])[:, None]
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    expected = onnxruntime.InferenceSession(str(exported), options).run(None, {"ids": ids})[0]
    np.testing.assert_allclose(got["signals"]["probs"], expected[:, 0], rtol=1e-5, atol=1e-5)


def test_without_its_data_file_the_refusal_names_it(page, exported, js_errors):
    choose_files(page, exported, with_data=False)
    expect(page.locator('[data-error-for="weights"]')).to_contain_text(
        "'tagger.onnx.data', which is not a file beside the model; give it with the model")
