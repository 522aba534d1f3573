"""Whole ONNX models through cells.load_model: ONNX's own backend node test cases for LSTM,
GRU and RNN (every direction and layout, with W, R, B, P put in as initializers), and a
stacked text model with an embedding and a softmax head against onnx.reference."""

from __future__ import annotations

import os
import warnings

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from onnx.backend.test.case.node import collect_testcases
from onnx.reference import ReferenceEvaluator

import cells

RECURRENT = ("LSTM", "GRU", "RNN")
WEIGHT_INPUTS = {1: "W", 2: "R", 3: "B", 7: "P"}  # operator input positions stored as weights


def backend_cases():
    # Collecting builds every operator's cases; some divide by zero on purpose.
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        everything = collect_testcases(None)
    cases = [case for case in everything
             if any(n.op_type in RECURRENT for n in case.model.graph.node)]
    return {case.name: case for case in cases}


CASES = backend_cases()


def test_all_backend_cases_are_collected():
    # 18 with onnx 1.16+: defaults, initial bias, seq length, batchwise, peepholes, and the
    # reverse and bidirectional ones that used to be refused.
    assert len(CASES) >= 18
    directions = {helper.get_attribute_value(a) for c in CASES.values()
                  for n in c.model.graph.node for a in n.attribute if a.name == "direction"}
    assert {b"reverse", b"bidirectional"} <= directions


def with_weights_stored(case, path):
    """The case's model with W, R, B (and P) as initializers; X and the states stay inputs."""
    inputs, _ = case.data_sets[0]
    graph = case.model.graph
    (node,) = graph.node
    values = dict(zip([i.name for i in graph.input], inputs, strict=True))
    stored = {node.input[k] for k in WEIGHT_INPUTS if k < len(node.input) and node.input[k]}
    initializers = [numpy_helper.from_array(values[name], name) for name in sorted(stored)]
    new = helper.make_graph(
        [node], graph.name, [i for i in graph.input if i.name not in stored], list(graph.output),
        initializer=initializers,
    )
    model = helper.make_model(new, opset_imports=case.model.opset_import)
    onnx.save(model, str(path))
    return values, node


def attribute(node, name, default):
    for a in node.attribute:
        if a.name == name:
            value = helper.get_attribute_value(a)
            return value.decode() if isinstance(value, bytes) else value
    return default


@pytest.mark.parametrize("name", sorted(CASES))
def test_onnx_backend_case(tmp_path, name):
    case = CASES[name]
    values, node = with_weights_stored(case, tmp_path / f"{name}.onnx")
    model = cells.load_model(tmp_path / f"{name}.onnx")
    layout = attribute(node, "layout", 0)
    direction = attribute(node, "direction", "forward")
    directions = {"forward": ["forward"], "reverse": ["backward"],
                  "bidirectional": ["forward", "backward"]}[direction]
    assert model.layers == 1 and model.stack[0].directions == tuple(directions)
    _, expected = case.data_sets[0]
    outputs = dict(zip([o.name for o in case.model.graph.output], expected, strict=True))
    names = dict(zip(("Y", "Y_h", "Y_c"), list(node.output) + ["", ""], strict=False))
    x = values[node.input[0]]
    if layout == 1:  # (batch, seq, ...) -> (seq, batch, ...)
        x = x.transpose(1, 0, 2)
        outputs = {k: np.moveaxis(v, 0, 2 if v.ndim == 4 else 1) for k, v in outputs.items()}
    inputs = dict(zip(["X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"],
                      node.input, strict=False))
    initial = {key: values[inputs[key]] for key in ("initial_h", "initial_c")
               if inputs.get(key)}
    if layout == 1:
        initial = {k: v.transpose(1, 0, 2) for k, v in initial.items()}
    lengths = values[inputs["sequence_lens"]] if inputs.get("sequence_lens") else None
    H = model.cell(0, directions[0]).hidden_size
    checked = 0
    for b in range(x.shape[1]):
        steps = x.shape[0] if lengths is None else int(lengths[b])
        state = {(0, d): {s[-1]: initial[s][k, b] for s in initial}
                 for k, d in enumerate(directions)}
        mt = model.run(x[:steps, b], state=state)
        for k, d in enumerate(directions):
            trace = mt.layer(0, d)
            if names["Y"]:
                aligned = mt.outputs[0][:, k * H:(k + 1) * H]
                np.testing.assert_allclose(aligned, outputs[names["Y"]][:steps, k, b],
                                           rtol=1e-5, atol=1e-6)
                checked += 1
            for output, signal in (("Y_h", "h"), ("Y_c", "c")):
                if names[output]:
                    np.testing.assert_allclose(trace.final_state[signal],
                                               outputs[names[output]][k, b],
                                               rtol=1e-5, atol=1e-6)
                    checked += 1
    assert checked > 0


# --- a stacked text model built with onnx.helper, against the reference runtime ----------

V, E, H1, H2, O = 7, 3, 4, 5, 7  # O = V: a next-token head


def text_model(path, rng, dtype=np.float64):
    arrays = {
        "emb": rng.normal(size=(V, E)),
        "W0": rng.normal(size=(2, 4 * H1, E)), "R0": rng.normal(size=(2, 4 * H1, H1)),
        "B0": rng.normal(size=(2, 8 * H1)),
        "W1": rng.normal(size=(1, 3 * H2, 2 * H1)), "R1": rng.normal(size=(1, 3 * H2, H2)),
        "B1": rng.normal(size=(1, 6 * H2)),
        "Wout": rng.normal(size=(H2, O)), "bout": rng.normal(size=(O,)),
        "perm_shape": np.array([0, 0, -1], np.int64),
    }
    arrays = {k: v.astype(dtype) if v.dtype.kind == "f" else v for k, v in arrays.items()}
    nodes = [
        helper.make_node("Gather", ["emb", "ids"], ["x"]),  # ids (T, 1) -> x (T, 1, E)
        helper.make_node("LSTM", ["x", "W0", "R0", "B0"], ["y0"], hidden_size=H1,
                         direction="bidirectional"),  # (T, 2, 1, H1)
        helper.make_node("Transpose", ["y0"], ["y0t"], perm=[0, 2, 1, 3]),  # (T, 1, 2, H1)
        helper.make_node("Reshape", ["y0t", "perm_shape"], ["x1"]),  # (T, 1, 2·H1)
        helper.make_node("GRU", ["x1", "W1", "R1", "B1"], ["y1"], hidden_size=H2,
                         linear_before_reset=1, direction="reverse"),  # (T, 1, 1, H2)
        helper.make_node("Squeeze", ["y1", "axis1"], ["y1s"]),  # (T, 1, H2)
        helper.make_node("MatMul", ["y1s", "Wout"], ["logits0"]),
        helper.make_node("Add", ["logits0", "bout"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probs"], axis=-1),
    ]
    arrays["axis1"] = np.array([1], np.int64)
    elem = TensorProto.DOUBLE if dtype == np.float64 else TensorProto.FLOAT
    graph = helper.make_graph(
        nodes, "text", [helper.make_tensor_value_info("ids", TensorProto.INT64, [None, 1])],
        [helper.make_tensor_value_info("probs", elem, None),
         helper.make_tensor_value_info("logits", elem, None)],
        initializer=[numpy_helper.from_array(v, k) for k, v in arrays.items()],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)]), str(path))
    return path


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_stacked_text_model_matches_onnx_reference(tmp_path, dtype):
    rng = np.random.default_rng(3)
    path = text_model(tmp_path / "text.onnx", rng, dtype)
    vocabulary = "abcdefg"
    (tmp_path / "vocab.txt").write_text("\n".join(vocabulary) + "\n")  # the sidecar
    model = cells.load_model(path)
    assert model.layers == 2 and model.directions == ("forward", "backward")
    assert model.stack[1].directions == ("backward",)
    assert model.vocabulary == tuple(vocabulary)
    text = "badcafe"
    ids = np.array([vocabulary.index(ch) for ch in text], np.int64)[:, None]
    probs, logits = ReferenceEvaluator(str(path)).run(None, {"ids": ids})
    mt = model.run(text)
    tol = 1e-10 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(mt["logits"], logits[:, 0], rtol=tol, atol=tol)
    np.testing.assert_allclose(mt["probs"], probs[:, 0], rtol=tol, atol=tol)
    assert mt.top(0, 2)[0][0] == vocabulary[int(np.argmax(probs[0, 0]))]


def test_onnx_other_operator_refused_by_name(tmp_path):
    rng = np.random.default_rng(0)
    w, r = rng.normal(size=(1, 4, 2)), rng.normal(size=(1, 4, 4))
    graph = helper.make_graph(
        [helper.make_node("RNN", ["X", "W", "R"], ["Y"], hidden_size=4),
         helper.make_node("Relu", ["Y"], ["Z"])],
        "g", [helper.make_tensor_value_info("X", TensorProto.DOUBLE, [None, 1, 2])],
        [helper.make_tensor_value_info("Z", TensorProto.DOUBLE, None)],
        initializer=[numpy_helper.from_array(w, "W"), numpy_helper.from_array(r, "R")],
    )
    onnx.save(helper.make_model(graph), str(tmp_path / "relu.onnx"))
    with pytest.raises(ValueError, match=r"relu\.onnx: operator\(s\) Relu are not supported"):
        cells.load_model(tmp_path / "relu.onnx")


# --- files written by torch's own ONNX exporter -----------------------------------------


class TorchText(torch.nn.Module):
    def __init__(self, kind):
        super().__init__()
        torch.manual_seed(0)
        recurrent = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[kind]
        self.emb = torch.nn.Embedding(V, E)
        self.rnn = recurrent(E, H1, num_layers=2, bidirectional=True)
        self.fc = torch.nn.Linear(2 * H1, O)

    def forward(self, ids):  # (T, 1)
        return torch.softmax(self.fc(self.rnn(self.emb(ids))[0]), -1)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_torch_exported_onnx_matches_torch(tmp_path, kind):
    module = TorchText(kind).eval()
    ids = torch.tensor([[1], [4], [0], [6], [2], [2]])
    path = tmp_path / f"{kind}.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter announces its deprecation
        torch.onnx.export(module, (ids,), str(path), dynamo=False, input_names=["ids"])
    model = cells.load_model(path)
    assert model.layers == 2 and model.directions == ("forward", "backward")
    with torch.no_grad():
        expected = module(ids)[:, 0].numpy()
    np.testing.assert_allclose(model.run(ids[:, 0].numpy())["probs"], expected, atol=1e-5)


def test_gemm_head_on_the_final_state_returns_the_last_step(tmp_path):
    rng = np.random.default_rng(5)
    arrays = {"W": rng.normal(size=(2, 3 * H1, 2)), "R": rng.normal(size=(2, 3 * H1, H1)),
              "Wout": rng.normal(size=(O, 2 * H1)), "bout": rng.normal(size=(O,)),
              "shape": np.array([1, 2 * H1], np.int64)}
    nodes = [
        helper.make_node("GRU", ["X", "W", "R"], ["", "Y_h"], hidden_size=H1,
                         direction="bidirectional", linear_before_reset=1),  # Y_h (2, 1, H1)
        helper.make_node("Transpose", ["Y_h"], ["Y_t"], perm=[1, 0, 2]),
        helper.make_node("Reshape", ["Y_t", "shape"], ["final"]),  # (1, 2·H1)
        helper.make_node("Gemm", ["final", "Wout", "bout"], ["logits"], transB=1, alpha=0.5),
    ]
    graph = helper.make_graph(
        nodes, "classifier",
        [helper.make_tensor_value_info("X", TensorProto.DOUBLE, [None, 1, 2])],
        [helper.make_tensor_value_info("logits", TensorProto.DOUBLE, None)],
        initializer=[numpy_helper.from_array(v, k) for k, v in arrays.items()],
    )
    path = tmp_path / "classifier.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)]), str(path))
    model = cells.load_model(path)
    assert model.returns == "last" and model.head.activation == "linear"
    xs = rng.normal(size=(9, 2))
    (expected,) = ReferenceEvaluator(str(path)).run(None, {"X": xs[:, None]})
    np.testing.assert_allclose(model.run(xs).prediction, expected[0], rtol=1e-10, atol=1e-10)


def test_bidirectional_rnn_with_an_activation_per_direction(tmp_path):
    rng = np.random.default_rng(8)
    w, r, b = rng.normal(size=(2, 4, 3)), rng.normal(size=(2, 4, 4)), rng.normal(size=(2, 8))
    graph = helper.make_graph(
        [helper.make_node("RNN", ["X", "W", "R", "B"], ["Y"], hidden_size=4,
                          direction="bidirectional", activations=["Tanh", "Relu"])],
        "g", [helper.make_tensor_value_info("X", TensorProto.DOUBLE, [None, 1, 3])],
        [helper.make_tensor_value_info("Y", TensorProto.DOUBLE, None)],
        initializer=[numpy_helper.from_array(a, n) for n, a in (("W", w), ("R", r), ("B", b))],
    )
    path = tmp_path / "mixed.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)]), str(path))
    model = cells.load_model(path)
    assert model.cell(0, "forward").options == {"nonlinearity": "tanh"}
    assert model.cell(0, "backward").options == {"nonlinearity": "relu"}
    xs = rng.normal(size=(7, 3))
    # onnx.reference has no Relu RNN, so torch runs each direction (ONNX's W, R, B are
    # torch's weight_ih, weight_hh, bias_ih + bias_hh for a one-block RNN).
    halves = []
    for k, (nonlinearity, seq) in enumerate((("tanh", xs), ("relu", xs[::-1].copy()))):
        rnn = torch.nn.RNN(3, 4, nonlinearity=nonlinearity).double()
        rnn.load_state_dict({"weight_ih_l0": torch.from_numpy(w[k]),
                             "weight_hh_l0": torch.from_numpy(r[k]),
                             "bias_ih_l0": torch.from_numpy(b[k, :4]),
                             "bias_hh_l0": torch.from_numpy(b[k, 4:])})
        with torch.no_grad():
            out = rnn(torch.from_numpy(seq)[:, None])[0][:, 0].numpy()
        halves.append(out if k == 0 else out[::-1])
    np.testing.assert_allclose(model.run(xs).outputs[0], np.concatenate(halves, axis=1),
                               rtol=1e-10, atol=1e-10)


def test_damaged_graphs_are_clear_refusals(tmp_path):
    """Whatever is cut or changed in a real exported graph, reading it ends in a model or a
    ValueError naming the file, never another exception."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    module = TorchText("gru").eval()
    source = tmp_path / "source.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (torch.tensor([[1], [2]]),), str(source), dynamo=False)
    original = onnx.load(str(source))
    ops = ["LSTM", "GRU", "RNN", "Gather", "MatMul", "Gemm", "Add", "Softmax", "Transpose",
           "Squeeze", "Reshape", "Relu"]

    @settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", 60)), deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(st.lists(st.tuples(st.sampled_from(["drop", "op", "cut", "attribute", "swap"]),
                              st.integers(0, 100), st.integers(0, 100)), min_size=1, max_size=3))
    def check(changes):
        model = onnx.ModelProto()
        model.CopyFrom(original)
        nodes = model.graph.node
        for change, a, b in changes:
            if not nodes:
                break
            node = nodes[a % len(nodes)]
            if change == "drop":
                nodes.remove(node)
            elif change == "op":
                node.op_type = ops[b % len(ops)]
            elif change == "cut" and node.input:
                del node.input[b % len(node.input)]
            elif change == "attribute" and node.attribute:
                attribute = node.attribute[b % len(node.attribute)]
                attribute.i, attribute.f, attribute.s = b - 50, -1.0, b"bidirectional"
            elif change == "swap" and len(node.input) > 1:
                node.input[0], node.input[1] = node.input[1], node.input[0]
        path = tmp_path / "damaged.onnx"
        onnx.save(model, str(path))
        try:
            cells.load_model(path)
        except ValueError as error:
            assert "damaged.onnx" in str(error)

    check()


def test_stored_initial_state_refused(tmp_path):
    rng = np.random.default_rng(2)
    arrays = {"W": rng.normal(size=(1, 4, 2)), "R": rng.normal(size=(1, 4, 4)),
              "h0": np.ones((1, 1, 4))}
    graph = helper.make_graph(
        [helper.make_node("RNN", ["X", "W", "R", "", "", "h0"], ["Y"], hidden_size=4)],
        "g", [helper.make_tensor_value_info("X", TensorProto.DOUBLE, [None, 1, 2])],
        [helper.make_tensor_value_info("Y", TensorProto.DOUBLE, None)],
        initializer=[numpy_helper.from_array(v, k) for k, v in arrays.items()],
    )
    onnx.save(helper.make_model(graph), str(tmp_path / "h0.onnx"))
    with pytest.raises(ValueError, match=r"h0\.onnx: RNN node 'Y': its initial_h 'h0' is a "
                                         r"stored nonzero state"):
        cells.load_model(tmp_path / "h0.onnx")
