"""Uploading the state dicts of the reference modules of the kinds after the LSTM
(minGRU-pytorch's minGRU and minLSTM, xlstm's sLSTM layer) and running sessions on them:
the page's values are those of the cell cells.load reads from the same file."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from minGRU_pytorch.minGRU import minGRU
from minGRU_pytorch.minLSTM import minLSTM
from safetensors.torch import save_file
from xlstm.blocks.slstm.layer import sLSTMLayer, sLSTMLayerConfig

import cells
from tests.support import create_session

VALUES = [[0.5, -1.0, 0.25, 0.0], [1.0, 0.0, -0.5, 2.0], [0.1, 0.2, 0.3, -0.4]]


def module_of(kind):
    torch.manual_seed(0)
    if kind == "min_gru":
        return minGRU(4)
    if kind == "min_lstm":
        return minLSTM(4)
    return sLSTMLayer(sLSTMLayerConfig(embedding_dim=4, num_heads=2, conv1d_kernel_size=0,
                                       backend="vanilla", dtype="float32"))


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("kind", ["min_gru", "min_lstm", "slstm"])
def test_upload_a_reference_module_and_run(client, tmp_path, kind):
    path = tmp_path / f"{kind}.safetensors"
    save_file({k: v.contiguous() for k, v in module_of(kind).state_dict().items()}, str(path))
    with open(path, "rb") as handle:
        r = client.post("/api/weights", files={"file": (path.name, handle.read())})
    assert r.status_code == 201, r.text
    assert r.json()["cell"] == kind
    s = create_session(client, weights_id=r.json()["weights_id"], sequence={"values": VALUES})
    assert s["cell"] == kind
    trace = client.get(f"/api/sessions/{s['id']}/trace?start=0&stop=3").json()
    expected = cells.load(path).run(np.array(VALUES, np.float32))
    np.testing.assert_allclose(trace["signals"]["h"], expected["h"], rtol=1e-6, atol=1e-6)
