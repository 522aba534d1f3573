"""A backward-direction cell reads the sequence from its end (issue 19, point 6): at its
step k the input readout names the step and the time it reads ("step 3, time 18") and
marks that time's character, and the prediction view speaks of the same time."""

from __future__ import annotations

import pytest
from gs_browser_helpers import (
    MODEL_TEXT,
    prediction_matches,
    upload_model_and_run,
    wait_t,
    write_stacked_model,
)
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_backward_readout_names_the_step_and_the_time_it_reads(page, errors, api, tmp_path):
    sid = upload_model_and_run(page, *write_stacked_model(tmp_path), MODEL_TEXT)
    page.get_by_label("Direction", exact=True).select_option("backward")
    for _ in range(3):
        page.get_by_role("button", name="Step forward").click()
    wait_t(page, 3)
    time = len(MODEL_TEXT) - 1 - 3
    readout = page.locator("#input-readout")
    expect(readout).to_contain_text(f"step 3, time {time}")
    marked = MODEL_TEXT[time] if MODEL_TEXT[time] != " " else "␣"
    expect(readout.locator("mark")).to_have_text(marked)
    expect(page.locator("#prediction-caption")).to_contain_text(f"t = {time}")
    prediction_matches(page, api, sid, time)
    # a forward cell's readout is as before: the step is the time
    page.get_by_label("Direction", exact=True).select_option("forward")
    expect(readout).to_contain_text("input at t = 3")
    expect(readout.locator("mark")).to_have_text(MODEL_TEXT[3] if MODEL_TEXT[3] != " " else "␣")
