"""Weight import/export on files written by the real libraries (torch, safetensors, onnx, h5py).

The mappings are checked two ways: block by block with known values, and by running the
source framework's equations (PyTorch itself; the ONNX operator spec and Keras' cell code,
written out in NumPy below) on the file's layout and PyTorch on the canonical weights.
"""

from __future__ import annotations

import pathlib
import re

import h5py
import ml_dtypes
import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from safetensors import safe_open
from safetensors.numpy import save_file as save_numpy
from safetensors.torch import save_file as save_torch

import cells
from cells.weights_io import read_weights, write_weights
from tests.cells.kind_cases import TORCH_VARIANTS

I, H, T = 3, 4, 6  # input size, hidden size, sequence length
BLOCKS = {"rnn": 1, "gru": 3, "lstm": 4}
# What a file that cannot tell the options gives: the engine's defaults.
DEFAULT_OPTIONS = {kind: {name: option["default"]
                          for name, option in cells.kind_info(kind)["options"].items()}
                   for kind in cells.KINDS}


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def random_inputs(seed=1):
    return np.random.default_rng(seed).normal(size=(T, I))


def block_means(array, blocks):
    """Mean of each gate block: with block-valued weights this shows the block order."""
    return [float(block.mean()) for block in np.split(array, blocks)]


def save_tensors(path, tensors):
    """NumPy arrays to .npz or .safetensors, by suffix."""
    if path.suffix == ".npz":
        np.savez(path, **tensors)
    else:
        save_numpy(tensors, str(path))
    return path


def torch_params(module, layer=0):
    return {name: t.numpy() for name, t in torch_tensors(module, layer).items()}


def torch_tensors(module, layer=0):
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    return {name: getattr(module, f"{name}_l{layer}").detach() for name in names}


def assert_params_equal(got, expected):
    assert sorted(got) == sorted(expected)
    for name, value in expected.items():
        assert got[name].dtype == value.dtype, name
        assert got[name].tobytes() == np.ascontiguousarray(value).tobytes(), name


def run_torch(kind, params, xs, nonlinearity="tanh"):
    """PyTorch's own cell on canonical params, in float64: the reference semantics."""
    hidden, inputs = params["weight_hh"].shape[1], params["weight_ih"].shape[1]
    if kind == "rnn":
        module = torch.nn.RNN(inputs, hidden, nonlinearity=nonlinearity)
    else:
        module = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind](inputs, hidden)
    state = {
        f"{name}_l0": torch.from_numpy(np.asarray(v, np.float64)) for name, v in params.items()
    }
    module.double().load_state_dict(state)
    with torch.no_grad():
        out, _ = module(torch.from_numpy(xs)[:, None, :])
    return out[:, 0, :].numpy()


def run_cho_gru(params, xs):
    """GRU with reset_after=False (Cho 2014) on canonical params: r gates h before W_hn."""
    w_r, w_z, w_n = np.split(params["weight_ih"], 3)
    u_r, u_z, u_n = np.split(params["weight_hh"], 3)
    b_r, b_z, b_n = np.split(params["bias_ih"], 3)
    c_r, c_z, c_n = np.split(params["bias_hh"], 3)
    h, out = np.zeros(len(u_r)), []
    for x in xs:
        r = sigmoid(w_r @ x + b_r + u_r @ h + c_r)
        z = sigmoid(w_z @ x + b_z + u_z @ h + c_z)
        n = np.tanh(w_n @ x + b_n + u_n @ (r * h) + c_n)
        h = (1 - z) * n + z * h
        out.append(h)
    return np.array(out)


def run_peephole_lstm(params, xs):
    """Peephole LSTM on canonical params (ONNX/TF semantics: i, f see c_{t-1}; o sees c_t)."""
    p = params
    h = c = np.zeros(p["weight_hh"].shape[1])
    out = []
    for x in xs:
        pre = p["weight_ih"] @ x + p["bias_ih"] + p["weight_hh"] @ h + p["bias_hh"]
        i_pre, f_pre, g_pre, o_pre = np.split(pre, 4)
        i = sigmoid(i_pre + p["peephole_i"] * c)
        f = sigmoid(f_pre + p["peephole_f"] * c)
        c = f * c + i * np.tanh(g_pre)
        h = sigmoid(o_pre + p["peephole_o"] * c) * np.tanh(c)
        out.append(h)
    return np.array(out)


# --- PyTorch state dicts -----------------------------------------------------------------


# The kinds torch writes state dicts of (the ones kind_cases.TORCH_VARIANTS names).
TORCH_KINDS = ["lstm", "gru", "rnn"]


def test_torch_kinds_are_the_ones_torch_computes():
    assert set(TORCH_KINDS) == {kind for kind, _ in TORCH_VARIANTS}


def make_torch(kind, **kwargs):
    torch.manual_seed(0)
    if kind == "rnn":
        return torch.nn.RNN(I, H, num_layers=2, nonlinearity="relu", **kwargs)
    return {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind](I, H, num_layers=2, **kwargs)


def save_state_dict(path, state_dict):
    if path.suffix == ".npz":
        return save_tensors(path, {name: t.detach().numpy() for name, t in state_dict.items()})
    save_torch(state_dict, str(path))
    return path


@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
@pytest.mark.parametrize("kind", TORCH_KINDS)
@pytest.mark.parametrize("layer", [0, 1])
def test_torch_state_dict_layers_load_exactly(tmp_path, suffix, kind, layer):
    module = make_torch(kind)
    path = save_state_dict(tmp_path / f"model{suffix}", module.state_dict())
    loaded = read_weights(path, layer=layer)
    assert loaded.kind == kind
    assert_params_equal(loaded.params, torch_params(module, layer))
    # A state dict cannot tell an RNN's nonlinearity: the default comes back.
    assert loaded.options == DEFAULT_OPTIONS[kind]


class Holder(torch.nn.Module):
    """A model holding its LSTM as self.lstm, next to a linear read-out."""

    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(I, H)
        self.fc = torch.nn.Linear(H, 2)


@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
def test_torch_prefixed_state_dicts(tmp_path, suffix):
    holder = Holder()
    sequential = torch.nn.Sequential(torch.nn.GRU(I, H), torch.nn.Identity())
    assert "lstm.weight_ih_l0" in holder.state_dict() and "fc.weight" in holder.state_dict()
    assert "0.weight_ih_l0" in sequential.state_dict()
    loaded = read_weights(save_state_dict(tmp_path / f"holder{suffix}", holder.state_dict()))
    assert loaded.kind == "lstm"
    assert_params_equal(loaded.params, torch_params(holder.lstm))
    loaded = read_weights(save_state_dict(tmp_path / f"seq{suffix}", sequential.state_dict()))
    assert loaded.kind == "gru"
    assert_params_equal(loaded.params, torch_params(sequential[0]))


def test_torch_without_bias_gives_zero_biases(tmp_path):
    module = make_torch("gru", bias=False)
    loaded = read_weights(save_state_dict(tmp_path / "model.safetensors", module.state_dict()))
    assert np.array_equal(loaded.params["weight_hh"], module.weight_hh_l0.detach().numpy())
    for name in ("bias_ih", "bias_hh"):
        assert loaded.params[name].shape == (3 * H,) and not loaded.params[name].any()
        assert loaded.params[name].dtype == np.float32


def test_torch_cell_state_dict(tmp_path):
    cell = torch.nn.LSTMCell(I, H)
    loaded = read_weights(save_state_dict(tmp_path / "cell.safetensors", cell.state_dict()))
    assert loaded.kind == "lstm"
    expected = {name: t.detach().numpy() for name, t in cell.state_dict().items()}
    assert_params_equal(loaded.params, expected)


def test_torch_bidirectional_forward_direction(tmp_path):
    module = make_torch("lstm", bidirectional=True)
    loaded = read_weights(
        save_state_dict(tmp_path / "bi.safetensors", module.state_dict()), layer=1
    )
    assert loaded.params["weight_ih"].shape == (4 * H, 2 * H)  # layer 1 reads both directions
    assert_params_equal(loaded.params, torch_params(module, 1))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_torch_half_precision_widens_to_float32(tmp_path, dtype):
    module = make_torch("lstm").to(dtype)
    loaded = read_weights(save_state_dict(tmp_path / "half.safetensors", module.state_dict()))
    expected = {k: v.float().numpy() for k, v in torch_tensors(module).items()}
    assert_params_equal(loaded.params, expected)


def test_torch_float64_stays_float64(tmp_path):
    module = make_torch("gru").double()
    loaded = read_weights(save_state_dict(tmp_path / "double.npz", module.state_dict()))
    assert_params_equal(loaded.params, torch_params(module))


def test_torch_proj_size_refused(tmp_path):
    module = torch.nn.LSTM(I, H, proj_size=2)
    path = save_state_dict(tmp_path / "proj.safetensors", module.state_dict())
    with pytest.raises(ValueError, match=r"proj\.safetensors: weight_hr_l0 found.*proj_size"):
        read_weights(path)


def test_torch_two_modules_refused(tmp_path):
    state = {f"encoder.{k}": v for k, v in torch.nn.LSTM(I, H).state_dict().items()}
    state |= {f"decoder.{k}": v for k, v in torch.nn.GRU(I, H).state_dict().items()}
    path = save_state_dict(tmp_path / "seq2seq.safetensors", state)
    with pytest.raises(
        ValueError, match=r"seq2seq\.safetensors: holds several recurrent modules"
    ) as error:
        read_weights(path)
    assert "'encoder.'" in str(error.value) and "'decoder.'" in str(error.value)


def test_torch_missing_layer_lists_layers(tmp_path):
    path = save_state_dict(tmp_path / "model.npz", make_torch("lstm").state_dict())
    with pytest.raises(ValueError, match=r"model\.npz: layer 2 not found; layers found: 0, 1"):
        read_weights(path, layer=2)


def test_torch_missing_one_bias_refused(tmp_path):
    state = make_torch("gru").state_dict()
    del state["bias_hh_l0"]
    path = save_state_dict(tmp_path / "model.npz", state)
    with pytest.raises(ValueError, match=r"model\.npz: bias_hh_l0 is missing \(found .*bias_ih_l0"):
        read_weights(path)


# --- ONNX ----------------------------------------------------------------------------------


def onnx_file(path, op, w, r, b=None, p=None, stored=True, extra_nodes=(), **attributes):
    """An ONNX model whose one node is `op` with weight inputs W, R, B, P as initializers."""
    arrays = {"W": w, "R": r, "B": b, "P": p}
    names = ["X"] + [name if arrays[name] is not None else "" for name in ("W", "R", "B")]
    if p is not None:  # P is input 7, after sequence_lens, initial_h and initial_c
        names += ["", "", "", "P"]
    attributes.setdefault("hidden_size", r.shape[-1])
    node = helper.make_node(op, names, ["Y"], name="cell", **attributes)
    elem = TensorProto.DOUBLE if w.dtype == np.float64 else TensorProto.FLOAT
    initializers = [numpy_helper.from_array(a, n) for n, a in arrays.items() if a is not None]
    inputs = [helper.make_tensor_value_info("X", elem, [None, 1, w.shape[-1]])]
    if not stored:  # the weights are graph inputs fed at run time
        inputs += [helper.make_tensor_value_info(i.name, elem, list(i.dims)) for i in initializers]
        initializers = []
    graph = helper.make_graph(
        [*extra_nodes, node],
        "g",
        inputs,
        [helper.make_tensor_value_info("Y", elem, None)],
        initializer=initializers,
    )
    onnx.save(helper.make_model(graph), str(path))
    return path


def block_valued(blocks, rows_per_block, cols, base):
    """Block k holds base + k everywhere, so a permutation shows in the values."""
    return np.concatenate(
        [np.full((rows_per_block, cols), base + k, np.float32) for k in range(blocks)]
    )


def run_onnx_spec(op, w, r, b, p, xs, linear_before_reset=0, activation="tanh"):
    """The ONNX LSTM/GRU/RNN operator equations, forward direction, on the ONNX layout."""
    w, r, hidden = w[0], r[0], r.shape[-1]
    wb, rb = np.split(b[0], 2)
    h = c = np.zeros(hidden)
    out = []
    for x in xs:
        gx, gh = w @ x + wb, r @ h + rb
        if op == "LSTM":  # blocks i, o, f, c; P blocks i, o, f
            (xi, xo, xf, xc), (hi, ho, hf, hc) = np.split(gx, 4), np.split(gh, 4)
            pi, po, pf = np.split(p[0], 3) if p is not None else (0, 0, 0)
            i, f = sigmoid(xi + hi + pi * c), sigmoid(xf + hf + pf * c)
            c = f * c + i * np.tanh(xc + hc)
            h = sigmoid(xo + ho + po * c) * np.tanh(c)
        elif op == "GRU":  # blocks z, r, h
            (xz, xr, xh), (hz, hr, hh) = np.split(gx, 3), np.split(gh, 3)
            z, rr = sigmoid(xz + hz), sigmoid(xr + hr)
            if linear_before_reset:
                n = np.tanh(xh + rr * hh)
            else:
                n = np.tanh(xh + r[2 * hidden :] @ (rr * h) + rb[2 * hidden :])
            h = (1 - z) * n + z * h
        else:
            h = np.tanh(gx + gh) if activation == "tanh" else np.maximum(gx + gh, 0)
        out.append(h)
    return np.array(out)


def random_onnx(op, dtype=np.float64, seed=0, peepholes=False):
    rng = np.random.default_rng(seed)
    rows = {"LSTM": 4, "GRU": 3, "RNN": 1}[op] * H
    arrays = [rng.normal(size=s).astype(dtype) for s in ((1, rows, I), (1, rows, H), (1, 2 * rows))]
    p = rng.normal(size=(1, 3 * H)).astype(dtype) if peepholes else None
    return (*arrays, p)


def test_onnx_lstm_block_order(tmp_path):
    # ONNX blocks i, o, f, c hold 1, 2, 3, 4; canonical i, f, g, o must hold 1, 3, 4, 2.
    w, r = block_valued(4, H, I, 1)[None], block_valued(4, H, H, 11)[None]
    b = np.concatenate([block_valued(4, H, 1, 21).ravel(), block_valued(4, H, 1, 31).ravel()])[None]
    p = np.repeat(np.array([7, 8, 9], np.float32), H)[None]  # i, o, f
    loaded = read_weights(onnx_file(tmp_path / "lstm.onnx", "LSTM", w, r, b, p))
    assert loaded.kind == "peephole_lstm" and loaded.options == {}
    assert block_means(loaded.params["weight_ih"], 4) == [1, 3, 4, 2]
    assert block_means(loaded.params["weight_hh"], 4) == [11, 13, 14, 12]
    assert block_means(loaded.params["bias_ih"], 4) == [21, 23, 24, 22]
    assert block_means(loaded.params["bias_hh"], 4) == [31, 33, 34, 32]
    assert [float(loaded.params[f"peephole_{g}"][0]) for g in "ifo"] == [7, 9, 8]


def test_onnx_gru_block_order(tmp_path):
    w, r = block_valued(3, H, I, 1)[None], block_valued(3, H, H, 11)[None]
    loaded = read_weights(onnx_file(tmp_path / "gru.onnx", "GRU", w, r))  # z, r, h -> r, z, n
    assert block_means(loaded.params["weight_ih"], 3) == [2, 1, 3]
    assert block_means(loaded.params["weight_hh"], 3) == [12, 11, 13]
    assert not loaded.params["bias_ih"].any() and not loaded.params["bias_hh"].any()


def test_onnx_lstm_runs_like_the_spec(tmp_path):
    w, r, b, _ = random_onnx("LSTM")
    loaded = read_weights(onnx_file(tmp_path / "lstm.onnx", "LSTM", w, r, b))
    assert loaded.kind == "lstm" and loaded.params["weight_ih"].dtype == np.float64
    xs = random_inputs()
    np.testing.assert_allclose(
        run_torch("lstm", loaded.params, xs), run_onnx_spec("LSTM", w, r, b, None, xs), atol=1e-12
    )


def test_onnx_peephole_lstm_runs_like_the_spec(tmp_path):
    w, r, b, p = random_onnx("LSTM", peepholes=True)
    loaded = read_weights(onnx_file(tmp_path / "peep.onnx", "LSTM", w, r, b, p))
    assert loaded.kind == "peephole_lstm"
    xs = random_inputs()
    np.testing.assert_allclose(
        run_peephole_lstm(loaded.params, xs), run_onnx_spec("LSTM", w, r, b, p, xs), atol=1e-12
    )


@pytest.mark.parametrize("lbr", [None, 0, 1])
def test_onnx_gru_linear_before_reset(tmp_path, lbr):
    w, r, b, _ = random_onnx("GRU")
    extra = {} if lbr is None else {"linear_before_reset": lbr}
    loaded = read_weights(onnx_file(tmp_path / "gru.onnx", "GRU", w, r, b, **extra))
    assert loaded.kind == "gru" and loaded.options == {"reset_after": bool(lbr)}
    xs = random_inputs()
    got = run_torch("gru", loaded.params, xs) if lbr else run_cho_gru(loaded.params, xs)
    expected = run_onnx_spec("GRU", w, r, b, None, xs, linear_before_reset=lbr or 0)
    np.testing.assert_allclose(got, expected, atol=1e-12)


@pytest.mark.parametrize("activations", [None, ["Tanh"], ["Relu"]])
def test_onnx_rnn_activations(tmp_path, activations):
    w, r, b, _ = random_onnx("RNN")
    extra = {} if activations is None else {"activations": activations}
    loaded = read_weights(onnx_file(tmp_path / "rnn.onnx", "RNN", w, r, b, **extra))
    nonlinearity = "relu" if activations == ["Relu"] else "tanh"
    assert loaded.kind == "rnn" and loaded.options == {"nonlinearity": nonlinearity}
    xs = random_inputs()
    np.testing.assert_allclose(
        run_torch("rnn", loaded.params, xs, nonlinearity),
        run_onnx_spec("RNN", w, r, b, None, xs, activation=nonlinearity),
        atol=1e-12,
    )


def test_onnx_weights_from_constant_node(tmp_path):
    w, r, b, _ = random_onnx("GRU", np.float32)
    constant = helper.make_node("Constant", [], ["Wc"], value=numpy_helper.from_array(w, "Wc"))
    path = onnx_file(tmp_path / "const.onnx", "GRU", w, r, b, extra_nodes=[constant])
    model = onnx.load(str(path))
    model.graph.node[-1].input[1] = "Wc"
    del model.graph.initializer[0]  # W now lives only in the Constant node
    onnx.save(model, str(path))
    loaded = read_weights(path)
    np.testing.assert_array_equal(loaded.params["weight_ih"][:H], w[0, H : 2 * H])  # r block


def test_onnx_layer_picks_the_nth_node(tmp_path):
    w, r, b, _ = random_onnx("LSTM", np.float32)
    first = helper.make_node("GRU", ["X", "W0", "R0"], ["Y0"], name="first", hidden_size=2)
    path = onnx_file(tmp_path / "two.onnx", "LSTM", w, r, b, extra_nodes=[first])
    model = onnx.load(str(path))
    w0, r0 = np.ones((1, 6, I), np.float32), np.ones((1, 6, 2), np.float32)
    model.graph.initializer.extend(
        [numpy_helper.from_array(w0, "W0"), numpy_helper.from_array(r0, "R0")]
    )
    onnx.save(model, str(path))
    assert read_weights(path).kind == "gru"
    assert read_weights(path, layer=1).kind == "lstm"
    with pytest.raises(
        ValueError,
        match=r"two\.onnx: layer 2 not found; recurrent nodes found: "
        r"0: GRU node 'first', 1: LSTM node 'cell'",
    ):
        read_weights(path, layer=2)


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ({"direction": "reverse"}, r"direction='reverse'; only forward cells"),
        ({"clip": 3.0}, r"clip=3\.0; clipped cells are not supported"),
        ({"input_forget": 1}, r"input_forget=1"),
        (
            {"activations": ["Sigmoid", "Relu", "Tanh"]},
            r"activations=\['sigmoid', 'relu', 'tanh'\]",
        ),
        ({"hidden_size": 5}, r"hidden_size=5 but R has shape \(1, 16, 4\) \(hidden_size 4\)"),
    ],
)
def test_onnx_unsupported_attributes_refused(tmp_path, attributes, message):
    w, r, b, _ = random_onnx("LSTM", np.float32)
    path = onnx_file(tmp_path / "model.onnx", "LSTM", w, r, b, **attributes)
    with pytest.raises(ValueError, match=r"model\.onnx: LSTM node 'cell'.*" + message):
        read_weights(path)


def test_onnx_rnn_other_activation_refused(tmp_path):
    w, r, b, _ = random_onnx("RNN", np.float32)
    path = onnx_file(tmp_path / "rnn.onnx", "RNN", w, r, b, activations=["Sigmoid"])
    with pytest.raises(ValueError, match=r"activations=\['sigmoid'\]; an RNN supports"):
        read_weights(path)


def test_onnx_wrong_shapes_refused(tmp_path):
    w, r, b, _ = random_onnx("GRU", np.float32)
    path = onnx_file(tmp_path / "model.onnx", "GRU", w[:, :-1], r, b)
    with pytest.raises(
        ValueError,
        match=r"model\.onnx: GRU node 'cell': W has shape \(1, 11, 3\) "
        r"but a forward ONNX GRU with hidden_size 4 expects \(1, 12, 3\)",
    ):
        read_weights(path)
    path = onnx_file(tmp_path / "bias.onnx", "GRU", w, r, b[:, :12])
    with pytest.raises(ValueError, match=r"B has shape \(1, 12\) but .* expects \(1, 24\)"):
        read_weights(path)


def test_onnx_weights_not_stored_refused(tmp_path):
    w, r, b, _ = random_onnx("GRU", np.float32)
    path = onnx_file(tmp_path / "runtime.onnx", "GRU", w, r, b, stored=False)
    with pytest.raises(
        ValueError, match=r"runtime\.onnx: GRU node 'cell': input W is not stored in the file"
    ):
        read_weights(path)


def test_onnx_external_data_read_only_beside_the_model(tmp_path):
    """External data is read from a file beside the model that the model names without a
    path (as exporters write model.onnx.data); any other location is refused unread."""
    w, r, b, _ = random_onnx("GRU", np.float32)
    path = onnx_file(tmp_path / "model.onnx", "GRU", w, r, b)
    external = tmp_path / "ext.onnx"
    onnx.save_model(
        onnx.load(str(path)),
        str(external),
        save_as_external_data=True,
        location="w.bin",
        size_threshold=0,
    )
    inline = read_weights(path)
    beside = read_weights(external)
    for key, value in inline.params.items():
        np.testing.assert_array_equal(beside.params[key], value)
    outside = onnx.load(str(external), load_external_data=False)
    for location in ("../w.bin", "/etc/passwd", "sub/w.bin", "missing.bin"):
        for tensor in outside.graph.initializer:
            for entry in tensor.external_data:
                if entry.key == "location":
                    entry.value = location
        onnx.save(outside, str(tmp_path / "outside.onnx"))
        expected = ("which is not a file beside the model" if location == "missing.bin"
                    else "only a file beside the model, named without a path, is read")
        with pytest.raises(ValueError, match=rf"outside\.onnx: 'W' keeps its data in "
                                             rf"'{re.escape(location)}'[;,] {expected}"):
            read_weights(tmp_path / "outside.onnx")


def test_onnx_without_recurrent_node_refused(tmp_path):
    node = helper.make_node("Relu", ["X"], ["Y"])
    info = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [2]) for n in "XY"]
    path = tmp_path / "relu.onnx"
    onnx.save(helper.make_model(helper.make_graph([node], "g", info[:1], info[1:])), str(path))
    with pytest.raises(
        ValueError,
        match=r"relu\.onnx: no LSTM, GRU or RNN node in the graph \(operators found: Relu\)",
    ):
        read_weights(path)


# --- Keras ---------------------------------------------------------------------------------


def random_keras(kind, reset_after=True, seed=0, dtype=np.float64):
    """kernel (I, G·H), recurrent_kernel (H, G·H), bias as Keras shapes them."""
    rng = np.random.default_rng(seed)
    width = BLOCKS[kind] * H
    bias_shape = (2, width) if kind == "gru" and reset_after else (width,)
    return [rng.normal(size=s).astype(dtype) for s in ((I, width), (H, width), bias_shape)]


def run_keras(kind, kernel, recurrent, bias, xs):
    """Keras' LSTMCell / GRUCell / SimpleRNNCell call(), transcribed to NumPy."""
    h = c = np.zeros(H)
    out = []
    for x in xs:
        if kind == "lstm":  # gates i, f, c, o
            i, f, cc, o = np.split(x @ kernel + h @ recurrent + bias, 4)
            c = sigmoid(f) * c + sigmoid(i) * np.tanh(cc)
            h = sigmoid(o) * np.tanh(c)
        elif kind == "gru" and bias.ndim == 2:  # reset_after=True: gates z, r, h
            x_z, x_r, x_h = np.split(x @ kernel + bias[0], 3)
            r_z, r_r, r_h = np.split(h @ recurrent + bias[1], 3)
            z, r = sigmoid(x_z + r_z), sigmoid(x_r + r_r)
            h = z * h + (1 - z) * np.tanh(x_h + r * r_h)
        elif kind == "gru":  # reset_after=False
            x_z, x_r, x_h = np.split(x @ kernel + bias, 3)
            r_z, r_r = np.split(h @ recurrent[:, : 2 * H], 2, axis=-1)
            z, r = sigmoid(x_z + r_z), sigmoid(x_r + r_r)
            h = z * h + (1 - z) * np.tanh(x_h + (r * h) @ recurrent[:, 2 * H :])
        else:
            h = np.tanh(x @ kernel + bias + h @ recurrent)
        out.append(h)
    return np.array(out)


def write_keras3_h5(path, layers):
    """The Keras 3 `.weights.h5` layout: layers/<layer>/cell/vars/<index>, plus a Dense layer
    and optimizer moments shaped like the first cell's (which must not be taken for a cell)."""
    with h5py.File(path, "w") as f:
        f.create_group("vars")
        for name, arrays in layers.items():
            group = f.create_group(f"layers/{name}/cell/vars")
            for index, array in enumerate(arrays):
                group[str(index)] = array
        f["layers/dense/vars/0"] = np.ones((H, 2))
        f["layers/dense/vars/1"] = np.zeros(2)
        for index, array in enumerate(next(iter(layers.values()))):
            f[f"optimizer/vars/{index}"] = np.zeros_like(array)
    return path


@pytest.mark.parametrize(
    ("kind", "reset_after"), [("lstm", True), ("gru", True), ("gru", False), ("simple_rnn", True)]
)
def test_keras3_h5_runs_like_keras(tmp_path, kind, reset_after):
    ours = "rnn" if kind == "simple_rnn" else kind
    arrays = random_keras(ours, reset_after)
    loaded = read_weights(write_keras3_h5(tmp_path / "model.weights.h5", {kind: arrays}))
    assert loaded.kind == ours
    assert loaded.options == (
        {"reset_after": reset_after} if ours == "gru" else DEFAULT_OPTIONS[ours]
    )
    xs = random_inputs()
    expected = run_keras(ours, *arrays, xs)
    got = run_cho_gru(loaded.params, xs) if not reset_after else run_torch(ours, loaded.params, xs)
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_keras3_h5_gru_block_order(tmp_path):
    kernel = block_valued(3, H, I, 1).T  # z, r, h
    recurrent = block_valued(3, H, H, 11).T
    bias = np.stack([np.repeat([21.0, 22, 23], H), np.repeat([31.0, 32, 33], H)]).astype(np.float32)
    loaded = read_weights(
        write_keras3_h5(tmp_path / "gru.weights.h5", {"gru": [kernel, recurrent, bias]})
    )
    assert block_means(loaded.params["weight_ih"], 3) == [2, 1, 3]
    assert block_means(loaded.params["weight_hh"], 3) == [12, 11, 13]
    assert block_means(loaded.params["bias_ih"], 3) == [22, 21, 23]
    assert block_means(loaded.params["bias_hh"], 3) == [32, 31, 33]
    assert loaded.params["weight_ih"].shape == (3 * H, I)


def test_keras3_h5_layers_in_keras_order(tmp_path):
    layers = {
        name: random_keras("lstm", seed=n)
        for n, name in enumerate(["lstm", "lstm_1", "lstm_10", "lstm_2"])
    }
    path = write_keras3_h5(tmp_path / "stack.weights.h5", layers)
    for layer, name in enumerate(["lstm", "lstm_1", "lstm_2", "lstm_10"]):
        np.testing.assert_array_equal(
            read_weights(path, layer=layer).params["weight_ih"], layers[name][0].T
        )
    with pytest.raises(
        ValueError,
        match=r"stack\.weights\.h5: layer 4 not found; "
        r"layers found: 0: /layers/lstm/cell/vars, 1: /layers/lstm_1/cell/vars",
    ) as error:
        read_weights(path, layer=4)
    assert "optimizer" not in str(error.value)


def test_keras2_legacy_h5(tmp_path):
    kernel, recurrent, bias = random_keras("lstm", dtype=np.float32)
    path = tmp_path / "legacy.h5"
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [b"lstm"]
        group = f.create_group("lstm/lstm/lstm_cell")
        group["kernel:0"], group["recurrent_kernel:0"], group["bias:0"] = kernel, recurrent, bias
    loaded = read_weights(path)
    assert loaded.kind == "lstm"
    assert_params_equal(
        loaded.params,
        {
            "weight_ih": kernel.T,
            "weight_hh": recurrent.T,
            "bias_ih": bias,
            "bias_hh": np.zeros_like(bias),
        },
    )


def test_keras3_h5_bfloat16(tmp_path):
    kernel, recurrent, bias = (a.astype(ml_dtypes.bfloat16) for a in random_keras("gru"))
    path = tmp_path / "bf16.weights.h5"
    with h5py.File(path, "w") as f:
        for index, array in enumerate((kernel, recurrent, bias)):
            f.create_dataset(f"layers/gru/cell/vars/{index}", data=array).attrs["dtype"] = (
                "bfloat16"
            )
    loaded = read_weights(path)
    assert loaded.params["weight_hh"].dtype == np.float32
    np.testing.assert_array_equal(
        loaded.params["weight_hh"][2 * H :], recurrent[:, 2 * H :].T.astype(np.float32)
    )


def test_keras_h5_external_storage_refused(tmp_path):
    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.arange(3 * 16, dtype=np.float64).tobytes())
    path = tmp_path / "model.weights.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset(
            "layers/lstm/cell/vars/0", shape=(3, 16), dtype="f8", external=[(str(secret), 0, 384)]
        )
        f["layers/lstm/cell/vars/1"] = np.zeros((H, 16))
    with pytest.raises(
        ValueError,
        match=r"model\.weights\.h5: /layers/lstm/cell/vars/0 keeps its data in another file",
    ):
        read_weights(path)


def test_keras_h5_without_cell_refused(tmp_path):
    path = tmp_path / "dense.weights.h5"
    with h5py.File(path, "w") as f:
        f["layers/dense/vars/0"], f["layers/dense/vars/1"] = np.ones((3, 2)), np.zeros(2)
    with pytest.raises(ValueError, match=r"dense\.weights\.h5: no recurrent layer found"):
        read_weights(path)


@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
@pytest.mark.parametrize(
    ("kind", "reset_after"), [("lstm", True), ("gru", True), ("gru", False), ("rnn", True)]
)
def test_keras_names_in_tensor_files(tmp_path, suffix, kind, reset_after):
    kernel, recurrent, bias = random_keras(kind, reset_after)
    tensors = {"lstm/kernel:0": kernel, "lstm/recurrent_kernel:0": recurrent, "lstm/bias:0": bias}
    tensors["dense/kernel:0"], tensors["dense/bias:0"] = np.ones((H, 2)), np.zeros(2)
    path = tmp_path / f"keras{suffix}"
    loaded = read_weights(save_tensors(path, tensors))
    assert loaded.kind == kind
    xs = random_inputs()
    got = run_torch(kind, loaded.params, xs) if reset_after else run_cho_gru(loaded.params, xs)
    np.testing.assert_allclose(got, run_keras(kind, kernel, recurrent, bias, xs), atol=1e-12)


def test_keras_names_bad_bias_refused(tmp_path):
    kernel, recurrent, _ = random_keras("gru")
    path = tmp_path / "keras.npz"
    np.savez(path, kernel=kernel, recurrent_kernel=recurrent, bias=np.zeros(5))
    with pytest.raises(
        ValueError,
        match=r"keras\.npz: bias has shape \(5,\) "
        r"but a Keras gru with hidden_size 4 expects \(12,\) or \(2, 12\)",
    ):
        read_weights(path)


# --- write_weights round trips -------------------------------------------------------------


def random_canonical(kind, dtype, seed=0):
    """Random values in the kind's own parameter layout (every parameter it has)."""
    rng = np.random.default_rng(seed)
    shapes = {p["name"]: tuple(p["shape"]) for p in cells.param_layout(kind, I, H)}
    params = {name: rng.normal(size=shape).astype(dtype) for name, shape in shapes.items()}
    first_vector = next(n for n, shape in shapes.items() if len(shape) == 1)  # bias_ih, …
    params[first_vector][:2] = [-0.0, np.finfo(dtype).smallest_subnormal]  # bits to survive
    return params


# Each kind with every option away from its default (the file must say so to read back).
OPTIONS = {kind: {name: next(v for v in option["values"] if v != option["default"])
                  for name, option in cells.kind_info(kind)["options"].items()}
           for kind in cells.KINDS}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
@pytest.mark.parametrize("kind", cells.KINDS)
def test_round_trip_is_exact(tmp_path, kind, suffix, dtype):
    params = random_canonical(kind, dtype)
    path = tmp_path / f"cell{suffix}"
    write_weights(path, kind, params, OPTIONS.get(kind, {}))
    loaded = read_weights(path)
    assert loaded.kind == kind
    assert loaded.options == OPTIONS.get(kind, {})
    assert_params_equal(loaded.params, params)


def test_written_files_are_plain_for_other_tools(tmp_path):
    params = random_canonical("gru", np.float32)
    write_weights(tmp_path / "cell.safetensors", "gru", params, {"reset_after": True})
    with safe_open(str(tmp_path / "cell.safetensors"), framework="numpy") as f:
        assert f.metadata() == {"gatescope_kind": "gru", "gatescope_options": "reset_after=true"}
        assert sorted(f.keys()) == sorted(params)
    write_weights(tmp_path / "cell.npz", "gru", params, {"reset_after": True})
    with np.load(tmp_path / "cell.npz", allow_pickle=False) as archive:
        assert str(archive["__kind__"]) == "gru"
        assert str(archive["__options__"]) == "reset_after=true"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p.pop("bias_hh"), r"missing: bias_hh"),
        (lambda p: p.update(extra=np.zeros(3)), r"unexpected: extra"),
        (
            lambda p: p.update(bias_ih=np.zeros(7)),
            r"bias_ih has shape \(7,\) but a gru with hidden_size 4 and input_size 3 expects "
            r"\(12,\)",
        ),
        (
            lambda p: p.update(weight_hh=np.zeros((12, 5))),
            r"weight_hh has shape \(12, 5\) but a gru with hidden_size 5 and input_size 3 "
            r"expects \(15, 5\)",
        ),
        (lambda p: p["weight_ih"].__setitem__((0, 0), np.nan), r"weight_ih contains NaN"),
        (
            lambda p: p.update(weight_ih=np.ones((12, 3), np.int64)),
            r"weight_ih has dtype int64; expected floating point",
        ),
    ],
)
def test_write_refusals(tmp_path, change, message):
    params = random_canonical("gru", np.float32)
    change(params)
    with pytest.raises(ValueError, match=r"out\.npz: .*" + message):
        write_weights(tmp_path / "out.npz", "gru", params, {})
    assert not (tmp_path / "out.npz").exists()


def test_write_refuses_other_formats(tmp_path):
    with pytest.raises(ValueError, match=r"out\.onnx: can only write \.safetensors or \.npz"):
        write_weights(tmp_path / "out.onnx", "lstm", random_canonical("lstm", np.float32), {})


def test_canonical_names_without_metadata(tmp_path):
    params = random_canonical("peephole_lstm", np.float32)
    loaded = read_weights(save_tensors(tmp_path / "hand.npz", params))
    assert loaded.kind == "peephole_lstm"
    assert_params_equal(loaded.params, params)
    del params["peephole_f"]
    with pytest.raises(ValueError, match=r"hand2\.npz: peephole_f is missing \(found .*peephole_i"):
        read_weights(save_tensors(tmp_path / "hand2.npz", params))


def test_metadata_with_unknown_kind_refused(tmp_path):
    path = tmp_path / "odd.safetensors"
    save_numpy(random_canonical("lstm", np.float32), str(path), metadata={"gatescope_kind": "tcn"})
    with pytest.raises(ValueError, match=r"odd\.safetensors: metadata names an unknown kind 'tcn'"):
        read_weights(path)


# --- kinds ---------------------------------------------------------------------------------


def lstm_shaped(kind) -> bool:
    """Whether the kind's parameters are an LSTM's, name for name and shape for shape."""
    return cells.param_layout(kind, 2, 3) == cells.param_layout("lstm", 2, 3)


@pytest.mark.parametrize("kind", [k for k in cells.KINDS if lstm_shaped(k)])
def test_lstm_file_as_lstm_family_kind(tmp_path, kind):
    module = make_torch("lstm")
    loaded = read_weights(
        save_state_dict(tmp_path / "m.safetensors", module.state_dict()), kind=kind
    )
    defaults = {n: o["default"] for n, o in cells.kind_info(kind)["options"].items()}
    assert loaded.kind == kind and loaded.options == defaults  # the kind's own defaults
    assert_params_equal(loaded.params, torch_params(module))


def test_lstm_file_as_peephole_lstm_has_zero_peepholes(tmp_path):
    path = save_state_dict(tmp_path / "m.safetensors", make_torch("lstm").state_dict())
    loaded = read_weights(path, kind="peephole_lstm")
    for gate in "ifo":
        peephole = loaded.params[f"peephole_{gate}"]
        assert peephole.shape == (H,) and not peephole.any()


def test_peepholes_are_not_dropped_silently(tmp_path):
    params = random_canonical("peephole_lstm", np.float32)
    write_weights(tmp_path / "peep.npz", "peephole_lstm", params, {})
    with pytest.raises(
        ValueError, match=r"peep\.npz: holds nonzero peephole weights.*kind='peephole_lstm'"
    ):
        read_weights(tmp_path / "peep.npz", kind="lstm")
    for gate in "ifo":
        params[f"peephole_{gate}"][:] = 0
    write_weights(tmp_path / "zero.npz", "peephole_lstm", params, {})
    loaded = read_weights(tmp_path / "zero.npz", kind="lstm")
    assert sorted(loaded.params) == ["bias_hh", "bias_ih", "weight_hh", "weight_ih"]


def test_kind_with_other_gate_blocks_refused(tmp_path):
    path = save_state_dict(tmp_path / "m.npz", make_torch("lstm").state_dict())
    with pytest.raises(
        ValueError,
        match=r"m\.npz: holds an lstm \(4 gate blocks of hidden_size 4.*"
        r"kind='gru' needs 3 gate blocks",
    ):
        read_weights(path, kind="gru")


@pytest.mark.parametrize(
    ("kind", "layer", "message"),
    [
        ("lsmt", 0, r"unknown kind 'lsmt'; known kinds: rnn, lstm, peephole_lstm, gru"),
        (None, -1, r"layer must be a non-negative integer, got -1"),
        (None, "0", r"layer must be a non-negative integer, got '0'"),
        (None, True, r"layer must be a non-negative integer, got True"),
    ],
)
def test_bad_arguments_refused(tmp_path, kind, layer, message):
    path = save_state_dict(tmp_path / "m.npz", make_torch("lstm").state_dict())
    with pytest.raises(ValueError, match=message):
        read_weights(path, kind=kind, layer=layer)


# --- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["model.pt", "model.pth", "model.ckpt", "pytorch_model.bin", "model.pkl"]
)
def test_pickles_refused_without_being_opened(tmp_path, name):
    path = tmp_path / name
    torch.save(make_torch("lstm").state_dict(), path)
    with pytest.raises(ValueError) as error:
        read_weights(path)
    assert str(error.value).startswith(
        f"{name}: PyTorch pickles are not loaded (they can run code)"
    )
    assert "save_file(model.state_dict(), 'model.safetensors')" in str(error.value)


class WritesMarker:
    """Unpickling this touches a file: proof that a loader ran code from the file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def test_npz_object_array_refused_without_unpickling(tmp_path):
    marker = tmp_path / "code-ran"
    path = tmp_path / "evil.npz"
    state = {k: v.detach().numpy() for k, v in torch.nn.GRU(I, H).state_dict().items()}
    state["weight_ih_l0"] = np.array([WritesMarker(marker)], dtype=object)
    np.savez(path, **state)
    with pytest.raises(
        ValueError, match=r"evil\.npz: weight_ih_l0 is an object array; it is not loaded"
    ):
        read_weights(path)
    assert not marker.exists()
    with np.load(path, allow_pickle=True) as archive:  # the file really was dangerous
        archive["weight_ih_l0"]
    assert marker.exists()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("model.safetensors", "not a readable safetensors file"),
        ("model.npz", "not a readable .npz archive"),
        ("model.onnx", "not a readable ONNX model"),
        ("model.weights.h5", "not a readable HDF5 file"),
        ("model.hdf5", "not a readable HDF5 file"),
    ],
)
def test_garbage_bytes_refused(tmp_path, name, message):
    path = tmp_path / name
    path.write_bytes(b"this is not a weights file\n" * 20)
    with pytest.raises(ValueError, match="^" + re.escape(f"{name}: {message}")):
        read_weights(path)


def test_truncated_safetensors_refused(tmp_path):
    path = save_state_dict(tmp_path / "cut.safetensors", make_torch("gru").state_dict())
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(ValueError, match=r"^cut\.safetensors: not a readable safetensors file"):
        read_weights(path)


def test_npy_named_npz_refused(tmp_path):
    path = tmp_path / "one.npz"
    with open(path, "wb") as handle:
        np.save(handle, np.zeros(3))
    with pytest.raises(ValueError, match=r"one\.npz: holds one \.npy array, not an \.npz archive"):
        read_weights(path)


def test_unused_unreadable_tensors_are_not_read(tmp_path):
    state = {k: v.detach().numpy() for k, v in make_torch("gru").state_dict().items()}
    extras = {"vocabulary": np.array(["a", "b"], dtype=object), "steps": np.arange(3)}
    path = tmp_path / "extras.npz"
    np.savez(path, **state, **extras)
    assert read_weights(path).kind == "gru"
    path = tmp_path / "extras.safetensors"
    save_numpy({**state, "steps": np.arange(3), "mask": np.ones(3, bool)}, str(path))
    assert read_weights(path).kind == "gru"


def test_tensors_that_unpack_too_far_refused(tmp_path, monkeypatch):
    # Compressed data can unpack to far more than the file; the limit is lowered to test it.
    monkeypatch.setattr("cells.formats.tensor_files.MAX_TENSOR_BYTES", 10_000)
    monkeypatch.setattr("cells.formats.keras_h5.MAX_TENSOR_BYTES", 10_000)
    state = {k: v.detach().numpy() for k, v in torch.nn.RNN(I, 64).state_dict().items()}
    path = tmp_path / "bomb.npz"
    np.savez_compressed(path, **state)
    with pytest.raises(ValueError, match=r"bomb\.npz: weight_hh_l0 unpacks to 16512 bytes, over"):
        read_weights(path)
    path = tmp_path / "bomb.weights.h5"
    with h5py.File(path, "w") as f:
        for index, shape in enumerate([(I, 64), (64, 64)]):
            f.create_dataset(
                f"layers/simple_rnn/cell/vars/{index}", data=np.zeros(shape), compression="gzip"
            )
    with pytest.raises(ValueError, match=r"vars/1 unpacks to 32768 bytes, over the 10000 byte"):
        read_weights(path)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
def test_nan_and_inf_refused(tmp_path, bad, suffix):
    state = make_torch("gru").state_dict()
    state["weight_hh_l1"][2, 1] = float(bad)
    path = save_state_dict(tmp_path / f"model{suffix}", state)
    word = "NaN" if np.isnan(bad) else "Inf"
    with pytest.raises(ValueError, match=rf"model{suffix}: weight_hh_l1 contains {word}"):
        read_weights(path, layer=1)
    read_weights(path, layer=0)  # other layers are still fine


def test_integer_tensors_refused(tmp_path):
    state = {k: v.detach().numpy() for k, v in torch.nn.RNN(I, H).state_dict().items()}
    state["weight_ih_l0"] = np.ones((H, I), np.int32)
    path = tmp_path / "ints.safetensors"
    save_numpy(state, str(path))
    with pytest.raises(
        ValueError,
        match=r"ints\.safetensors: weight_ih_l0 has dtype int32; expected floating point",
    ):
        read_weights(path)


@pytest.mark.parametrize(
    ("name", "shape", "message"),
    [
        (
            "weight_hh_l0",
            (12, 5),
            r"weight_hh_l0 has shape \(12, 5\): 12 is not 1, 3 or 4 gate blocks \(rnn, gru, "
            r"lstm\) of hidden_size 5",
        ),
        (
            "weight_ih_l0",
            (16, 3),
            r"weight_ih_l0 has shape \(16, 3\) but a gru with hidden_size 4 and input_size 3 "
            r"expects \(12, 3\)",
        ),
        (
            "bias_hh_l0",
            (16,),
            r"bias_hh_l0 has shape \(16,\) but a gru with hidden_size 4 and input_size 3 "
            r"expects \(12,\)",
        ),
        ("weight_hh_l0", (12,), r"weight_hh_l0 has shape \(12,\); expected a non-empty 2-D array"),
    ],
)
def test_inconsistent_shapes_refused(tmp_path, name, shape, message):
    state = {k: v.detach().numpy() for k, v in torch.nn.GRU(I, H).state_dict().items()}
    state[name] = np.zeros(shape, np.float32)
    path = tmp_path / "model.npz"
    np.savez(path, **state)
    with pytest.raises(ValueError, match=r"model\.npz: " + message):
        read_weights(path)


def test_file_without_recurrent_weights_refused(tmp_path):
    path = tmp_path / "linear.safetensors"
    save_torch(torch.nn.Linear(3, 2).state_dict(), str(path))
    with pytest.raises(
        ValueError, match=r"linear\.safetensors: no recurrent weights found; .* found bias, weight"
    ):
        read_weights(path)


def test_single_cell_file_has_only_layer_zero(tmp_path):
    write_weights(tmp_path / "cell.npz", "lstm", random_canonical("lstm", np.float32), {})
    with pytest.raises(
        ValueError, match=r"cell\.npz: layer 1 not found; cells found: 0: the single cell"
    ):
        read_weights(tmp_path / "cell.npz", layer=1)


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("model.keras", "a .keras file is a zip archive"),
        ("model.npy", "np.savez"),
        ("model.json", ""),
        ("model", ""),
    ],
)
def test_unknown_extension_refused(tmp_path, name, hint):
    path = tmp_path / name
    path.write_bytes(b"{}")
    with pytest.raises(
        ValueError, match="^" + re.escape(f"{name}: unsupported file type")
    ) as error:
        read_weights(path)
    assert hint in str(error.value)
    assert "supported: .safetensors, .npz, .onnx, Keras .weights.h5" in str(error.value)


# --- the engine ----------------------------------------------------------------------------


def test_cells_load_runs_like_torch(tmp_path):
    import cells  # the engine itself; the tests above need only cells.weights_io

    module = make_torch("lstm")
    path = save_state_dict(tmp_path / "model.safetensors", module.state_dict())
    xs = random_inputs().astype(np.float32)
    with torch.no_grad():
        single = torch.nn.LSTM(I, H)  # layer 0 of the two-layer module on its own
        single.load_state_dict({f"{k}_l0": v for k, v in torch_tensors(module).items()})
        expected = single(torch.from_numpy(xs)[:, None, :])[0][:, 0, :].numpy()
    cell = cells.load(path)
    assert cell.kind == "lstm" and cell.dtype == np.float32
    np.testing.assert_allclose(cell.run(xs)["h"], expected, atol=1e-5)
