"""A refused weights file changes nothing (issue 19): the form goes back to the weights in
use, with their hints (source, sizes, layers, file name), and the refusal is said beside the
file picker."""

from __future__ import annotations

import pytest
from gs_browser_helpers import open_view, run_new_session
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def refuse(page, tmp_path):
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"this is not a safetensors file")
    page.get_by_label("file", exact=True).check()
    page.set_input_files("#weights-file", str(junk))
    expect(page.locator('[data-error-for="weights"]')).not_to_be_empty(timeout=15_000)


def test_a_refused_file_keeps_the_presets_hints(page, js_errors, api, tmp_path):
    preset = next(p for p in api("GET", "/api/presets")["presets"] if p["name"] == "counter")
    open_view(page, "?t=0")
    refuse(page, tmp_path)
    expect(page.get_by_label("preset", exact=True)).to_be_checked()
    expect(page.locator("#hidden-fixed")).to_have_text(
        f"Hidden size H = {preset['hidden_size']}, set by the preset.")
    expect(page.locator("#cell-fixed")).to_contain_text("set by the preset")
    expect(page.locator("#form-status")).to_have_text("")  # nothing to Run: nothing changed


def test_a_refused_file_brings_back_the_hints_of_the_file_in_use(page, js_errors, tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    in_use, other = tmp_path / "in_use.safetensors", tmp_path / "other.safetensors"
    torch.manual_seed(0)
    save_file(torch.nn.LSTM(3, 4, num_layers=2).state_dict(), in_use)
    save_file(torch.nn.LSTM(3, 6, bidirectional=True).state_dict(), other)
    open_view(page, "?t=0")
    page.get_by_label("file", exact=True).check()
    page.set_input_files("#weights-file", str(in_use))
    expect(page.locator("#weights-id")).to_contain_text(in_use.name)
    page.get_by_label("numbers").check()
    page.get_by_label("Sequence", exact=True).fill("1,0,0\n0,1,0\n0,0,1")
    run_new_session(page)
    # another file chosen (not run), then a refused one: the form says the file in use
    page.set_input_files("#weights-file", str(other))
    expect(page.locator("#weights-id")).to_contain_text(other.name)
    expect(page.locator("#weights-part")).to_contain_text("1 layer × 2 directions")
    refuse(page, tmp_path)
    expect(page.locator("#weights-id")).to_contain_text(in_use.name)
    expect(page.locator("#weights-id")).to_contain_text("H = 4")
    expect(page.locator("#weights-part")).to_contain_text("2 layers × 1 direction")
    expect(page.locator("#hidden-fixed")).to_have_text(
        "Hidden size H = 4, set by the weights file.")
    expect(page.locator("#form-status")).to_have_text("")
