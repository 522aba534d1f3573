"""The setup form's "Starting state": fields for h (and c) per layer and direction, as the
server says the cell takes them; a Run starts the session from what was typed (the
diagram's h_prev and c_prev at t = 0 carry those values as data-value, and every value
equals the trace); a state the server refuses is told beside its field, and nothing typed
is lost."""

from __future__ import annotations

import math

import pytest
from gs_browser_helpers import (
    DIAGRAM,
    check_values_against_trace,
    diagram_matches,
    diagram_state,
    open_view,
    run_new_session,
    set_unit,
    upload_model_and_run,
    wait_t,
    write_stacked_model,
)
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def pipe_value(page, signal: str) -> float:
    return float(page.locator(f'{DIAGRAM} [data-signal="{signal}"][data-value]').first
                 .get_attribute("data-value"))


def test_a_cell_starts_from_the_state_typed_and_refusals_stay_beside_the_field(page, api,
                                                                             js_errors):
    open_view(page, "?weights=seed&cell=lstm&hidden=3&seed=4&seq=text&text=abcab")
    page.locator("#start-state summary").click()
    h_field, c_field = page.get_by_label("h₀ (3 values)"), page.get_by_label("c₀ (3 values)")
    h_field.fill("0.5, -0.25 1")
    c_field.fill("0.125 0.25,0.375")
    sid = run_new_session(page)
    record = api("GET", f"/api/sessions/{sid}")
    assert record["state"] == {"h": [[0.5, -0.25, 1.0]], "c": [[0.125, 0.25, 0.375]]}
    expect(page.locator("#start-state-shown")).to_have_attribute(
        "data-state", "h:0.5,-0.25,1;c:0.125,0.25,0.375")
    wait_t(page, 0)
    for unit, (h, c) in enumerate([(0.5, 0.125), (-0.25, 0.25), (1.0, 0.375)]):
        set_unit(page, unit)
        assert math.isclose(pipe_value(page, "h_prev"), h, abs_tol=1e-6)
        assert math.isclose(pipe_value(page, "c_prev"), c, abs_tol=1e-6)
        assert {"h_prev", "c_prev"} <= check_values_against_trace(page, api)

    h_field.fill("1 2")  # one number short
    page.get_by_role("button", name="Run").click()
    error = page.locator("#start-h-0-forward-error")
    expect(error).to_contain_text("h0 row of layer 0 forward has shape (2,); that cell's h is "
                                  "3 finite numbers")
    expect(h_field).to_have_attribute("aria-invalid", "true")
    h_field.fill("1 x 2")
    expect(error).to_be_empty()  # typing clears the refusal until the next Run
    page.get_by_role("button", name="Run").click()
    expect(error).to_contain_text("value 1 ('x') is not a number")
    expect(h_field).to_have_value("1 x 2")  # nothing typed is lost
    expect(c_field).to_have_value("0.125 0.25,0.375")
    assert diagram_state(page)["session"] == sid  # the session on screen stays

    h_field.fill("zeros")
    c_field.fill("")
    plain = run_new_session(page)
    assert api("GET", f"/api/sessions/{plain}")["state"] is None
    expect(page.locator("#start-state-shown")).to_have_text(
        "The session on screen starts from zeros.")


def test_a_whole_model_takes_a_row_per_layer_and_direction(page, api, tmp_path, js_errors):
    weights, vocabulary = write_stacked_model(tmp_path)  # 2 layers × 2 directions, H = 5
    upload_model_and_run(page, weights, vocabulary, "a bad cab")
    page.locator("#start-state summary").click()
    fields = page.locator("#start-state-fields input")
    expect(fields).to_have_count(8)  # h and c of each of the four cells
    labels = page.locator("#start-state-fields label").all_text_contents()
    assert labels[:4] == [f"h₀ at L{layer} {d} (5 values)" for layer in (0, 1)
                          for d in ("forward", "backward")]
    given = [0.5, -0.5, 0.25, -0.25, 0.75]
    page.get_by_label("h₀ at L1 backward (5 values)").fill(" ".join(map(str, given)))
    sid = run_new_session(page)
    state = api("GET", f"/api/sessions/{sid}")["state"]
    assert state == {"h": [[0.0] * 5, [0.0] * 5, [0.0] * 5, given]}
    page.get_by_label("Layer", exact=True).select_option("1")
    page.get_by_label("Direction", exact=True).select_option("backward")
    expect(page.locator(DIAGRAM)).to_have_attribute("data-session", sid)
    diagram_matches(page, api, 1, "backward")
    first = api("GET", f"/api/sessions/{sid}/trace?start=0&stop=1&layer=1&direction=backward"
                       "&names=h_prev")["signals"]["h_prev"][0]
    assert first == given  # the backward cell's first step reads the state given
    page.get_by_label("h₀ at L1 backward (5 values)").fill("1 2 3")
    page.get_by_role("button", name="Run").click()
    expect(page.locator("#start-h-1-backward-error")).to_contain_text(
        "h0 row of layer 1 backward has shape (3,); that cell's h is 5 finite numbers")


def test_a_cell_whose_state_is_not_a_row_offers_no_field(page, errors):
    page.goto("/?weights=seed&cell=mamba&hidden=2&seq=text&text=abab")  # no diagram is asked
    page.locator("#start-state summary").click()
    expect(page.locator("#start-state-fields input")).to_have_count(0)
    expect(page.locator("#start-state-hint")).to_contain_text(
        "The server takes no starting state as rows of numbers for this cell")
