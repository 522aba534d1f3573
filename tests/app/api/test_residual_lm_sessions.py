"""A residual language model (minGRU-pytorch's minLM) uploaded with its tokenizer.json:
the session steps through the tokenizer's ids, says each step's text, and its
probabilities equal the library's; each layer's cell reads what the block's norm gave."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

import cells
from tests.support import MIN_LM_TEXT, create_session, write_min_lm

TEXT = MIN_LM_TEXT


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    folder = tmp_path_factory.mktemp("min_lm")
    module, tokenizer = write_min_lm(folder)
    encoding = tokenizer.encode(TEXT, add_special_tokens=False)
    with torch.no_grad():
        probs = torch.softmax(module(torch.tensor([encoding.ids]))[0], -1).numpy()
    return folder, encoding, probs


def test_a_session_steps_through_the_model_s_tokenizer(client, written):
    folder, encoding, probs = written
    files = {"file": ("model.safetensors", (folder / "model.safetensors").read_bytes()),
             "vocabulary": ("tokenizer.json", (folder / "tokenizer.json").read_bytes())}
    response = client.post("/api/weights", files=files)
    assert response.status_code == 201, response.text
    record = response.json()
    assert record["model"]["vocabulary_size"] == len(cells.load_model(folder).vocabulary)
    session = create_session(client, weights_id=record["weights_id"],
                             sequence={"text": TEXT})
    assert session["steps"] == len(encoding.ids)
    assert session["sequence"]["tokens"] == [TEXT[a:b] for a, b in encoding.offsets]
    got = client.get(f"/api/sessions/{session['id']}/trace",
                     params={"names": "probs", "layer": 1}).json()["signals"]
    np.testing.assert_allclose(np.asarray(got["probs"]), probs, rtol=1e-5, atol=1e-6)
    # layer 1's cell read the normed stream of its block, not layer 0's h
    run = cells.load_model(folder).run(TEXT)
    x = client.get(f"/api/sessions/{session['id']}/trace",
                   params={"names": "x", "layer": 1}).json()["signals"]["x"]
    np.testing.assert_allclose(np.asarray(x), run.block(1, "norm"), rtol=1e-6, atol=1e-6)


def test_a_mamba_language_model_is_a_session_like_any_model(client, tmp_path):
    """mambapy's LM layout uploaded with a character vocabulary: its layers' mixer signals
    and its probabilities are the engine's and the library's."""
    from cells.presets.recipes.selective_copy import language_model

    torch.manual_seed(13)
    module = language_model(10, d_model=16, n_layers=2, d_state=4, expand_factor=2,
                            d_conv=4, pscan=False)
    path = tmp_path / "model.safetensors"
    save_file({k: v.detach().contiguous() for k, v in module.state_dict().items()}, str(path))
    vocabulary = ".|abcdefgh"
    files = {"file": ("model.safetensors", path.read_bytes()),
             "vocabulary": ("vocab.txt", "".join(f"{ch}\n" for ch in vocabulary).encode())}
    response = client.post("/api/weights", files=files)
    assert response.status_code == 201, response.text
    text = "a..b.c|abc"
    session = create_session(client, weights_id=response.json()["weights_id"],
                             sequence={"text": text})
    assert session["cell"] == "mamba" and session["steps"] == len(text)
    run = cells.load_model(path, vocabulary=vocabulary).run(text)
    url = f"/api/sessions/{session['id']}/trace"
    got = client.get(url, params={"names": "delta,h,probs", "layer": 1}).json()["signals"]
    np.testing.assert_array_equal(np.asarray(got["delta"], np.float32), run.layer(1)["delta"])
    np.testing.assert_array_equal(np.asarray(got["h"], np.float32), run.layer(1)["h"])
    ids = torch.tensor([[vocabulary.index(ch) for ch in text]])
    with torch.no_grad():
        probs = torch.softmax(module(ids)[0], -1).numpy()
    np.testing.assert_allclose(np.asarray(got["probs"]), probs, rtol=1e-5, atol=1e-6)
