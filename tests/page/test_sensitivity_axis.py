"""The sensitivity chart reads on its own (issue 19, point 7): a step axis under the bars
(round steps inside the window shown) and each step's values as its hover text, the
numbers the API gives."""

from __future__ import annotations

import re

import pytest
from gs_browser_helpers import diagram_state, open_view, wait_t
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

VIEW = '[data-view="sensitivity"]'


def test_a_step_axis_and_hover_values(page, errors, api):
    open_view(page, "?preset=long-memory-lstm&t=61&unit=0")
    wait_t(page, 61)
    expect(page.locator(VIEW)).to_have_attribute("data-t", "61", timeout=10_000)
    body = api("GET", f"/api/sessions/{diagram_state(page)['session']}/sensitivity?t=61&unit=0")
    ticks = page.locator(f"{VIEW} .sens-steps-axis text").all_text_contents()
    assert ticks[-1] == "step s"
    steps = [int(v) for v in ticks[:-1]]
    assert len(steps) >= 3 and steps == sorted(steps)
    assert body["start"] <= steps[0] and steps[-1] <= 61
    # each tick sits under its own step's bar
    for s in steps:
        tick = page.locator(f"{VIEW} .sens-steps-axis text", has_text=re.compile(rf"^{s}$"))
        bar = page.locator(f'{VIEW} [data-step="{s}"] .sens-hit')
        t_box, b_box = tick.bounding_box(), bar.bounding_box()
        assert b_box["x"] - 1 <= t_box["x"] + t_box["width"] / 2 <= b_box["x"] + b_box["width"] + 1
    titles = page.locator(f"{VIEW} [data-step] title").all_text_contents()
    assert len(titles) == len(body["h"])
    for k, text in enumerate(titles):
        s = body["start"] + k
        assert text.startswith(f"step {s}: ")
        for key in ("x", "h", "c"):  # each norm, to the 4 digits shown
            shown = re.search(rf"‖∂/∂{key}_s‖ [a-z ]+ ([-+0-9.e]+)", text)
            assert shown, (s, key, text)
            assert float(shown.group(1)) == pytest.approx(body[key][k], rel=1e-3), (s, key, text)
