"""What if, weights, in a model session (issue 14, point 3): with Layer 1 drawn, "Edit a
weight" edits that layer's cell (its parameters from that cell's record); the URL carries
the edit with its layer and direction; the line chart's difference (data-difference) is
the difference route's for that layer, and the prediction view's numbers are the trace
route's of the edited session."""

from __future__ import annotations

import re

import numpy as np
import pytest
from gs_browser_helpers import (
    DIAGRAM,
    MODEL_TEXT,
    diagram_matches,
    diagram_state,
    prediction_matches,
    upload_model_and_run,
    wait_session_change,
    wait_t,
    write_stacked_model,
)
from playwright.sync_api import expect

pytestmark = pytest.mark.browser
TEXT = MODEL_TEXT


@pytest.fixture
def model_files(tmp_path):
    return write_stacked_model(tmp_path)

FRONT_LINE = "#charts .chart-set.front .chart-row.line"
LINE = """() => { const charts = document.querySelector('#charts');
  const d = charts.querySelector('.chart-set.front .chart-row.line');
  return {start: +charts.dataset.start, stop: +charts.dataset.stop,
          difference: d.dataset.difference,
          traces: d.data.map(t => ({name: t.name, x0: t.x0, y: Array.from(t.y)}))}; }"""


def test_edit_a_weight_of_the_upper_layer_of_a_model(page, errors, api, model_files):
    original = upload_model_and_run(page, *model_files, TEXT)
    record = api("GET", f"/api/sessions/{original}")
    page.get_by_label("Layer", exact=True).select_option("1")
    expect(page.locator(DIAGRAM)).to_contain_text("of layer 0")
    for _ in range(3):
        page.get_by_role("button", name="Step forward").click()
    wait_t(page, 3)

    # the form lists layer 1's parameters: its weight_ih reads both directions of layer 0
    cell = next(c for c in record["cells"][1] if c["direction"] == "forward")
    H = cell["hidden_size"]
    weight_ih = next(p for p in cell["params"] if p["name"] == "weight_ih")
    assert weight_ih["shape"][1] == 2 * H
    page.get_by_label("Parameter", exact=True).select_option("weight_ih")
    expect(page.get_by_label("Parameter", exact=True)).to_contain_text(
        f"weight_ih ({4 * H} × {2 * H})")
    f_block = weight_ih["blocks"].index("f")  # the server's gate order, not the test's
    unit = int(diagram_state(page)["unit"])
    row, col = f_block * H + unit, 2 * H - 1  # a column only layer 1 has
    page.get_by_label("Gate block", exact=True).select_option(str(f_block))
    page.get_by_label("Row", exact=True).fill(str(unit))
    page.get_by_label("Column", exact=True).fill(str(col))
    expect(page.locator("#wedit-col-hint")).to_contain_text("h of layer 0")
    current = page.get_by_label("Current value", exact=True)
    before = api("GET", f"/api/sessions/{original}/weight?param=weight_ih&row={row}&col={col}"
                        "&layer=1&direction=forward")
    expect(current).to_have_attribute("data-value", str(before["value"]), timeout=10_000)
    new_value = page.get_by_label("New value", exact=True)
    new_value.fill("-6")
    new_value.press("Enter")
    wait_session_change(page, original)
    wait_t(page, 3)
    edited = diagram_state(page)["session"]
    assert api("GET", f"/api/sessions/{edited}")["weight_edits"] == [
        {"param": "weight_ih", "row": row, "col": col, "value": -6.0, "layer": 1,
         "direction": "forward"}]
    expect(page.get_by_label("Layer", exact=True)).to_have_value("1")
    expect(page).to_have_url(re.compile(f"wedit=weight_ih%3A{row}%3A{col}%3A-6%3A1%3Aforward"
                                        "(&|$)"))
    expect(current).to_have_attribute("data-value", "-6", timeout=10_000)
    expect(page.locator("#wedit-status")).to_contain_text(
        f"weight_ih[f block, unit {unit}; column {col}] = -6 in layer 1, forward")
    diagram_matches(page, api, 1, "forward")  # the edited session's numbers, shown

    # the line chart's difference: the difference route's at layer 1, for the unit shown
    page.wait_for_function(
        """([sel, orig]) => { const d = document.querySelector(sel);
        return d?.data && d.dataset.difference === orig
          && d.data.some(t => t.name === 'h_new − h_orig'); }""",
        arg=[FRONT_LINE, original], timeout=20_000)
    line = page.evaluate(LINE)
    diff = next(t for t in line["traces"] if t["name"] == "h_new − h_orig")
    start, stop = int(diff["x0"]), int(diff["x0"]) + len(diff["y"])
    assert start == line["start"] == 0 and stop > 3
    unit = int(diagram_state(page)["unit"])
    want = api("GET", f"/api/sessions/{edited}/difference?from={original}&start={start}"
                      f"&stop={stop}&names=h&layer=1&direction=forward")["signals"]["h"]
    np.testing.assert_array_equal(diff["y"], [r[unit] for r in want])
    assert np.abs(diff["y"]).max() > 0
    # the prediction view: the trace route's probabilities of the edited session
    prediction_matches(page, api, edited, 3)

    # layer 0 was not edited: its form shows no edit of its own and its numbers are its own
    page.get_by_label("Layer", exact=True).select_option("0")
    diagram_matches(page, api, 0, "forward")
    expect(page.get_by_label("Parameter", exact=True)).to_contain_text(
        f"weight_ih ({4 * H} × {record['cells'][0][0]['input_size']})")
