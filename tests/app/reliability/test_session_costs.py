"""A session's cost is estimated before it is computed and refused over the settings with
what to shrink: deep stacks of tiny cells, long held signals, an LSTM with proj_size whose
trace is held whole. Nothing is computed or stored for a refused session (a real server on
loopback; the files are written by PyTorch)."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from tests.support import ServerProcess, peak_rss_bytes

MiB = 2**20


def state_dict_file(path, module) -> bytes:
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in module.state_dict().items()}, str(path))
    return path.read_bytes()


def upload(server, name: str, data: bytes) -> str:
    answer = httpx.post(server.url + "/api/weights", files={"file": (name, data)}, timeout=120)
    assert answer.status_code == 201, answer.text
    return answer.json()["weights_id"]


def stored_sessions(data) -> int:
    return len(list((data / "sessions").glob("*.json")))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    env = {"GATESCOPE_MAX_SESSION_OPERATIONS": str(10**10)}
    with ServerProcess(data, env=env) as running:
        running.data = data
        yield running


@pytest.mark.slow
def test_a_deep_stack_of_tiny_cells_is_refused_by_its_operations(server, tmp_path):
    import torch

    torch.manual_seed(0)
    deep = upload(server, "deep.safetensors",
                  state_dict_file(tmp_path / "deep.safetensors", torch.nn.LSTM(1, 1, 50)))
    shallow = upload(server, "shallow.safetensors",
                     state_dict_file(tmp_path / "shallow.safetensors", torch.nn.LSTM(1, 1, 1)))
    rows = np.zeros((20_000, 1)).tolist()
    before = stored_sessions(server.data)
    refused = httpx.post(server.url + "/api/sessions", timeout=120,
                         json={"weights_id": deep, "sequence": {"values": rows}})
    assert refused.status_code == 422, refused.text
    detail = refused.json()["detail"]
    assert "20,000 steps of 50 layer(s)" in detail
    assert "setting max_session_operations" in detail and "fewer or smaller layers" in detail
    assert stored_sessions(server.data) == before  # nothing stored, nothing computed
    accepted = httpx.post(server.url + "/api/sessions", timeout=120,
                          json={"weights_id": shallow, "sequence": {"values": rows}})
    assert accepted.status_code == 201, accepted.text


@pytest.mark.slow
def test_held_signals_count_in_a_sessions_cost(server):
    text = "(ab)" * 25_000  # 100k steps of the counter preset
    holds = [{"signal": "f", "start": 0, "stop": 100_000, "value": 1.0}] * 1000
    refused = httpx.post(server.url + "/api/sessions", timeout=120,
                         json={"preset": "counter", "sequence": {"text": text},
                               "interventions": holds})
    assert refused.status_code == 422, refused.text
    assert "hold fewer signals" in refused.json()["detail"]
    accepted = httpx.post(server.url + "/api/sessions", timeout=120,
                          json={"preset": "counter", "sequence": {"text": text},
                                "interventions": holds[:2]})
    assert accepted.status_code == 201, accepted.text


@pytest.mark.slow
def test_a_projected_lstm_over_200k_steps_is_refused_by_memory(server, tmp_path):
    import torch

    torch.manual_seed(0)
    module = torch.nn.LSTM(1, 1024, proj_size=1)
    weights = upload(server, "proj.safetensors",
                     state_dict_file(tmp_path / "proj.safetensors", module))
    pid = server.process.pid
    peak = peak_rss_bytes(pid)
    rows = np.zeros((200_000, 1)).tolist()
    refused = httpx.post(server.url + "/api/sessions", timeout=300,
                         json={"weights_id": weights, "sequence": {"values": rows}})
    assert refused.status_code == 422, refused.text
    assert "setting max_session_bytes" in refused.json()["detail"]
    assert peak_rss_bytes(pid) - peak < 400 * MiB  # the 5 GB trace was never made
