"""The line chart of an nn.LSTM(proj_size=P) model: h has P values while the unit picker
spans c's H units; past P the chart draws c only and says why, as the diagram does."""

from __future__ import annotations

import pytest
from gs_browser_helpers import (
    MODEL_TEXT,
    set_unit,
    upload_model_and_run,
    wait_t,
    write_projected_model,
)
from playwright.sync_api import expect

pytestmark = pytest.mark.browser
P = 3  # the model's projection (write_projected_model's default)

LINE = "#charts .chart-set.front .chart-row.line"
SHOWN = f"""() => {{ const d = document.querySelector('{LINE}');
  return {{title: d._fullLayout.yaxis.title.text, names: d.data.map(t => t.name),
          notes: (d.layout.annotations || []).map(a => a.text)}}; }}"""


def shown_for(page, unit: int) -> dict:
    page.wait_for_function(f"u => document.querySelector('{LINE}')?._fullLayout?.yaxis"
                           "?.title?.text === `unit ${u}`", arg=unit, timeout=10_000)
    return page.evaluate(SHOWN)


def test_line_chart_says_h_has_only_p_values(page, errors, api, tmp_path):
    upload_model_and_run(page, *write_projected_model(tmp_path, proj=P), MODEL_TEXT)
    page.get_by_role("button", name="Step forward").click()
    wait_t(page, 1)
    set_unit(page, 1)
    below = shown_for(page, 1)
    assert below["names"] == ["c (unit 1)", "h (unit 1)"] and below["notes"] == []
    set_unit(page, P + 1)
    past = shown_for(page, P + 1)
    assert past["names"] == [f"c (unit {P + 1})"]
    assert len(past["notes"]) == 1
    assert f"h has only P = {P} values" in past["notes"][0]
    expect(page.locator(LINE)).to_contain_text(f"h has only P = {P} values")
    # back below P: h again, no note
    set_unit(page, 0)
    assert shown_for(page, 0)["notes"] == []
