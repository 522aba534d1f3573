"""An ONNX If chosen by the model's inputs (one file for two sample rates, as shipped voice
models are): each branch read with cells.load_model(path, branch=...) and compared with
onnxruntime run on the input value that takes it, at 1e-5 (float32); without a branch the
file is refused with what each branch holds."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

import cells
from tests.support import close

E = 4
SIZES = {"then": ("LSTM", 4, 5), "else": ("GRU", 3, 3)}  # op, gate blocks, hidden size


def branch_graph(name):
    op, blocks, hidden = SIZES[name]
    extra = {"linear_before_reset": 1} if op == "GRU" else {}
    return helper.make_graph(
        [helper.make_node(op, ["X", f"{name}_W", f"{name}_R", f"{name}_B"],
                          [f"{name}_Y"], hidden_size=hidden, **extra)],
        name, [], [helper.make_tensor_value_info(f"{name}_Y", TensorProto.FLOAT, None)])


def sample_rate_model(path, condition_op="Equal", second_if=False):
    """Y = If(sr == 16000) then an LSTM (H 5) else a GRU (H 3), weights stored outside."""
    stored = {"rate": np.array(16000, np.int64)}
    for name, (_, blocks, hidden) in SIZES.items():
        rng = np.random.default_rng(len(name) * 7 + blocks)
        stored[f"{name}_W"] = rng.normal(0, 0.5, (1, blocks * hidden, E))
        stored[f"{name}_R"] = rng.normal(0, 0.5, (1, blocks * hidden, hidden))
        stored[f"{name}_B"] = rng.normal(0, 0.5, (1, 2 * blocks * hidden))
    nodes = [helper.make_node(condition_op, ["sr", "rate"], ["cond"]),
             helper.make_node("If", ["cond"], ["Y"], then_branch=branch_graph("then"),
                              else_branch=branch_graph("else"), name="by_rate")]
    if second_if:  # another If chosen by the same input, inside the then branch's place
        nodes.append(helper.make_node("If", ["cond"], ["Z"], name="again",
                                      then_branch=branch_graph("then"),
                                      else_branch=branch_graph("else")))
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 1, E]),
         helper.make_tensor_value_info("sr", TensorProto.INT64, [])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(v.astype(np.float32) if v.dtype.kind == "f"
                                             else v, k) for k, v in stored.items()])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def xs(T=9):
    return np.random.default_rng(3).normal(size=(T, 1, E)).astype(np.float32)


def runtime(path, rate):
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(path), options,
                                           providers=["CPUExecutionProvider"])
    return session.run(None, {"X": xs(), "sr": np.array(rate, np.int64)})[0]


@pytest.mark.parametrize(("branch", "rate", "kind", "hidden"),
                         [("then", 16000, "lstm", 5), ("else", 8000, "gru", 3)])
def test_each_branch_matches_onnxruntime_on_the_input_that_takes_it(tmp_path, branch, rate,
                                                                    kind, hidden):
    path = sample_rate_model(tmp_path / "vad.onnx")
    model = cells.load_model(path, branch=branch)
    assert (model.cell(0).kind, model.cell(0).hidden_size, model.layers) == (kind, hidden, 1)
    expected = runtime(path, rate)  # (T, D=1, B=1, H)
    assert expected.shape == (9, 1, 1, hidden)
    close(model.run(xs()[:, 0]).outputs[-1], expected[:, 0, 0], "float32")


def test_without_a_branch_the_refusal_lists_what_each_branch_holds(tmp_path):
    path = sample_rate_model(tmp_path / "vad.onnx")
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
    path = sample_rate_model(tmp_path / "wide.onnx", condition_op="Greater")
    with pytest.raises(ValueError, match=r"'then' when 'sr' > 16000, else 'else'"):
        cells.load_model(path)
    close(cells.load_model(path, branch="then").run(xs()[:, 0]).outputs[-1],
          runtime(path, 44100)[:, 0, 0], "float32")


def test_branch_choices_that_do_not_apply_are_refused(tmp_path):
    path = sample_rate_model(tmp_path / "vad.onnx")
    with pytest.raises(ValueError, match=r"vad\.onnx: branch 'both' is not one of then, else"):
        cells.load_model(path, branch="both")
    twice = sample_rate_model(tmp_path / "twice.onnx", second_if=True)
    with pytest.raises(ValueError, match=r"twice\.onnx: If node 'again' also chooses its branch "
                                         r"by the model's inputs .*If node 'by_rate' was chosen"):
        cells.load_model(twice, branch="then")
    plain = tmp_path / "plain.npz"
    cells.save(cells.create("gru", input_size=E, hidden_size=3, seed=0), plain)
    with pytest.raises(ValueError, match=r"plain\.npz: branch='else' only applies to an ONNX "
                                         "model whose If node"):
        cells.load_model(plain, branch="else")


def test_a_branch_named_for_a_file_without_such_an_if_is_refused(tmp_path):
    path = sample_rate_model(tmp_path / "fixed.onnx")
    model = onnx.load(str(path))
    model.graph.node[0].CopyFrom(helper.make_node(  # the condition now comes from the file
        "Constant", [], ["cond"], value=numpy_helper.from_array(np.array(False))))
    onnx.save(model, str(path))
    assert cells.load_model(path).cell(0).kind == "gru"
    with pytest.raises(ValueError, match=r"fixed\.onnx: branch='then' was given, but no If node "
                                         r"of the graph chooses its branch by the model's "
                                         "inputs; leave branch out"):
        cells.load_model(path, branch="then")
