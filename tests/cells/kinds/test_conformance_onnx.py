"""The engine against onnx.reference.ReferenceEvaluator: peephole LSTM, GRU with
linear_before_reset 0 and 1, and RNN, on random weights."""

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

import cells
from tests.support import close

ONNX_TYPE = {"float64": TensorProto.DOUBLE, "float32": TensorProto.FLOAT}


def blocks(a, order, H):
    """Canonical gate blocks -> ONNX order, e.g. LSTM i,f,g,o -> i,o,f,c = [0, 3, 1, 2]."""
    return np.concatenate([a[k * H:(k + 1) * H] for k in order])


def run_onnx(op, inputs: dict, attrs: dict, dtype, outputs=("Y", "Y_h")):
    names = ["X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"]
    if op != "LSTM":
        names = names[:6]
    node_inputs = [n if n in inputs else "" for n in names]
    while node_inputs and node_inputs[-1] == "":
        node_inputs.pop()
    node = helper.make_node(op, node_inputs, list(outputs), **attrs)
    graph = helper.make_graph(
        [node], "g",
        [helper.make_tensor_value_info("X", ONNX_TYPE[dtype], None)],
        [helper.make_tensor_value_info(o, ONNX_TYPE[dtype], None) for o in outputs],
        [numpy_helper.from_array(v, n) for n, v in inputs.items() if n != "X"],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    return ReferenceEvaluator(model).run(None, {"X": inputs["X"]})


def random_params(kind, I, H, dtype, seed, scale=1.2, **options):
    rng = np.random.default_rng(seed)
    cell = cells.create(kind, input_size=I, hidden_size=H, seed=seed, dtype=dtype, **options)
    params = {k: rng.uniform(-scale, scale, v.shape).astype(dtype) for k, v in cell.params.items()}
    xs = rng.normal(0, 1.5, (23, I)).astype(dtype)
    return params, xs, rng.normal(0, 0.5, H).astype(dtype), rng.normal(0, 0.5, H).astype(dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("I,H", [(3, 4), (6, 9)])
def test_peephole_lstm_matches_onnx(dtype, I, H):
    p, xs, h0, c0 = random_params("peephole_lstm", I, H, dtype, seed=I + H)
    order = [0, 3, 1, 2]  # i, o, f, c
    inputs = {
        "X": xs[:, None, :],
        "W": blocks(p["weight_ih"], order, H)[None],
        "R": blocks(p["weight_hh"], order, H)[None],
        "B": np.concatenate([blocks(p["bias_ih"], order, H), blocks(p["bias_hh"], order, H)])[None],
        "initial_h": h0[None, None], "initial_c": c0[None, None],
        "P": np.concatenate([p["peephole_i"], p["peephole_o"], p["peephole_f"]])[None],
    }
    Y, Y_h, Y_c = run_onnx("LSTM", inputs, {"hidden_size": H}, dtype, ("Y", "Y_h", "Y_c"))
    trace = cells.create("peephole_lstm", params=p, dtype=dtype).run(xs, h0=h0, c0=c0)
    close(trace["h"], Y[:, 0, 0], dtype)
    close(trace["c"][-1], Y_c[0, 0], dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_matches_onnx(dtype, reset_after):
    I, H = 5, 7
    p, xs, h0, _ = random_params("gru", I, H, dtype, seed=11, reset_after=reset_after)
    order = [1, 0, 2]  # z, r, h
    inputs = {
        "X": xs[:, None, :],
        "W": blocks(p["weight_ih"], order, H)[None],
        "R": blocks(p["weight_hh"], order, H)[None],
        "B": np.concatenate([blocks(p["bias_ih"], order, H), blocks(p["bias_hh"], order, H)])[None],
        "initial_h": h0[None, None],
    }
    attrs = {"hidden_size": H, "linear_before_reset": int(reset_after)}
    Y, _ = run_onnx("GRU", inputs, attrs, dtype)
    trace = cells.create("gru", params=p, dtype=dtype, reset_after=reset_after).run(xs, h0=h0)
    close(trace["h"], Y[:, 0, 0], dtype)


def test_gru_variants_differ():
    """reset_after is not a detail: the same weights give different states."""
    p, xs, h0, _ = random_params("gru", 3, 4, "float64", seed=2)
    a = cells.create("gru", params=p, dtype="float64", reset_after=True).run(xs)["h"]
    b = cells.create("gru", params=p, dtype="float64", reset_after=False).run(xs)["h"]
    assert np.abs(a - b).max() > 1e-3


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_rnn_matches_onnx(dtype):
    # The reference runtime implements only Tanh for RNN; relu is checked against torch.
    activation = "Tanh"
    I, H = 4, 6
    p, xs, h0, _ = random_params("rnn", I, H, dtype, seed=5, scale=0.5)
    inputs = {"X": xs[:, None, :], "W": p["weight_ih"][None], "R": p["weight_hh"][None],
              "B": np.concatenate([p["bias_ih"], p["bias_hh"]])[None], "initial_h": h0[None, None]}
    Y, _ = run_onnx("RNN", inputs, {"hidden_size": H, "activations": [activation]}, dtype)
    cell = cells.create("rnn", params=p, dtype=dtype, nonlinearity=activation.lower())
    close(cell.run(xs, h0=h0)["h"], Y[:, 0, 0], dtype)
