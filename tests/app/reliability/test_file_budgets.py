"""Whole-file bombs are refused by a budget before their data is read.

Each tensor of these files is under the per-tensor cap; the file as a whole is not. Each is
written here with the real libraries (zipfile + NumPy's .npy header, h5py) and uploaded to
a real server process by another process (httpx); the server's peak resident memory
(VmHWM) is read before and after, and the message must name the file and the setting."""

from __future__ import annotations

import json
import zipfile

import h5py
import httpx
import numpy as np
import pytest

import cells
from app.core.settings import Settings
from tests.support import LIMITED_ENV, SERVER_ADDRESS_SPACE, ServerProcess, peak_rss_bytes

MiB = 2**20


def deflated_zeros(member, count: int) -> None:
    zeros = bytes(1 << 24)
    while count:
        member.write(zeros[:min(count, len(zeros))])
        count -= min(count, len(zeros))


def npz_of_layers(path, layers: int, hidden: int = 1024, inputs: int = 1024):
    """A PyTorch nn.LSTM state dict of `layers` float64 layers, every tensor compressed
    zeros: each under the per-tensor cap, the whole file far over the tensor-bytes budget."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for k in range(layers):
            for name, shape in ((f"weight_ih_l{k}", (4 * hidden, inputs if k == 0 else hidden)),
                                (f"weight_hh_l{k}", (4 * hidden, hidden)),
                                (f"bias_ih_l{k}", (4 * hidden,)), (f"bias_hh_l{k}", (4 * hidden,))):
                header = {"descr": "<f8", "fortran_order": False, "shape": shape}
                with z.open(f"{name}.npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array_header_1_0(member, header)
                    deflated_zeros(member, int(np.prod(shape)) * 8)
    return path


def small_weights_h5() -> bytes:
    import io

    buffer = io.BytesIO()
    cell = cells.create("lstm", input_size=2, hidden_size=3, seed=0)
    with h5py.File(buffer, "w") as f:
        group = f.create_group("layers/lstm/cell/vars")
        group["0"] = cell.params["weight_ih"].T
        group["1"] = cell.params["weight_hh"].T
        group["2"] = cell.params["bias_ih"] + cell.params["bias_hh"]
    return buffer.getvalue()


def keras_archive(path, config: bytes, weights_member=None):
    """A .keras zip: config.json, metadata.json and model.weights.h5 (given bytes, or
    `weights_member(zipfile)` writing it)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
        z.writestr("config.json", config)
        if callable(weights_member):
            weights_member(z)
        else:
            z.writestr("model.weights.h5", weights_member or small_weights_h5())
    return path


LSTM_CONFIG = json.dumps({"class_name": "Sequential", "config": {"name": "s", "layers": [
    {"class_name": "InputLayer", "config": {"name": "in", "batch_shape": [None, None, 2]}},
    {"class_name": "LSTM", "config": {"name": "lstm", "units": 3}}]}}).encode()


def gibibyte_member(z: zipfile.ZipFile) -> None:
    with z.open("model.weights.h5", "w", force_zip64=True) as member:
        deflated_zeros(member, 2**30)


def curly_config() -> bytes:
    """16 MB of `{}` in a model config's list of layers (under the size budget, not the
    count of values)."""
    head, tail = b'{"class_name":"Sequential","config":{"layers":[', b"{}]}}"
    return head + b"{}," * ((16_000_000 - len(head)) // 3) + tail


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # under a memory limit: a file that got past its checks could not take the machine
    with ServerProcess(tmp_path_factory.mktemp("data"), env=LIMITED_ENV,
                       address_space=SERVER_ADDRESS_SPACE) as running:
        yield running


def post(server, name: str, data: bytes, vocabulary: bytes | None = None) -> httpx.Response:
    files = {"file": (name, data)}
    if vocabulary is not None:
        files["vocabulary"] = ("vocab.json", vocabulary)
    return httpx.post(server.url + "/api/weights", files=files, timeout=120)


def refused(server, name: str, data: bytes, setting: str, *fragments: str,
            vocabulary: bytes | None = None, field: str = "file") -> None:
    pid = server.process.pid
    peak = peak_rss_bytes(pid)
    response = post(server, name, data, vocabulary)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["field"] == field, body
    assert name in body["detail"] or field == "vocabulary", body
    assert f"setting {setting}" in body["detail"], body
    for fragment in fragments:
        assert fragment in body["detail"], body
    # Nothing the file declares was unpacked: the peak memory grew by far less than it.
    assert peak_rss_bytes(pid) - peak < 64 * MiB


@pytest.fixture(scope="module")
def warm(server, tmp_path_factory):
    """The formats' libraries imported in the server before any peak is measured."""
    folder = tmp_path_factory.mktemp("warm")
    keras_ok = keras_archive(folder / "ok.keras", LSTM_CONFIG)
    npz_ok = folder / "ok.npz"
    cells.save(cells.create("lstm", input_size=2, hidden_size=3, seed=0), npz_ok)
    for path in (keras_ok, npz_ok):
        assert post(server, path.name, path.read_bytes()).status_code == 201
    return server


@pytest.mark.slow
def test_compressed_zero_layers_over_the_tensor_bytes_budget(warm, tmp_path):
    layers = 6  # 6 x 64 MiB of float64 declared, each tensor 32 MiB
    assert layers * 64 * MiB > Settings().max_file_tensor_bytes
    path = npz_of_layers(tmp_path / "zeros.npz", layers)
    assert path.stat().st_size < 2 * MiB
    refused(warm, "zeros.npz", path.read_bytes(), "max_file_tensor_bytes",
            "the bytes its tensors declare")


@pytest.mark.slow
def test_a_keras_archive_whose_weights_unpack_to_a_gibibyte(warm, tmp_path):
    path = keras_archive(tmp_path / "big.keras", LSTM_CONFIG, gibibyte_member)
    assert path.stat().st_size < 8 * MiB
    refused(warm, "big.keras", path.read_bytes(), "max_archive_member_bytes",
            "model.weights.h5", "1,073,741,824")


@pytest.mark.slow
def test_sixteen_megabytes_of_braces_in_config_json(warm, tmp_path):
    path = keras_archive(tmp_path / "curly.keras", curly_config())
    assert path.stat().st_size < 200_000
    refused(warm, "curly.keras", path.read_bytes(), "max_json_values", "config.json")


@pytest.mark.slow
def test_a_vocabulary_nested_200k_deep_is_a_4xx(warm, tmp_path):
    npz = tmp_path / "text.npz"
    cells.save(cells.create("lstm", input_size=2, hidden_size=3, seed=0), npz)
    deep = b"[" * 200_000 + b"]" * 200_000
    refused(warm, "text.npz", npz.read_bytes(), "max_json_depth", "200,000",
            vocabulary=deep, field="vocabulary")


@pytest.mark.slow
@pytest.mark.parametrize(("layers", "setting"), [(100, "max_file_layers"),
                                                 (3000, "max_archive_entries")])
def test_thousands_of_layers_are_refused_by_count(warm, tmp_path, layers, setting):
    path = tmp_path / "deep.npz"
    arrays = {}
    for k in range(layers):  # nn.LSTM(1, 1, num_layers=layers)
        arrays.update({f"weight_ih_l{k}": np.zeros((4, 1)), f"weight_hh_l{k}": np.zeros((4, 1)),
                       f"bias_ih_l{k}": np.zeros(4), f"bias_hh_l{k}": np.zeros(4)})
    np.savez_compressed(path, **arrays)
    refused(warm, "deep.npz", path.read_bytes(), setting)


@pytest.mark.slow
def test_the_model_readers_own_words_reach_the_user(warm, tmp_path):
    """A .keras of one LSTM is a model (no "unsupported file type"); a Lambda archive is
    refused by name."""
    ok = keras_archive(tmp_path / "one.keras", LSTM_CONFIG)
    response = post(warm, "one.keras", ok.read_bytes())
    assert response.status_code == 201, response.text
    assert response.json()["hidden_size"] == 3
    config = json.loads(LSTM_CONFIG)
    config["config"]["layers"].append({"class_name": "Lambda", "config": {"name": "code"}})
    bad = keras_archive(tmp_path / "lambda.keras", json.dumps(config).encode())
    response = post(warm, "lambda.keras", bad.read_bytes())
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert "Lambda" in detail and "not supported" in detail and "unsupported file" not in detail
