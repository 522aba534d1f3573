"""The prediction view's cursor (issue 12's view, issue 14's speed): a step moves only a
cursor line over the head's heatmap (a CSS transform at Plotly's own x of the step), with
no Plotly call; the heatmap is drawn again only when its window changes."""

from __future__ import annotations

import pytest
from gs_browser_helpers import (
    DIAGRAM,
    count_plotly_calls,
    settled_draws,
    upload_model_and_run,
    wait_t,
    write_projected_model,
)
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

VIEW = '[data-view="prediction"]'
HEAT = "#prediction-heatmap"
CURSOR = "#prediction-cursor"
TEXT = "a bad cafe fed a badge " * 25  # 575 steps: the heatmap holds 400 at a time
# the cursor's x and where Plotly's x axis puts step t
PLACED = """t => { const c = document.querySelector('#prediction-cursor');
  const xa = document.querySelector('#prediction-heatmap')._fullLayout.xaxis;
  const m = /translateX\\(([-\\d.]+)px\\)/.exec(c.style.transform);
  return {x: m ? +m[1] : null, want: xa._offset + xa.l2p(t), shown: c.style.display,
          range: xa.range}; }"""


def cursor_at(page, t: int) -> dict:
    expect(page.locator(CURSOR)).to_have_attribute("data-t", str(t))
    got = page.evaluate(PLACED, t)
    assert got["shown"] == "block" and got["x"] is not None, got
    assert got["x"] == pytest.approx(got["want"], abs=0.1), got
    return got


def test_keys_move_the_prediction_cursor_without_plotly_calls(page, errors, tmp_path):
    upload_model_and_run(page, *write_projected_model(tmp_path), TEXT)
    page.wait_for_selector(f"{HEAT} .main-svg", state="attached")
    cursor_at(page, 0)
    drawn = settled_draws(page, VIEW)  # the heatmap's first window is painted
    count_plotly_calls(page, VIEW)
    page.locator(DIAGRAM).focus()
    xs = []
    for t in range(1, 8):
        page.keyboard.press("ArrowRight")
        wait_t(page, t)
        xs.append(cursor_at(page, t)["x"])
    assert all(b > a for a, b in zip(xs, xs[1:], strict=False)), xs
    page.get_by_role("button", name="Step back").click()
    wait_t(page, 6)
    cursor_at(page, 6)
    assert page.evaluate("() => window.__plotlyCalls") == []
    assert settled_draws(page, VIEW) == drawn  # eight steps, no draw
    # a jump out of the window: the heatmap is drawn once for the new window
    page.keyboard.press("End")
    last = len(TEXT) - 1
    wait_t(page, last)
    page.wait_for_function(f"() => document.querySelector('{HEAT}')._fullLayout.xaxis"
                           f".range[1] > {last - 1}", timeout=10_000)
    got = cursor_at(page, last)
    assert got["range"][1] > last - 0.5 and got["range"][0] > 0
    assert page.evaluate("() => window.__plotlyCalls").count("react") == 1
    assert settled_draws(page, VIEW) == drawn + 1
