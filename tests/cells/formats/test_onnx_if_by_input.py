"""An ONNX If chosen by the model's inputs (one file for two sample rates, as shipped voice
models are): each branch read with cells.load_model(path, branch=...) and compared with
onnxruntime run on the input value that takes it, at 1e-5 (float32); without a branch the
file is refused with what each branch holds."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

import cells
from tests.support import SAMPLE_RATE_INPUTS, close, sample_rate_onnx, sample_rate_runtime

E = SAMPLE_RATE_INPUTS


def xs(T=9):
    return np.random.default_rng(3).normal(size=(T, 1, E)).astype(np.float32)


def runtime(path, rate):
    return sample_rate_runtime(path, xs(), rate)


@pytest.mark.parametrize(("branch", "rate", "kind", "hidden"),
                         [("then", 16000, "lstm", 5), ("else", 8000, "gru", 3)])
def test_each_branch_matches_onnxruntime_on_the_input_that_takes_it(tmp_path, branch, rate,
                                                                    kind, hidden):
    path = sample_rate_onnx(tmp_path / "vad.onnx")
    model = cells.load_model(path, branch=branch)
    assert (model.cell(0).kind, model.cell(0).hidden_size, model.layers) == (kind, hidden, 1)
    expected = runtime(path, rate)  # (T, D=1, B=1, H)
    assert expected.shape == (9, 1, 1, hidden)
    close(model.run(xs()[:, 0]).outputs[-1], expected[:, 0, 0], "float32")


def test_without_a_branch_the_refusal_lists_what_each_branch_holds(tmp_path):
    path = sample_rate_onnx(tmp_path / "vad.onnx")
    with pytest.raises(ValueError) as refusal:
        cells.load_model(path)
    message = str(refusal.value)
    assert message.startswith("vad.onnx: If node 'by_rate' chooses its branch by 'cond', "
                              "which is not known from the file (it depends on the model's "
                              "inputs: 'then' when 'sr' == 16000, else 'else'); choose one "
                              "with branch='then' or branch='else'")
    assert "'then' holds 1 lstm layer (forward), input_size 4, hidden_size 5, no head" \
        in message
    assert "'else' holds 1 gru layer (forward), input_size 4, hidden_size 3, no head" \
        in message
    with pytest.raises(ValueError, match=r"cells\.load_model\(path, branch='then' or 'else'\) "
                                         r"reads one branch"):
        cells.load(path)  # one cell: the whole-model loader is the one that chooses


def test_comparisons_are_said_as_the_graph_makes_them(tmp_path):
    path = sample_rate_onnx(tmp_path / "wide.onnx", condition_op="Greater")
    with pytest.raises(ValueError, match=r"'then' when 'sr' > 16000, else 'else'"):
        cells.load_model(path)
    close(cells.load_model(path, branch="then").run(xs()[:, 0]).outputs[-1],
          runtime(path, 44100)[:, 0, 0], "float32")


def test_branch_choices_that_do_not_apply_are_refused(tmp_path):
    path = sample_rate_onnx(tmp_path / "vad.onnx")
    with pytest.raises(ValueError, match=r"vad\.onnx: branch 'both' is not one of then, else"):
        cells.load_model(path, branch="both")
    twice = sample_rate_onnx(tmp_path / "twice.onnx", second_if=True)
    with pytest.raises(ValueError, match=r"twice\.onnx: If node 'again' also chooses its branch "
                                         r"by the model's inputs .*If node 'by_rate' was chosen"):
        cells.load_model(twice, branch="then")
    plain = tmp_path / "plain.npz"
    cells.save(cells.create("gru", input_size=E, hidden_size=3, seed=0), plain)
    with pytest.raises(ValueError, match=r"plain\.npz: branch='else' only applies to an ONNX "
                                         "model whose If node"):
        cells.load_model(plain, branch="else")


def test_a_branch_named_for_a_file_without_such_an_if_is_refused(tmp_path):
    path = sample_rate_onnx(tmp_path / "fixed.onnx")
    model = onnx.load(str(path))
    model.graph.node[0].CopyFrom(helper.make_node(  # the condition now comes from the file
        "Constant", [], ["cond"], value=numpy_helper.from_array(np.array(False))))
    onnx.save(model, str(path))
    assert cells.load_model(path).cell(0).kind == "gru"
    with pytest.raises(ValueError, match=r"fixed\.onnx: branch='then' was given, but no If node "
                                         r"of the graph chooses its branch by the model's "
                                         "inputs; leave branch out"):
        cells.load_model(path, branch="then")
