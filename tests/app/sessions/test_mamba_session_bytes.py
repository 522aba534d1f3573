"""A Mamba language model's session is costed by what its trace keeps (B, C and out per step,
a checkpoint per block: cells' Mamba.kept_per_step), not by a record of every signal (its
E × N states, decays and writes at every step), which it never holds: a session whose
full record would be over max_session_bytes, but whose run fits, is made; a longer one that
does not fit is still refused with the setting named."""

from __future__ import annotations

import torch
from safetensors.torch import save_file

from cells.presets.recipes.selective_copy import language_model
from tests.support import assert_error

VOCABULARY = "abcdefgh"


def _upload(client, tmp_path) -> str:
    torch.manual_seed(3)
    module = language_model(len(VOCABULARY), d_model=32, n_layers=2, d_state=16,
                            expand_factor=2, d_conv=4, pscan=False)
    path = tmp_path / "model.safetensors"
    save_file({k: v.detach().contiguous() for k, v in module.state_dict().items()}, str(path))
    files = {"file": ("model.safetensors", path.read_bytes()),
             "vocabulary": ("vocab.txt", "".join(f"{ch}\n" for ch in VOCABULARY).encode())}
    response = client.post("/api/weights", files=files)
    assert response.status_code == 201, response.text
    return response.json()["weights_id"]


def test_a_mamba_session_is_costed_by_what_its_trace_keeps(make_client, tmp_path):
    # 2,000 steps: every signal of both layers (E = 64 channels × N = 16 states) would be
    # ~2 × 2,000 × 5,700 float32 ≈ 91 MB; what the run keeps is under 4 MB
    client = make_client(max_session_bytes=8 * 2**20)
    weights_id = _upload(client, tmp_path)
    text = ("abcdefgh" * 250)[:2000]
    made = client.post("/api/sessions", json={"weights_id": weights_id,
                                              "sequence": {"text": text}})
    assert made.status_code == 201, made.text
    refused = client.post("/api/sessions", json={"weights_id": weights_id,
                                                 "sequence": {"text": text * 5}})
    assert_error(refused, 422, "sequence", "max_session_bytes")
