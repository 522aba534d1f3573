"""What if, "Edit a weight" (issue 14, point 3): an edit applied through the form makes a
session with that weight changed (every step), kept in the URL across a reload; the
what-if chart's difference is the server's; "Reset weights" restores the original run;
the form is keyboard-operable and axe-core finds no serious violation."""

from __future__ import annotations

import re

import numpy as np
import pytest
from gs_browser_helpers import (
    DIAGRAM,
    diagram_state,
    open_view,
    wait_session_change,
    wait_t,
)
from playwright.sync_api import expect

from tests.support import of_first_part

pytestmark = pytest.mark.browser

# The difference view: the what-if panel's chart; where the line chart carries the what-if
# overlays instead (data-overlay, data-difference), that chart. Either draws the original
# run ("h (original run)") and the server's "h_new − h_orig" for the selected unit.
WHATIF_CHART = "#whatif-chart"
LINE_CHART = "#charts .chart-set.front .chart-row.line"
WHATIF_TRACES = """c => c.data.map(d => ({name: d.name, x0: d.x[0], y: Array.from(d.y)}))"""
LINE_TRACES = """c => c.data.map(d => ({name: d.name, x0: d.x0, y: Array.from(d.y)}))"""


def shown_difference(page, original: str) -> tuple[int, dict]:
    """(first step, {trace name: y}) of the difference view once it compares with
    `original`."""
    if page.locator(WHATIF_CHART).count():
        chart = page.locator(WHATIF_CHART)
        expect(chart).to_have_attribute("data-orig", original, timeout=10_000)
        traces = chart.evaluate(WHATIF_TRACES)
    else:
        chart = page.locator(LINE_CHART)
        expect(chart).to_have_attribute("data-difference", original, timeout=10_000)
        traces = chart.evaluate(LINE_TRACES)
    data = {d["name"]: d for d in traces}
    return int(data["h_new − h_orig"]["x0"]), {k: d["y"] for k, d in data.items()}


def expect_no_comparison(page) -> None:
    if page.locator(WHATIF_CHART).count():
        expect(page.locator(WHATIF_CHART)).to_be_hidden()
    else:
        expect(page.locator(LINE_CHART)).to_have_attribute("data-overlay", "")


def test_edit_a_weight_through_the_form_reload_and_reset(page, errors, api):
    open_view(page, "?preset=counter&t=6")
    wait_t(page, 6)
    original = diagram_state(page)["session"]
    record = api("GET", f"/api/sessions/{original}")
    H = record["hidden_size"]
    weight_ih = next(p for p in record["params"] if p["name"] == "weight_ih")
    f_block = weight_ih["blocks"].index("f")  # the server's gate order, not the test's
    row = f_block * H + 0
    col = record["vocabulary"].index("(")  # the counter's depth unit forgets at each "("

    page.get_by_label("Parameter", exact=True).select_option("weight_ih")
    page.get_by_label("Gate block", exact=True).select_option(str(f_block))
    page.get_by_label("Row", exact=True).fill("0")
    page.get_by_label("Column", exact=True).fill(str(col))
    expect(page.locator("#wedit-col-hint")).to_contain_text("input index")
    expect(page.locator("#wedit-col-hint")).to_contain_text("“(”")
    current = page.get_by_label("Current value", exact=True)
    before = api("GET", f"/api/sessions/{original}/weight?param=weight_ih&row={row}&col={col}")
    expect(current).to_have_attribute("data-value", re.compile("."), timeout=10_000)
    assert float(current.get_attribute("data-value")) == before["value"]
    new_value = page.get_by_label("New value", exact=True)
    new_value.fill("-40")
    new_value.press("Enter")  # the form submits from the keyboard
    wait_session_change(page, original)
    wait_t(page, 6)
    edited = diagram_state(page)["session"]
    assert api("GET", f"/api/sessions/{edited}")["weight_edits"] == of_first_part([
        {"param": "weight_ih", "row": row, "col": col, "value": -40.0}])
    expect(page).to_have_url(re.compile(f"wedit=weight_ih%3A{row}%3A{col}%3A-40(&|$)"))
    expect(page).to_have_url(re.compile(f"orig={original}"))
    expect(current).to_have_attribute("data-value", "-40", timeout=10_000)
    expect(current).to_contain_text("originally")
    expect(page.locator("#wedit-status")).to_contain_text("Edited (every step)")

    # the difference view charts the server's h_new − h_orig beside the original run (from
    # step 0: an edit is the cell's, for every step)
    start, data = shown_difference(page, original)
    assert start == 0
    stop = start + len(data["h_new − h_orig"])
    unit = int(diagram_state(page)["unit"])
    diff = api("GET", f"/api/sessions/{edited}/difference?from={original}&start={start}"
                      f"&stop={stop}&names=h")
    np.testing.assert_array_equal(data["h_new − h_orig"], [r[unit] for r in diff["signals"]["h"]])
    orig = api("GET", f"/api/sessions/{original}/trace?start={start}&stop={stop}&names=h")
    np.testing.assert_array_equal(data["h (original run)"], [r[unit] for r in orig["signals"]["h"]])
    assert np.abs(data["h_new − h_orig"]).max() > 0

    # a reload opens the same edited session, and the form says what is edited
    page.reload()
    page.wait_for_function(f"() => document.querySelector('{DIAGRAM}')"
                           f"?.getAttribute('data-session') === '{edited}'", timeout=20_000)
    expect(page.locator("#wedit-status")).to_contain_text(
        f"weight_ih[f block, unit 0; column {col}] = -40")
    shown_difference(page, original)

    page.get_by_role("button", name="Reset weights").click()
    page.wait_for_function(f"() => document.querySelector('{DIAGRAM}')"
                           f".getAttribute('data-session') === '{original}'", timeout=20_000)
    expect_no_comparison(page)
    expect(page.get_by_role("button", name="Reset weights")).to_be_disabled()
    expect(page).not_to_have_url(re.compile("wedit="))
    expect(page).not_to_have_url(re.compile("orig="))


def test_a_link_with_an_edit_makes_it_and_a_bad_one_is_named(page, errors, api):
    open_view(page, "?preset=counter&wedit=bias_hh:3::-1.25&t=2")
    session = diagram_state(page)["session"]
    assert api("GET", f"/api/sessions/{session}")["weight_edits"] == of_first_part([
        {"param": "bias_hh", "row": 3, "col": None, "value": -1.25}])
    # a 1-D parameter has no column: the control says so and is off
    page.get_by_label("Parameter", exact=True).select_option("bias_hh")
    expect(page.get_by_label("Column", exact=True)).to_be_disabled()
    expect(page.get_by_label("Gate block", exact=True)).to_be_enabled()
    # a value the page refuses before asking the server, at its field
    page.get_by_label("New value", exact=True).fill("<b>x</b>")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#wedit-error")).to_have_text("New value must be a number.")
    page.get_by_label("Row", exact=True).fill("999")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#wedit-error")).to_contain_text(
        "Row must be a whole number from 0 to 2 (the unit within")
    expect(page.get_by_label("Row", exact=True)).to_be_focused()
    assert diagram_state(page)["session"] == session
