"""What if (issue 14, point 3): a valve held from the cursor on makes a session with that
intervention; held elements carry data-clamped and the held value; the line chart's faint
traces are the original run's and its difference is the server's h_new − h_orig."""

from __future__ import annotations

import numpy as np
import pytest
from gs_browser_helpers import DIAGRAM, diagram_state, hold, open_view, wait_t
from playwright.sync_api import expect

from tests.support import of_first_part

pytestmark = pytest.mark.browser

# the line chart of the charts on screen, its window and its traces, read at once
LINE = """() => { const charts = document.querySelector('#charts');
  const d = charts.querySelector('.chart-set.front .chart-row.line');
  return {start: +charts.dataset.start, stop: +charts.dataset.stop,
          traces: d.data.map(t => ({name: t.name, x0: t.x0, y: Array.from(t.y)}))}; }"""


def test_write_it_down_is_held_and_charted_against_the_original(page, errors, api):
    open_view(page, "?preset=counter&t=6")
    wait_t(page, 6)
    original = diagram_state(page)["session"]
    hold(page, "f", "1")
    wait_t(page, 6)
    hold(page, "i", "0")
    wait_t(page, 6)
    st = diagram_state(page)
    record = api("GET", f"/api/sessions/{st['session']}")
    steps = record["steps"]
    assert record["interventions"] == of_first_part([
        {"signal": "f", "start": 6, "stop": steps, "units": None, "value": 1.0},
        {"signal": "i", "start": 6, "stop": steps, "units": None, "value": 0.0}])
    valve = page.locator(f'{DIAGRAM} g[data-signal="f"][data-value]').first
    expect(valve).to_have_attribute("data-clamped", "true")
    expect(valve).to_have_attribute("data-held-value", "1")
    assert float(valve.get_attribute("data-value")) == 1.0
    assert "hold=" in page.url and f"orig={original}" in page.url
    # before the hold nothing is clamped
    page.locator(DIAGRAM).focus()
    page.keyboard.press("Home")
    wait_t(page, 0)
    expect(page.locator(f"{DIAGRAM} [data-clamped]")).to_have_count(0)

    chart = page.locator("#charts .chart-set.front .chart-row.line")
    expect(chart).to_have_attribute("data-overlay", original, timeout=10_000)
    expect(chart).to_have_attribute("data-difference", original)
    shown = page.evaluate(LINE)
    start, stop = shown["start"], shown["stop"]
    data = {d["name"]: d for d in shown["traces"]}
    assert data["h (original run)"]["x0"] == data["h (held)"]["x0"] == start
    unit = int(st["unit"])
    orig = api("GET", f"/api/sessions/{original}/trace?start={start}&stop={stop}&names=h")
    new = api("GET", f"/api/sessions/{st['session']}/trace?start={start}&stop={stop}&names=h")
    np.testing.assert_array_equal(data["h (original run)"]["y"],
                                  [row[unit] for row in orig["signals"]["h"]])
    np.testing.assert_array_equal(data["h (held)"]["y"], [row[unit] for row in new["signals"]["h"]])
    expected = (np.asarray(new["signals"]["h"], np.float32).astype(np.float64)
                - np.asarray(orig["signals"]["h"], np.float32))[:, unit]
    np.testing.assert_allclose(data["h_new − h_orig"]["y"], expected, rtol=1e-12, atol=1e-12)

    page.get_by_role("button", name="Release all").click()
    page.wait_for_function(f"() => document.querySelector('{DIAGRAM}')"
                           f".getAttribute('data-session') === '{original}'", timeout=20_000)
    expect(chart).to_have_attribute("data-overlay", "")
    assert [t["name"] for t in page.evaluate(LINE)["traces"]] == [f"c (unit {unit})",
                                                                f"h (unit {unit})"]


def test_key_h_on_a_focused_part_opens_the_hold_menu(page, errors):
    open_view(page, "?preset=counter&t=3")
    wait_t(page, 3)
    page.locator(f'{DIAGRAM} g[data-signal="o"][tabindex]').first.focus()
    page.keyboard.press("h")
    expect(page.get_by_label("Hold", exact=True)).to_have_value("o")
    expect(page.get_by_label("Held value")).to_be_focused()
