"""The kinds after the LSTM in the page (minGRU, minLSTM, sLSTM): each drawn with every
data-value equal to the engine's trace, the parallel-check badge showing the server's
number, no label overlapping another or crossed by a pipe, axe-clean."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from gs_browser_helpers import (
    DIAGRAM,
    check_values_against_trace,
    diagram_state,
    open_view,
    serious_violations,
    svg_text,
    wait_t,
)
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

CASES = [("min_gru", ""), ("min_lstm", ""), ("min_lstm", "&normalize=false"),
         ("slstm", ""), ("slstm", "&heads=2"), ("slstm", "&style=memory-cell"),
         ("slstm", "&heads=4&style=memory-cell")]
LABELS = {
    "min_gru": ["σ", "g", "+", "ht−1", "ht", "xt", "no feedback", "1 − zt"],
    "min_lstm": ["σ", "g", "+", "ht−1", "ht", "xt", "no feedback"],
    "slstm": ["exp", "tanh", "ct−1", "ct", "nt", "mt", "ht", "xt", "÷"],
}
OVERLAP_JS = (Path(__file__).parent / "overlap.js").read_text()


@pytest.mark.parametrize(("kind", "extra"), CASES, ids=[k + e.replace("&", "-") for k, e in CASES])
def test_each_new_kind_is_drawn_with_the_engines_values(page, errors, api, artifacts_dir,
                                                        kind, extra):
    open_view(page, f"?cell={kind}&weights=seed&seed=3&hidden=6&text=hello%20(world)&t=2{extra}")
    svg = page.locator(DIAGRAM)
    expect(svg).to_have_attribute("data-cell", kind)
    wait_t(page, 2)
    checked = check_values_against_trace(page, api)
    page.get_by_role("button", name="Step forward").click()
    wait_t(page, 3)
    page.get_by_label("Unit").fill("4")
    page.get_by_label("Unit").press("Enter")
    expect(svg).to_have_attribute("data-unit", "4")
    checked |= check_values_against_trace(page, api)
    session = api("GET", f"/api/sessions/{diagram_state(page)['session']}")
    for item in extra[1:].split("&") if extra else ():
        name, value = item.split("=")
        if name == "style":
            expect(svg).to_have_attribute("data-diagram", value)
        else:
            assert str(session["options"][name]).lower() == value
    drawn = {s["name"] for s in session["signals"] if s["size"] == "hidden" and s["kind"] != "pre"}
    assert not drawn - checked, f"signals drawn without a data-value: {drawn - checked}"
    text = svg_text(page)
    for label in LABELS[kind]:
        assert label in text, f"{kind}: label {label!r} missing"
    badge = page.locator('[data-view="parallel-check"]')
    if kind in ("min_gru", "min_lstm"):
        expect(badge).to_be_visible()
        expect(badge).to_contain_text("parallel = step by step ✓")
        shown = float(badge.get_attribute("data-value"))
        assert math.isclose(shown, session["parallel_max_abs_diff"], rel_tol=0, abs_tol=0)
        assert shown < 1e-5
    else:
        expect(badge).to_have_count(0)
    found = svg.evaluate(OVERLAP_JS)
    page.screenshot(path=artifacts_dir / f"diagram-{kind}{extra.replace('&', '-')}.png",
                    full_page=True)
    assert not found, found


def test_new_kinds_at_other_sizes_have_no_overlap(page, errors):
    problems = []
    for kind, extra in CASES:
        for hidden in (1, 64):
            open_view(page, f"?cell={kind}&weights=seed&seed=4&hidden={hidden}&text=a%20b"
                            f"&t=1{extra}")
            wait_t(page, 1)
            problems += [f"{kind}{extra}/H={hidden}: {p}"
                         for p in page.locator(DIAGRAM).evaluate(OVERLAP_JS)]
    assert not problems, "\n".join(problems)


def test_new_kinds_are_axe_clean(page, errors):
    for kind in ("min_lstm", "slstm"):
        open_view(page, f"?cell={kind}&weights=seed&seed=3&hidden=4&text=ab&t=1")
        wait_t(page, 1)
        assert serious_violations(Axe().run(page)) == []
