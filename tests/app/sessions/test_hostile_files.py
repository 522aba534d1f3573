"""Decompression bombs and oversized declarations are refused before their data is read.

Each hostile file is written here with the real library (h5py, zipfile + NumPy's .npy
header, onnx, a raw safetensors header) and uploaded to a real server process, whose
resident memory is watched with psutil and /proc (the peak, VmHWM).
"""

from __future__ import annotations

import json
import struct
import zipfile

import h5py
import httpx
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import cells
from tests.support import (
    LIMITED_ENV,
    SERVER_ADDRESS_SPACE,
    ServerProcess,
    peak_rss_bytes,
    rss_bytes,
)

BOMB_SIDE = 16384  # a 16384 x 16384 float32 tensor is 1 GiB


def h5_bomb(path):
    """A Keras-style .weights.h5 whose two LSTM kernels declare 1 GiB each; with no data
    written, HDF5 returns its fill value: a few kB of file that read as 2 GiB."""
    with h5py.File(path, "w") as f:
        group = f.create_group("layers/lstm/cell/vars")
        for key in ("0", "1"):
            group.create_dataset(key, shape=(BOMB_SIDE, BOMB_SIDE), dtype="float32",
                                 chunks=(1024, 1024), compression="gzip")
        group.create_dataset("2", data=np.zeros(BOMB_SIDE, np.float32), compression="gzip")
    return path


def npz_bomb(path, side=12_000):
    """An .npz whose weight_hh member is 576 MB of zeros deflated to about 2.5 MB (under
    the old 1 GiB-per-member check, so only the declared shape gives it away)."""
    header = {"descr": "<f4", "fortran_order": False, "shape": (side, side)}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        with z.open("weight_hh.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array_header_1_0(member, header)
            zeros = bytes(1 << 24)
            left = side * side * 4
            while left:
                member.write(zeros[:min(left, len(zeros))])
                left -= min(left, len(zeros))
        for name, shape in (("weight_ih", (4, 2)), ("bias_ih", (4,)), ("bias_hh", (4,))):
            with z.open(f"{name}.npy", "w") as member:
                np.lib.format.write_array(member, np.zeros(shape, np.float32))
    return path


def safetensors_bomb(path):
    """A header that declares a 1 GiB tensor over a file of a few bytes."""
    header = {"weight_hh": {"dtype": "F32", "shape": [BOMB_SIDE, BOMB_SIDE],
                            "data_offsets": [0, BOMB_SIDE * BOMB_SIDE * 4]}}
    data = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(data)) + data + b"\0" * 64)
    return path


def onnx_bomb(path):
    """An LSTM node whose W initializer declares dims of 1 GiB and holds nothing."""
    w, r = TensorProto(), TensorProto()
    for tensor, name in ((w, "W"), (r, "R")):
        tensor.name, tensor.data_type = name, TensorProto.FLOAT
        tensor.dims.extend([1, 4 * BOMB_SIDE, BOMB_SIDE])
    node = helper.make_node("LSTM", ["X", "W", "R"], ["Y"], hidden_size=BOMB_SIDE)
    graph = helper.make_graph([node], "bomb",
                              [helper.make_tensor_value_info("X", TensorProto.FLOAT, None)],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
                              initializer=[w, r])
    onnx.save(helper.make_model(graph), str(path))
    return path


def harmless(path):
    """A small real file of the same format (to load the format's libraries first)."""
    cell = cells.create("lstm", input_size=2, hidden_size=3, seed=0)
    if path.suffix == ".h5":
        with h5py.File(path, "w") as f:
            group = f.create_group("layers/lstm/cell/vars")
            p = cell.params
            group["0"] = p["weight_ih"].T
            group["1"] = p["weight_hh"].T
            group["2"] = p["bias_ih"] + p["bias_hh"]
    elif path.suffix == ".onnx":
        w = helper.make_tensor("W", TensorProto.FLOAT, [1, 12, 2], np.zeros(24).tolist())
        r = helper.make_tensor("R", TensorProto.FLOAT, [1, 12, 3], np.zeros(36).tolist())
        node = helper.make_node("LSTM", ["X", "W", "R"], ["Y"], hidden_size=3)
        graph = helper.make_graph([node], "ok",
                                  [helper.make_tensor_value_info("X", TensorProto.FLOAT, None)],
                                  [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
                                  initializer=[w, r])
        onnx.save(helper.make_model(graph), str(path))
    else:
        cells.save(cell, path)
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # under a memory limit: a file that got past its checks could not take the machine
    with ServerProcess(tmp_path_factory.mktemp("data"), env=LIMITED_ENV,
                       address_space=SERVER_ADDRESS_SPACE) as running:
        yield running


# What each refusal says: the declared shape (checked before the data), or safetensors' own
# header check (the header declares more bytes than the file holds).
REFUSED_BY = {"bomb.weights.h5": "declares shape (16384, 16384)",
              "my bomb.npz": "weight_hh declares shape (12000, 12000)",
              "bomb.safetensors": "not a readable safetensors file",
              "bomb (1).onnx": "declares shape (1, 65536, 16384)"}


@pytest.mark.slow
@pytest.mark.parametrize(("name", "make"), [
    ("bomb.weights.h5", h5_bomb), ("my bomb.npz", npz_bomb),
    ("bomb.safetensors", safetensors_bomb), ("bomb (1).onnx", onnx_bomb)])
def test_a_bomb_is_refused_fast_and_small(server, tmp_path, name, make):
    path = make(tmp_path / name)
    assert path.stat().st_size < 4 * 2**20
    warm = harmless(tmp_path / ("ok" + "".join(path.suffixes)))
    with open(warm, "rb") as f:  # the format's libraries are imported before measuring
        httpx.post(server.url + "/api/weights", files={"file": (warm.name, f.read())}, timeout=60)
    pid = server.process.pid
    peak_before, rss_before = peak_rss_bytes(pid), rss_bytes(pid)
    with open(path, "rb") as f:
        response = httpx.post(server.url + "/api/weights", files={"file": (name, f.read())},
                              timeout=60)
    assert response.status_code == 422, response.text
    # Refused from what the header declares, before any of the data is read (so neither
    # the time nor the memory of unpacking it is spent).
    assert REFUSED_BY[name] in response.json()["detail"], response.text
    assert peak_rss_bytes(pid) - peak_before < 50 * 2**20
    assert rss_bytes(pid) - rss_before < 50 * 2**20
    body = response.json()  # the message names the file, by its uploaded name
    assert body["field"] == "file" and name in body["detail"], body
