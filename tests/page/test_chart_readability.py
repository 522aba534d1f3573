"""Readable charts (issue 19): the time axis of a text session shows the input tokens the
server's steps read; "Scale each heatmap row" colours each unit (a row of a heatmap) on its
own range (display only: the values the hover tells stay the engine's)."""

from __future__ import annotations

import numpy as np
import pytest
from gs_browser_helpers import diagram_state, open_view
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

FRONT = "#charts .chart-set.front [data-chart='{}']"
SHOWN = {" ": "␣", "\n": "↵"}


def plotted(page, chart: str, what: str):
    """`what` ("data" or "layout") of the front set's chart, once Plotly has drawn it."""
    sel = FRONT.format(chart)
    page.wait_for_function(f"() => document.querySelector(\"{sel}\")?.data?.length > 0",
                           timeout=20_000)
    return page.evaluate(
        f"() => JSON.parse(JSON.stringify(document.querySelector(\"{sel}\").{what}))")


def test_the_time_axis_shows_the_input_tokens_of_a_text_session(page, errors, api):
    sample = next(p for p in api("GET", "/api/presets")["presets"]
                  if p["name"] == "counter")["sample"]
    open_view(page, "?preset=counter&t=0")
    axis = plotted(page, "line", "layout")["xaxis"]
    assert axis["tickvals"][0] == 0 and len(axis["tickvals"]) >= 10
    for t, text in zip(axis["tickvals"], axis["ticktext"], strict=True):
        assert text == f"{t}<br>{SHOWN.get(sample[t], sample[t])}"
    assert "token" in axis["title"]["text"]


def test_a_numbers_session_keeps_plain_step_ticks(page, errors):
    open_view(page, "?cell=lstm&hidden=2&seq=numbers&text=" + "%0A".join(["1,2"] * 6))
    axis = plotted(page, "line", "layout")["xaxis"]
    assert "ticktext" not in axis and axis["title"]["text"] == "time step t"


def test_scale_each_row_colours_each_unit_on_its_own_range(page, errors, api):
    open_view(page, "?preset=counter&t=0")
    sid = diagram_state(page)["session"]
    c = np.array(api("GET", f"/api/sessions/{sid}/trace?names=c")["signals"]["c"])
    before = plotted(page, "c", "data")[0]
    # one range for every unit (at least 1 wide), as before
    assert before["transpose"] is True
    assert before["zmax"] == -before["zmin"] == pytest.approx(max(1.0, np.abs(c).max()))
    page.get_by_label("Scale each heatmap row").check()
    page.wait_for_function(
        f"() => document.querySelector(\"{FRONT.format('c')}\").data[0].transpose === false")
    heat = plotted(page, "c", "data")[0]
    z = np.array(heat["z"], dtype=float)  # units x steps
    assert z.shape == c.T.shape and (heat["zmin"], heat["zmax"]) == (-1, 1)
    for u in range(c.shape[1]):
        peak = np.abs(c[:, u]).max()
        if peak > 0:
            np.testing.assert_allclose(z[u] * peak, c[:, u], rtol=0, atol=1e-6)
            assert np.isclose(np.abs(z[u]).max(), 1)
        # the hover tells the engine's value, not the scaled colour
        shown = np.array(heat["text"][u], dtype=float)
        np.testing.assert_allclose(shown, c[:, u], rtol=0, atol=5.1e-5)
    page.wait_for_function("() => location.search.includes('unit_scale=1')")
    page.reload()
    expect(page.get_by_label("Scale each heatmap row")).to_be_checked(timeout=20_000)
    page.get_by_label("Scale each heatmap row").uncheck()
    page.wait_for_function(
        f"() => document.querySelector(\"{FRONT.format('c')}\").data[0].transpose === true")
