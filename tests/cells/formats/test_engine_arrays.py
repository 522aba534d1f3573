"""Every loader hands the engine C-contiguous arrays of the cell's dtype.

BLAS picks its kernel by memory layout, so the same numbers held as a transposed view (a
Keras kernel read as kernel.T) and as a C-contiguous array can round differently in the
last bit. Parameters are copied into one layout where they enter the engine; these tests
read every format the other format tests write (with the libraries that write them) and
look at what the engine holds.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")  # fixed when keras is first imported

import keras  # noqa: E402
import numpy as np  # noqa: E402
import onnx  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

import cells  # noqa: E402
from cells.weights_io import WRITE_SUFFIXES  # noqa: E402

I, H, V, O = 3, 4, 6, 5
VOCABULARY = "abcdef"
DTYPES = ("float32", "float64")
# The kinds each outside library writes, by its own name for them.
TORCH = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}
KERAS = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "rnn": keras.layers.SimpleRNN}
ONNX = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}
GATES = {"lstm": 4, "gru": 3, "rnn": 1}


def test_the_libraries_write_kinds_the_engine_has():
    for mapping in (TORCH, KERAS, ONNX, GATES):
        assert set(mapping) <= set(cells.KINDS)


def engine_arrays(thing):
    """(name, array) for every parameter a Cell or a Model computes with."""
    if isinstance(thing, cells.Model):
        for index, layer in enumerate(thing.stack):
            for direction, cell in layer.cells.items():
                for name, array in cell.params.items():
                    yield f"layer {index} {direction} {name}", array, cell.dtype
        if thing.head is not None:
            yield "head weight", thing.head.weight, thing.dtype
            yield "head bias", thing.head.bias, thing.dtype
        if thing.encoder.embedding is not None:
            yield "embedding", thing.encoder.embedding, thing.dtype
    else:
        for name, array in thing.params.items():
            yield name, array, thing.dtype


def assert_engine_layout(thing, dtype=None):
    names = []
    for name, array, own in engine_arrays(thing):
        assert array.flags.c_contiguous, f"{name} is not C-contiguous"
        assert array.dtype == own, f"{name} is {array.dtype}, its cell {own}"
        if dtype is not None:
            assert array.dtype == np.dtype(dtype), name
        names.append(name)
    assert names  # something was looked at


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", cells.KINDS)
def test_transposed_params_given_to_create_are_held_c_contiguous(kind, dtype):
    made = cells.create(kind, input_size=I, hidden_size=H, seed=3, dtype=dtype)
    transposed = {k: np.asfortranarray(v) if v.ndim == 2 else v[::-1][::-1]
                  for k, v in made.params.items()}
    first_matrix = next(k for k, v in made.params.items() if v.ndim == 2)  # weight_ih, …
    assert not transposed[first_matrix].flags.c_contiguous  # the case this test is about
    cell = cells.create(kind, params=transposed, dtype=dtype, **made.options)
    assert_engine_layout(cell, dtype)
    xs = np.random.default_rng(0).normal(size=(7, I))
    assert np.array_equal(cell.run(xs)["h"], made.run(xs)["h"])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("suffix", WRITE_SUFFIXES)
@pytest.mark.parametrize("kind", cells.KINDS)
def test_cells_save_then_load(tmp_path, kind, suffix, dtype):
    cell = cells.create(kind, input_size=I, hidden_size=H, seed=1, dtype=dtype)
    cells.save(cell, tmp_path / f"cell{suffix}")
    assert_engine_layout(cells.load(tmp_path / f"cell{suffix}"), dtype)
    other = "float64" if dtype == "float32" else "float32"
    assert_engine_layout(cells.load(tmp_path / f"cell{suffix}", dtype=other), other)


def torch_text_model(kind, dtype, **options):
    torch.manual_seed(0)
    module = torch.nn.Sequential()
    module.add_module("emb", torch.nn.Embedding(V, I))
    module.add_module("rnn", TORCH[kind](I, H, num_layers=2, bidirectional=True, **options))
    width = 2 * (options.get("proj_size") or H)
    module.add_module("fc", torch.nn.Linear(width, O))
    return module.to(getattr(torch, dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", sorted(TORCH))
def test_torch_state_dicts_and_modules(tmp_path, kind, dtype):
    module = torch_text_model(kind, dtype)
    save_file(module.state_dict(), str(tmp_path / "model.safetensors"))
    np.savez(tmp_path / "model.npz",
             **{k: v.numpy() for k, v in module.state_dict().items()})
    for name in ("model.safetensors", "model.npz"):
        assert_engine_layout(cells.load_model(tmp_path / name, vocabulary=VOCABULARY), dtype)
        assert_engine_layout(cells.load_model(tmp_path / name, dtype="float64"), "float64")
    assert_engine_layout(cells.from_torch(module, vocabulary=VOCABULARY), dtype)
    recurrent = TORCH[kind](I, H).to(getattr(torch, dtype))
    save_file(recurrent.state_dict(), str(tmp_path / "cell.safetensors"))
    assert_engine_layout(cells.load(tmp_path / "cell.safetensors"), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_torch_projected_lstm(tmp_path, dtype):
    module = torch_text_model("lstm", dtype, proj_size=2)
    save_file(module.state_dict(), str(tmp_path / "proj.safetensors"))
    model = cells.load_model(tmp_path / "proj.safetensors", vocabulary=VOCABULARY)
    assert type(model.cell(0)).__name__ == "ProjectedLSTM"
    assert_engine_layout(model, dtype)


def keras_model(kind):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((None,), dtype="int32"),
        keras.layers.Embedding(V, I),
        keras.layers.Bidirectional(KERAS[kind](H, return_sequences=True)),
        keras.layers.Dense(O, activation="softmax"),
    ])
    model.build((None, None))
    return model


@pytest.mark.parametrize("kind", sorted(KERAS))
def test_keras_files(tmp_path, kind):
    model = keras_model(kind)
    model.save(tmp_path / "model.keras")
    model.save_weights(tmp_path / "model.weights.h5")
    whole = cells.load_model(tmp_path / "model.keras", vocabulary=VOCABULARY)
    assert_engine_layout(whole, "float32")
    assert_engine_layout(cells.load_model(tmp_path / "model.weights.h5",
                                          vocabulary=VOCABULARY), "float32")
    with pytest.warns(cells.weights_io.PartialLoadWarning):
        assert_engine_layout(cells.load(tmp_path / "model.weights.h5"), "float32")
    # A round trip through gatescope's own file computes the same bits.
    cells.save_model(whole, tmp_path / "again.safetensors")
    again = cells.load_model(tmp_path / "again.safetensors")
    assert np.array_equal(again.run("abcfed").prediction, whole.run("abcfed").prediction)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", sorted(ONNX))
def test_onnx_bidirectional_node(tmp_path, kind, dtype):
    rng = np.random.default_rng(0)
    rows = GATES[kind] * H
    arrays = {"W": rng.normal(size=(2, rows, I)), "R": rng.normal(size=(2, rows, H)),
              "B": rng.normal(size=(2, 2 * rows))}
    arrays = {k: v.astype(dtype) for k, v in arrays.items()}
    elem = TensorProto.DOUBLE if dtype == "float64" else TensorProto.FLOAT
    node = helper.make_node(ONNX[kind], ["X", "W", "R", "B"], ["Y"], hidden_size=H,
                            direction="bidirectional")
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("X", elem, [None, 1, I])],
        [helper.make_tensor_value_info("Y", elem, None)],
        initializer=[numpy_helper.from_array(a, n) for n, a in arrays.items()])
    onnx.save(helper.make_model(graph), str(tmp_path / "cell.onnx"))
    assert_engine_layout(cells.load_model(tmp_path / "cell.onnx"), dtype)
    with pytest.warns(cells.weights_io.PartialLoadWarning):
        assert_engine_layout(cells.load(tmp_path / "cell.onnx"), dtype)
