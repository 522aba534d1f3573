"""A character model whose vocabulary holds reserved tokens (`<pad>`, `</s>`, written by
torch with its vocab.json): the page lists them, a click adds one to the text, and the run
reads it as one step — the probabilities equal torch's on those ids (float32, 1e-5)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from gs_browser_helpers import run_new_session, upload_model_and_run
from playwright.sync_api import expect
from safetensors.torch import save_file

from tests.support import close

pytestmark = pytest.mark.browser

VOCABULARY = ["<pad>", "a", "b", "c", " ", "</s>"]


class CharModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(6)
        self.emb = torch.nn.Embedding(len(VOCABULARY), 4)
        self.lstm = torch.nn.LSTM(4, 3)
        self.fc = torch.nn.Linear(3, len(VOCABULARY))


def test_a_reserved_token_is_chosen_from_the_list_and_is_one_step(page, api, tmp_path, errors):
    module = CharModel()
    save_file(module.state_dict(), str(tmp_path / "chars.safetensors"))
    (tmp_path / "vocab.json").write_text(json.dumps(VOCABULARY))
    upload_model_and_run(page, tmp_path / "chars.safetensors", tmp_path / "vocab.json", "ab")
    listed = page.locator("#reserved-token-buttons button")
    expect(listed).to_have_text(["<pad>", "</s>"])
    page.get_by_role("button", name="Add </s>").click()
    expect(page.get_by_label("Sequence", exact=True)).to_have_value("ab</s>")
    sid = run_new_session(page)
    assert api("GET", f"/api/sessions/{sid}")["steps"] == 3  # a, b, </s>
    got = api("GET", f"/api/sessions/{sid}/trace?start=0&stop=3&names=probs")
    ids = torch.tensor([VOCABULARY.index(t) for t in ("a", "b", "</s>")])
    with torch.no_grad():
        expected = torch.softmax(module.fc(module.lstm(module.emb(ids))[0]), -1).numpy()
    close(np.asarray(got["signals"]["probs"], np.float32), expected, "float32")
