"""ONNX files as today's tools write them, read by cells.load_model and compared with
onnxruntime at 1e-5 (float32): torch.onnx.export with both exporters and dynamic shapes
(shape arithmetic, weights in model.onnx.data), weights computed in the graph from
initializers, recurrent nodes inside If branches, and onnxruntime's dynamic quantization
(read as the float model its int8 weights dequantize to, with a notice)."""

from __future__ import annotations

import warnings

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

import cells
from tests.support import close

V, E, H, O = 9, 4, 5, 6
IDS = np.array([1, 4, 0, 6, 2, 2, 8, 3, 5, 7, 1])  # longer than the example exported



def runtime(path, feeds):
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(path), options,
                                           providers=["CPUExecutionProvider"])
    return session.run(None, feeds)[0]


class Tagger(torch.nn.Module):
    def __init__(self, kind):
        super().__init__()
        torch.manual_seed(0)
        self.emb = torch.nn.Embedding(V, E)
        recurrent = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind]
        self.rnn = recurrent(E, H, num_layers=2, bidirectional=True)
        self.fc = torch.nn.Linear(2 * H, O)

    def forward(self, ids):  # (T, B)
        return torch.softmax(self.fc(self.rnn(self.emb(ids))[0]), -1)


def export(module, path, dynamo):
    example = (torch.tensor([[1], [4], [0], [6]]),)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter announces its deprecation
        if dynamo:
            torch.onnx.export(module, example, str(path), dynamo=True, input_names=["ids"],
                              dynamic_shapes=({0: torch.export.Dim("T")},), verbose=False)
        else:
            torch.onnx.export(module, example, str(path), dynamo=False, input_names=["ids"],
                              dynamic_axes={"ids": {0: "T", 1: "B"}})


@pytest.mark.parametrize("dynamo", [True, False], ids=["dynamo", "torchscript"])
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_torch_onnx_export_with_dynamic_shapes(tmp_path, kind, dynamo):
    path = tmp_path / "tagger.onnx"
    export(Tagger(kind).eval(), path, dynamo)
    ops = {node.op_type for node in onnx.load(str(path), load_external_data=False).graph.node}
    if dynamo:  # shape arithmetic feeding a Reshape, weights in the sibling file
        assert {"Shape", "Mul", "Reshape"} <= ops
        stored = onnx.load(str(path), load_external_data=False).graph.initializer
        assert any(t.data_location == TensorProto.EXTERNAL for t in stored)
    model = cells.load_model(path)
    assert model.layers == 2 and model.directions == ("forward", "backward")
    assert model.cell(0).kind == kind and model.head.activation == "softmax"
    # the dynamo exporter fixes the head's Reshape to the example's length, so onnxruntime
    # runs that file at that length only
    ids = IDS[:4] if dynamo else IDS
    expected = runtime(path, {"ids": ids[:, None]})[:, 0]
    close(model.run(ids)["probs"], expected, "float32")


def test_quantize_dynamic_read_as_the_float_model_with_a_notice(tmp_path):
    from onnxruntime.quantization import QuantType, quantize_dynamic

    float_path, int8_path = tmp_path / "float.onnx", tmp_path / "int8.onnx"
    export(Tagger("lstm").eval(), float_path, dynamo=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantize_dynamic(str(float_path), str(int8_path), weight_type=QuantType.QInt8)
    ops = {n.op_type for n in onnx.load(str(int8_path)).graph.node}
    assert {"DynamicQuantizeLSTM", "MatMulInteger"} <= ops
    with pytest.warns(cells.DequantizedWarning, match=r"int8\.onnx: the model is "
                                                      r"int8-quantized .* the numbers shown are "
                                                      r"the float model's, not the int8 "
                                                      r"runtime's") as caught:
        model = cells.load_model(int8_path)
    assert len(caught) == 1 and model.notices == (str(caught[0].message)
                                                  .removeprefix("int8.onnx: "),)
    # The float model it stands for: the exported float graph holding the int8 weights
    # dequantized ((q - zero point) · scale), run by onnxruntime.
    quantized = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(int8_path))
                 .graph.initializer}
    dequantized = onnx.load(str(float_path))
    for tensor in dequantized.graph.initializer:
        q = quantized.get(f"{tensor.name}_quantized")
        if q is None:
            continue
        scale = quantized[f"{tensor.name}_scale"].astype(np.float32)
        zero = quantized[f"{tensor.name}_zero_point"].astype(np.int32)
        if tensor.name.startswith("onnx::LSTM"):  # stored (D, I, 4H) with a scale per direction
            value = (q.astype(np.int32) - zero[:, None, None]) * scale[:, None, None]
            value = value.transpose(0, 2, 1)
        else:
            value = (q.astype(np.int32) - zero) * scale
        tensor.CopyFrom(numpy_helper.from_array(value.astype(np.float32), tensor.name))
    onnx.save(dequantized, str(tmp_path / "dequantized.onnx"))
    expected = runtime(tmp_path / "dequantized.onnx", {"ids": IDS[:, None]})[:, 0]
    close(model.run(IDS)["probs"], expected, "float32")
    # and it is near the float model it was quantized from
    original = runtime(float_path, {"ids": IDS[:, None]})[:, 0]
    np.testing.assert_allclose(model.run(IDS)["probs"], original, atol=0.05)


def lstm_graph(nodes, initializers, inputs=("X",), extra_inputs=()):
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 1, E]), *extra_inputs],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(v.astype(v.dtype), k)
                     for k, v in initializers.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def random_weights(seed, rows):
    rng = np.random.default_rng(seed)
    return (rng.normal(0, 0.5, (1, rows * H, E)).astype(np.float32),
            rng.normal(0, 0.5, (1, rows * H, H)).astype(np.float32),
            rng.normal(0, 0.5, (1, 2 * rows * H)).astype(np.float32))


def xs(T=7, seed=9):
    return np.random.default_rng(seed).normal(size=(T, 1, E)).astype(np.float32)


def test_weights_computed_from_initializers_are_folded(tmp_path):
    """W stored 2-D and transposed, R stored in two halves and concatenated, B sliced from a
    longer vector: the exporter left the arithmetic in the graph."""
    w, r, b = random_weights(1, 4)
    stored = {"w_t": w[0].T.copy(), "r_top": r[0, :2 * H], "r_bottom": r[0, 2 * H:],
              "b_long": np.concatenate([b[0], np.ones(3, np.float32)]),
              "zero": np.array([0], np.int64), "end": np.array([8 * H], np.int64),
              "axis0": np.array([0], np.int64), "step": np.array([1], np.int64)}
    nodes = [
        helper.make_node("Transpose", ["w_t"], ["w2"], perm=[1, 0]),
        helper.make_node("Unsqueeze", ["w2", "axis0"], ["W"]),
        helper.make_node("Concat", ["r_top", "r_bottom"], ["r2"], axis=0),
        helper.make_node("Unsqueeze", ["r2", "axis0"], ["R"]),
        helper.make_node("Slice", ["b_long", "zero", "end", "", "step"], ["b1"]),  # no axes
        helper.make_node("Unsqueeze", ["b1", "axis0"], ["B"]),
        helper.make_node("LSTM", ["X", "W", "R", "B"], ["Y"], hidden_size=H),
    ]
    path = tmp_path / "computed.onnx"
    onnx.save(lstm_graph(nodes, stored), str(path))
    model = cells.load_model(path)
    close(model.run(xs()[:, 0]).outputs[-1], runtime(path, {"X": xs()})[:, 0, 0], "float32")


def if_graph(condition_nodes, extra_inputs=()):
    """An LSTM in the then branch and a GRU in the else branch, both reading the outer X
    and outer initializers (one file for two variants, as shipped models do)."""
    lstm_w, lstm_r, lstm_b = random_weights(2, 4)
    gru_w, gru_r, gru_b = random_weights(3, 3)
    then_branch = helper.make_graph(
        [helper.make_node("LSTM", ["X", "lstm_W", "lstm_R", "lstm_B"], ["then_Y"],
                          hidden_size=H)], "then", [],
        [helper.make_tensor_value_info("then_Y", TensorProto.FLOAT, None)])
    else_branch = helper.make_graph(
        [helper.make_node("GRU", ["X", "gru_W", "gru_R", "gru_B"], ["else_Y"], hidden_size=H,
                          linear_before_reset=1)], "else", [],
        [helper.make_tensor_value_info("else_Y", TensorProto.FLOAT, None)])
    nodes = [*condition_nodes,
             helper.make_node("If", ["cond"], ["Y"], then_branch=then_branch,
                              else_branch=else_branch)]
    stored = {"lstm_W": lstm_w, "lstm_R": lstm_r, "lstm_B": lstm_b, "gru_W": gru_w,
              "gru_R": gru_r, "gru_B": gru_b, "rate": np.array(16000, np.int64),
              "wide": np.array(16000, np.int64)}
    return lstm_graph(nodes, stored, extra_inputs=extra_inputs)


@pytest.mark.parametrize(("rate", "kind"), [(16000, "lstm"), (8000, "gru")])
def test_recurrent_nodes_inside_if_branches(tmp_path, rate, kind):
    condition = [helper.make_node("Constant", [], ["chosen"],
                                  value=numpy_helper.from_array(np.array(rate, np.int64))),
                 helper.make_node("Equal", ["chosen", "wide"], ["cond"])]
    path = tmp_path / "branches.onnx"
    onnx.save(if_graph(condition), str(path))
    model = cells.load_model(path)
    assert model.cell(0).kind == kind
    close(model.run(xs()[:, 0]).outputs[-1], runtime(path, {"X": xs()})[:, 0, 0], "float32")
    one = cells.load(path)  # one cell, as cells.load reads it
    assert one.kind == kind


def test_an_if_chosen_by_the_input_is_refused_by_name(tmp_path):
    condition = [helper.make_node("Equal", ["sr", "wide"], ["cond"])]
    sample_rate = helper.make_tensor_value_info("sr", TensorProto.INT64, [])
    path = tmp_path / "by_input.onnx"
    onnx.save(if_graph(condition, extra_inputs=[sample_rate]), str(path))
    with pytest.raises(ValueError, match=r"by_input\.onnx: If node 'Y' chooses its branch by "
                                         r"'cond', which is not known from the file"):
        cells.load_model(path)


def test_folding_and_states_keep_their_limits(tmp_path):
    w, r, b = random_weights(4, 4)
    huge = [helper.make_node("ConstantOfShape", ["shape"], ["big"]),
            helper.make_node("LSTM", ["X", "W", "R", "B", "", "big"], ["Y"], hidden_size=H)]
    path = tmp_path / "huge.onnx"
    onnx.save(lstm_graph(huge, {"W": w, "R": r, "B": b,
                                "shape": np.array([10**6, 10**6], np.int64)}), str(path))
    with pytest.raises(ValueError, match=r"huge\.onnx: ConstantOfShape node 'big' would make "
                                         r"more than \d+ numbers; it is not computed"):
        cells.load_model(path)
    ones = [helper.make_node("Shape", ["X"], ["x_shape"]),
            helper.make_node("Gather", ["x_shape", "one"], ["batch"]),
            helper.make_node("Concat", ["one", "batch", "hidden"], ["state_shape"], axis=0),
            helper.make_node("ConstantOfShape", ["state_shape"], ["h0"],
                             value=numpy_helper.from_array(np.array([1.0], np.float32))),
            helper.make_node("LSTM", ["X", "W", "R", "B", "", "h0"], ["Y"], hidden_size=H)]
    path = tmp_path / "ones.onnx"
    onnx.save(lstm_graph(ones, {"W": w, "R": r, "B": b, "one": np.array([1], np.int64),
                                "hidden": np.array([H], np.int64)}), str(path))
    with pytest.raises(ValueError, match=r"ones\.onnx: LSTM node 'Y' starts from 'h0', filled "
                                         r"in the graph with values other than zeros"):
        cells.load_model(path)
    # the same shape arithmetic filling zeros is a zero start, as exporters write it
    ones[3] = helper.make_node("ConstantOfShape", ["state_shape"], ["h0"])
    onnx.save(lstm_graph(ones, {"W": w, "R": r, "B": b, "one": np.array([1], np.int64),
                                "hidden": np.array([H], np.int64)}), str(path))
    close(cells.load_model(path).run(xs()[:, 0]).outputs[-1],
          runtime(path, {"X": xs()})[:, 0, 0], "float32")
