"""An uploaded ONNX model whose If nodes choose their branch by the model's inputs (one
file for two sample rates, and Ifs nested in a branch, written with onnx.helper): the form
offers each branch (each way through nested Ifs) with what it holds, re-uploads with the
one picked and says which is read; a Run then shows that branch, whose trace equals
onnxruntime's output on the inputs that take it (float32, 1e-5)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from gs_browser_helpers import DIAGRAM, check_values_against_trace, open_view, run_new_session
from playwright.sync_api import expect

from tests.support import (
    NESTED_IF_WAYS,
    SAMPLE_RATE_INPUTS,
    close,
    nested_if_onnx,
    nested_if_runtime,
    sample_rate_onnx,
    sample_rate_runtime,
)

pytestmark = pytest.mark.browser

ROWS = np.random.default_rng(11).normal(size=(4, 1, SAMPLE_RATE_INPUTS)).astype(np.float32)


def upload_and_pick(page, path, option_label: str, expected_options: int) -> None:
    open_view(page, "")
    page.get_by_label("file", exact=True).check()
    page.set_input_files("#weights-file", str(path))
    chooser = page.get_by_label("Branch of the model's If (chosen by its inputs)")
    expect(chooser).to_be_visible()
    expect(chooser.locator("option")).to_have_count(expected_options)
    chooser.select_option(label=option_label)


def run_numbers(page) -> str:
    page.get_by_label("numbers", exact=True).check()
    page.get_by_label("Sequence", exact=True).fill(
        "\n".join(",".join(f"{v:.9g}" for v in row) for row in ROWS[:, 0]))
    return run_new_session(page)


def test_the_other_branch_of_a_two_rate_model_is_picked_and_run(page, api, tmp_path, errors):
    path = sample_rate_onnx(tmp_path / "vad.onnx")
    upload_and_pick(page, path, "else: 1 gru layer (forward), input_size 4, hidden_size 3, "
                                "no head", 2)
    shown = page.locator("#onnx-branch-shown")
    expect(shown).to_have_attribute("data-branch", "else")
    expect(shown).to_contain_text("If node “by_rate” chooses 'then' when 'sr' == 16000")
    expect(page.locator("#weights-id")).to_contain_text("gru (I = 4, H = 3")
    sid = run_numbers(page)
    expect(page.locator(DIAGRAM)).to_have_attribute("data-cell", "gru")
    assert api("GET", f"/api/sessions/{sid}")["weights"]["branch"] == "else"
    h = api("GET", f"/api/sessions/{sid}/trace?start=0&stop=4&names=h")["signals"]["h"]
    close(np.asarray(h, np.float32), sample_rate_runtime(path, ROWS, 8000)[:, 0, 0], "float32")
    check_values_against_trace(page, api)


def test_a_way_through_nested_ifs_is_picked_and_run(page, api, tmp_path, errors):
    path = nested_if_onnx(tmp_path / "nested.onnx")
    choice, op, inputs = NESTED_IF_WAYS[1]  # by_rate then, by_mode else: a GRU
    upload_and_pick(page, path, "by_rate: then, by_mode: else: 1 gru layer (forward), "
                                "input_size 4, hidden_size 3, no head", 3)
    shown = page.locator("#onnx-branch-shown")
    expect(shown).to_have_attribute("data-branch", json.dumps(choice))
    expect(shown).to_contain_text("If node “by_mode” chooses 'then' when 'mode' == 1")
    sid = run_numbers(page)
    expect(page.locator(DIAGRAM)).to_have_attribute("data-cell", op[0].lower())
    assert json.loads(api("GET", f"/api/sessions/{sid}")["weights"]["branch"]) == choice
    h = api("GET", f"/api/sessions/{sid}/trace?start=0&stop=4&names=h")["signals"]["h"]
    close(np.asarray(h, np.float32), nested_if_runtime(path, ROWS, *inputs)[:, 0, 0],
          "float32")
    check_values_against_trace(page, api)
