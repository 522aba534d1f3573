"""Whole models on the page (issue 12): a stacked bidirectional text model written by torch,
uploaded with its vocabulary through the page; the Layer and Direction pickers switch the
diagram (its data-values are the trace route's for that layer and direction), the
prediction view's numbers are the trace route's probabilities, and axe-core finds no
serious violation in it."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from gs_browser_helpers import (
    DIAGRAM,
    MODEL_TEXT,
    diagram_matches,
    diagram_state,
    hold,
    open_view,
    part_trace,
    prediction_matches,
    serious_violations,
    upload_model_and_run,
    wait_t,
    write_stacked_model,
)
from playwright.sync_api import expect

pytestmark = pytest.mark.browser
TEXT = MODEL_TEXT


@pytest.fixture
def model_files(tmp_path):
    return write_stacked_model(tmp_path)


def test_stacked_bidirectional_model_through_the_page(page, errors, api, model_files):
    weights, vocabulary = model_files
    sid = upload_model_and_run(page, weights, vocabulary, TEXT)
    record = api("GET", f"/api/sessions/{sid}")
    assert record["layers"] == 2 and record["directions"] == ["forward", "backward"]

    layer = page.get_by_label("Layer", exact=True)
    direction = page.get_by_label("Direction", exact=True)
    expect(layer).to_be_visible()
    expect(direction).to_be_visible()
    page.get_by_role("button", name="Step forward").click()
    page.get_by_role("button", name="Step forward").click()
    wait_t(page, 2)
    assert {"f", "i", "o", "c"} <= diagram_matches(page, api, 0, "forward")
    prediction_matches(page, api, sid, 2)

    layer.select_option("1")
    expect(page.locator(DIAGRAM)).to_contain_text("of layer 0")  # x_t is h_t of layer 0
    diagram_matches(page, api, 1, "forward")
    direction.select_option("backward")
    expect(page.locator("#direction-note")).to_contain_text("from the end")
    diagram_matches(page, api, 1, "backward")
    # the backward cell's step 2 reads time T-1-2: the prediction shown is of that time
    prediction_matches(page, api, sid, len(TEXT) - 1 - diagram_state(page)["t"])
    layer.select_option("0")
    diagram_matches(page, api, 0, "backward")
    page.wait_for_function(  # the picked part is in the link
        "() => new URLSearchParams(location.search).get('direction') === 'backward'")

    page.wait_for_selector("#prediction-heatmap .main-svg", state="attached")
    result = Axe().run(page, context='[data-view="prediction"]')
    bad = serious_violations(result)
    assert not bad, "\n".join(bad)


def test_single_cell_sessions_hide_the_pickers(page, errors):
    open_view(page, "?cell=lstm&weights=seed&seed=3&hidden=4&text=hello")
    expect(page.get_by_label("Layer", exact=True)).to_be_hidden()
    expect(page.locator('[data-view="prediction"]')).to_be_hidden()


def test_what_if_in_the_upper_layer_of_a_model(page, errors, api, model_files):
    weights, vocabulary = model_files
    original = upload_model_and_run(page, weights, vocabulary, TEXT)
    page.get_by_label("Layer", exact=True).select_option("1")
    expect(page.locator(DIAGRAM)).to_contain_text("of layer 0")
    for _ in range(3):
        page.get_by_role("button", name="Step forward").click()
    wait_t(page, 3)

    hold(page, "f", "1")
    wait_t(page, 3)
    sid = diagram_state(page)["session"]
    record = api("GET", f"/api/sessions/{sid}")
    assert record["interventions"] == [{"signal": "f", "start": 3, "stop": len(TEXT),
                                        "units": None, "value": 1.0, "layer": 1,
                                        "direction": "forward"}]
    expect(page.get_by_label("Layer", exact=True)).to_have_value("1")
    valve = page.locator(f'{DIAGRAM} g[data-signal="f"][data-value]').first
    expect(valve).to_have_attribute("data-clamped", "true")
    expect(valve).to_have_attribute("data-held-value", "1")
    assert float(valve.get_attribute("data-value")) == 1.0
    diagram_matches(page, api, 1, "forward")  # the held session's numbers, shown
    prediction_matches(page, api, sid, 3)  # the head reads the held layer
    # the held run's probabilities differ from the original's: the hold reached the head
    held = part_trace(api, sid, 5, 0, "forward", names="probs")["probs"][0]
    plain = part_trace(api, original, 5, 0, "forward", names="probs")["probs"][0]
    assert max(abs(a - b) for a, b in zip(held, plain, strict=True)) > 1e-4

    # another cell of the model is not the held one: nothing marked there
    page.get_by_label("Layer", exact=True).select_option("0")
    diagram_matches(page, api, 0, "forward")
    expect(page.locator(f"{DIAGRAM} [data-clamped]")).to_have_count(0)
