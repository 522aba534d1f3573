"""What a weights file holds besides the one cell `read_weights` returns: its layers, its
directions and the options it states, on files written by torch, onnx and keras themselves."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from safetensors.torch import save_file

import cells
from cells.weights_io import read_weights, write_weights

I, H = 3, 4


def torch_module(kind, **kwargs):
    torch.manual_seed(0)
    return {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[kind](
        I, H, **kwargs
    )


def layer_params(module, layer, suffix=""):
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    return {n: getattr(module, f"{n}_l{layer}{suffix}").detach().numpy() for n in names}


def assert_same(got, expected):
    assert sorted(got) == sorted(expected)
    for name, value in expected.items():
        np.testing.assert_array_equal(got[name], value, err_msg=name)


@pytest.mark.parametrize(
    ("kind", "stated"), [("lstm", set()), ("gru", {"reset_after"}), ("rnn", set())]
)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_torch_state_dict_layers_and_directions(tmp_path, kind, stated, bidirectional):
    module = torch_module(kind, num_layers=3, bidirectional=bidirectional)
    path = tmp_path / "model.safetensors"
    save_file(module.state_dict(), str(path))
    loaded = read_weights(path)
    assert loaded.layers == 3
    assert loaded.directions == (("forward", "backward") if bidirectional else ("forward",))
    # nn.GRU is always PyTorch's reset_after GRU; nn.RNN's nonlinearity is not in the file.
    assert loaded.stated == frozenset(stated)
    assert_same(loaded.params, layer_params(module, 0))


def test_cells_load_returns_layer_zero_forward_of_a_bigger_file(tmp_path):
    module = torch_module("lstm", num_layers=2, bidirectional=True).double()
    path = tmp_path / "big.safetensors"
    save_file(module.state_dict(), str(path))
    cell = cells.load(path)
    assert (cell.input_size, cell.hidden_size) == (I, H)
    assert_same(cell.params, layer_params(module, 0))


def test_gatescope_file_states_the_options_it_was_written_with(tmp_path):
    cell = cells.create("gru", input_size=I, hidden_size=H, reset_after=False)
    cells.save(cell, tmp_path / "cell.safetensors")
    loaded = read_weights(tmp_path / "cell.safetensors")
    assert (loaded.layers, loaded.directions) == (1, ("forward",))
    assert loaded.stated == frozenset({"reset_after"})
    assert loaded.options == {"reset_after": False}
    # Written without options, the file leaves them open.
    write_weights(tmp_path / "bare.npz", "rnn", cells.create("rnn", input_size=I,
                  hidden_size=H).params, {})
    assert read_weights(tmp_path / "bare.npz").stated == frozenset()


def test_torch_cell_state_dict_states_nothing(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "cell.safetensors"
    save_file(torch.nn.GRUCell(I, H).state_dict(), str(path))
    loaded = read_weights(path)
    assert (loaded.kind, loaded.layers, loaded.directions) == ("gru", 1, ("forward",))
    assert loaded.stated == frozenset()


def onnx_model(path, nodes, initializers):
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("X", TensorProto.DOUBLE, [None, 1, I])],
        [helper.make_tensor_value_info(n.output[0], TensorProto.DOUBLE, None) for n in nodes],
        initializer=[numpy_helper.from_array(a, name) for name, a in initializers.items()],
    )
    onnx.save(helper.make_model(graph), str(path))
    return path


@pytest.mark.parametrize(
    ("op", "blocks", "stated", "attributes"),
    [
        ("GRU", 3, {"reset_after"}, {"linear_before_reset": 1}),
        ("RNN", 1, {"nonlinearity"}, {}),
        ("LSTM", 4, set(), {}),
    ],
)
def test_onnx_bidirectional_node_gives_its_forward_direction(
    tmp_path, op, blocks, stated, attributes
):
    rng = np.random.default_rng(0)
    w, r = rng.normal(size=(2, blocks * H, I)), rng.normal(size=(2, blocks * H, H))
    node = helper.make_node(
        op, ["X", "W", "R"], ["Y"], name="cell", hidden_size=H, direction="bidirectional",
        **attributes,
    )
    loaded = read_weights(onnx_model(tmp_path / "bi.onnx", [node], {"W": w, "R": r}))
    assert (loaded.layers, loaded.directions) == (1, ("forward", "backward"))
    assert loaded.stated == frozenset(stated)
    single = onnx_model(
        tmp_path / "one.onnx",
        [helper.make_node(op, ["X", "W", "R"], ["Y"], hidden_size=H, **attributes)],
        {"W": w[:1], "R": r[:1]},
    )
    assert_same(loaded.params, read_weights(single).params)  # the forward half, W[0] and R[0]


def test_onnx_counts_its_recurrent_nodes(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {
        "W0": rng.normal(size=(1, 3 * H, I)), "R0": rng.normal(size=(1, 3 * H, H)),
        "W1": rng.normal(size=(1, 3 * H, H)), "R1": rng.normal(size=(1, 3 * H, H)),
    }
    nodes = [
        helper.make_node("GRU", ["X", "W0", "R0"], ["Y0"], hidden_size=H),
        helper.make_node("Squeeze", ["Y0"], ["S0"]),
        helper.make_node("GRU", ["S0", "W1", "R1"], ["Y1"], hidden_size=H),
    ]
    loaded = read_weights(onnx_model(tmp_path / "two.onnx", nodes, arrays))
    assert (loaded.layers, loaded.directions) == (2, ("forward",))
    assert loaded.options == {"reset_after": False}  # ONNX's default linear_before_reset=0


KERAS_SCRIPT = """
import os, sys
os.environ["KERAS_BACKEND"] = "torch"
import keras
keras.utils.set_random_seed(0)
model = keras.Sequential([
    keras.Input((None, {I})),
    keras.layers.Bidirectional(keras.layers.LSTM({H}, return_sequences=True)),
    keras.layers.GRU({H}, return_sequences=True),
    keras.layers.SimpleRNN({H}),
    keras.layers.Dense(2),
])
model.save_weights(sys.argv[1])
"""


def test_keras_weights_h5_bidirectional_and_stacked(tmp_path):
    path = tmp_path / "model.weights.h5"
    # keras in a child process: its backend is fixed at import, and the test run stays torch-only.
    subprocess.run(
        [sys.executable, "-c", textwrap.dedent(KERAS_SCRIPT.format(I=I, H=H)), str(path)],
        check=True, env={**os.environ, "KERAS_BACKEND": "torch"},
    )
    loaded = read_weights(path)
    assert loaded.layers == 3 and loaded.directions == ("forward", "backward")
    assert loaded.kind == "lstm" and loaded.params["weight_ih"].shape == (4 * H, I)
    gru = read_weights(path, layer=1)
    assert gru.kind == "gru" and gru.params["weight_ih"].shape == (3 * H, 2 * H)
    assert gru.stated == frozenset({"reset_after"}) and gru.options == {"reset_after": True}
    assert read_weights(path, layer=2).kind == "rnn"


def test_cells_load_says_when_the_file_holds_more(tmp_path):
    module = torch_module("gru", num_layers=2, bidirectional=True)
    save_file(module.state_dict(), str(tmp_path / "stack.safetensors"))
    with pytest.warns(UserWarning, match=r"stack\.safetensors holds 2 layer\(s\) running forward "
                                         r"and backward; cells\.load returns layer 1, forward"):
        cells.load(tmp_path / "stack.safetensors", layer=1)
