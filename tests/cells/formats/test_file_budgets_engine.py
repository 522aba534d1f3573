"""Whole-file budgets in the engine (cells.load, cells.load_model, the CLI's reads): each
refusal names the file, the figure and the setting, and comes before any data is read."""

from __future__ import annotations

import json
import zipfile

import h5py
import numpy as np
import pytest

import cells
from cells.formats import budgets
from cells.formats.budgets import Budgets, OverBudget, json_shape


@pytest.fixture
def tight():
    """Budgets changed for one test, the defaults restored after."""
    before = budgets.current()

    def use(**changes):
        budgets.use(Budgets().replace(**changes))

    yield use
    budgets.use(before)


def keras2_h5(path, layers: int):
    """Keras 2 weights layout: lstm_k/lstm_k/lstm_cell_k/{kernel,recurrent_kernel,bias}:0,
    a chain of LSTM(1, 1) layers (three groups each)."""
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as f:
        for k in range(layers):
            name = "lstm" if k == 0 else f"lstm_{k}"
            group = f.create_group(f"{name}/{name}/lstm_cell_{k}")
            group["kernel:0"] = rng.normal(size=(1, 4)).astype("f4")
            group["recurrent_kernel:0"] = rng.normal(size=(1, 4)).astype("f4")
            group["bias:0"] = np.zeros(4, "f4")
    return path


def test_json_shape_counts_outside_strings():
    assert json_shape(b'[[1, 2], {"a": "[[[,,,"}]') == (2, 6)
    assert json_shape(b"[" * 300 + b"]" * 300)[0] == 300
    assert json_shape(b"7") == (0, 1)


def test_a_deep_vocabulary_is_refused_by_depth(tmp_path):
    path = tmp_path / "vocab.json"
    path.write_bytes(b"[" * 200_000 + b"]" * 200_000)
    from cells.formats.vocabulary_files import read_vocabulary_file

    with pytest.raises(OverBudget,
                       match=r"vocab.json: the nesting depth .*200,000.*max_json_depth"):
        read_vocabulary_file(path)


def test_an_h5_of_1000_groups_is_refused_by_its_groups(tmp_path, tight):
    path = keras2_h5(tmp_path / "groups.h5", 334)  # 1,002 groups
    tight(max_file_groups=1000, max_file_layers=10_000)
    with pytest.raises(OverBudget, match=r"groups.h5: the number of HDF5 groups .*1,001.*"
                                         r"max_file_groups"):
        cells.load_model(path)
    tight()  # the defaults: its 334 layers are over max_file_layers
    with pytest.raises(OverBudget, match=r"recurrent layers .*max_file_layers"):
        cells.load(path)


def test_keras2_layers_are_read_in_one_walk(tmp_path, tight, monkeypatch):
    """Reading a Keras 2 .h5 is linear in its groups: the whole tree is walked a fixed
    number of times (the budget check, the reader), not once per layer."""
    path = keras2_h5(tmp_path / "chain.h5", 40)
    walks = []
    real = h5py.Group.visititems
    monkeypatch.setattr(h5py.Group, "visititems",
                        lambda self, fn: walks.append(self.name) or real(self, fn))
    model = cells.load_model(path)
    assert model.layers == 40
    assert len(walks) <= 2, walks


def test_tensor_bytes_and_counts_are_refused_before_reading(tmp_path, tight, monkeypatch):
    path = tmp_path / "many.npz"
    np.savez(path, **{f"weight_ih_l{k}": np.zeros((4, 8 if k == 0 else 1)) for k in range(8)},
             **{f"weight_hh_l{k}": np.zeros((4, 1)) for k in range(8)},
             **{f"bias_ih_l{k}": np.zeros(4) for k in range(8)},
             **{f"bias_hh_l{k}": np.zeros(4) for k in range(8)})
    read = []
    real = np.lib.format.read_array
    monkeypatch.setattr(np.lib.format, "read_array",
                        lambda *a, **k: read.append(1) or real(*a, **k))
    tight(max_file_tensor_bytes=1000)
    with pytest.raises(OverBudget, match=r"many.npz: the bytes its tensors declare .*"
                                         r"max_file_tensor_bytes"):
        cells.load_model(path)
    tight(max_file_tensors=10)
    with pytest.raises(OverBudget, match=r"the number of tensors .*max_file_tensors"):
        cells.load(path)
    tight(max_file_layers=4)
    with pytest.raises(OverBudget, match=r"recurrent layers .*max_file_layers"):
        cells.load_model(path)
    tight(max_archive_entries=16)
    with pytest.raises(OverBudget, match=r"entries in the archive \(32\).*max_archive_entries"):
        cells.load_model(path)
    assert read == []  # no tensor's data was read
    tight()
    assert cells.load_model(path).layers == 8  # under the defaults it is a model


def test_keras_config_and_member_budgets(tmp_path, tight):
    path = tmp_path / "m.keras"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("config.json", json.dumps({"class_name": "Sequential",
                                              "config": {"layers": [{}] * 5000}}))
        z.writestr("model.weights.h5", b"\0" * 100_000)
    tight(max_json_values=4000)
    with pytest.raises(OverBudget, match=r"values in config.json.*max_json_values"):
        cells.load_model(path)
    tight(max_json_bytes=1000)
    with pytest.raises(OverBudget, match=r"size of config.json.*max_json_bytes"):
        cells.load_model(path)
    tight(max_archive_member_bytes=50_000)
    with pytest.raises(OverBudget, match=r"model.weights.h5 unpacks to \(100,000\).*"
                                         r"max_archive_member_bytes"):
        cells.load_model(path)


def test_onnx_node_budget(tmp_path, tight):
    from onnx import TensorProto, helper, save

    nodes = [helper.make_node("Identity", [f"x{k}"], [f"x{k + 1}"]) for k in range(50)]
    graph = helper.make_graph(nodes, "g",
                              [helper.make_tensor_value_info("x0", TensorProto.FLOAT, None)],
                              [helper.make_tensor_value_info("x50", TensorProto.FLOAT, None)])
    path = tmp_path / "chain.onnx"
    save(helper.make_model(graph), str(path))
    tight(max_file_nodes=20)
    with pytest.raises(OverBudget, match=r"chain.onnx: the number of ONNX nodes .*max_file_nodes"):
        cells.load_model(path)
