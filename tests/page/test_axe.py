"""axe-core, once over the page (issues 9, 14, 18, 19): no serious or critical violation in
a page state that shows every view at once — a tour step (the tour panel and its menu)
holding f and i in the counter (the what-if panel, the held diagram, the weight form with
a current value), the line chart overlaying the original run, the sensitivity view with
coloured pipes, a second cell compared beside it — and in every kind's diagram in each of
its styles and stages (the diagram is the one part that changes with the kind)."""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from gs_browser_helpers import DIAGRAM, open_view, serious_violations
from playwright.sync_api import expect

import cells

pytestmark = pytest.mark.browser

FRONT_LINE = "#charts .chart-set.front .chart-row.line"
# every kind (cells.KINDS) in every style it has, and two stages, at H = 3 (axe reads any
# page, whatever the kind's signals are)
KIND_VIEWS = [
    f"?cell={kind}&weights=seed&seed=1&hidden=3&text=abc" + ("&style=memory-cell" * (
        "c" in cells.kind_info(kind)["state"] and style == "memory-cell"))
    for kind in cells.KINDS for style in ("olah", "memory-cell")
    if style == "olah" or "c" in cells.kind_info(kind)["state"]
] + [
    "?cell=lstm&weights=seed&seed=1&hidden=3&text=abc&stage=write",
    "?cell=gru&weights=seed&seed=1&hidden=3&text=abc&stage=gates",
    "",
]


def show_every_view(page) -> None:
    """The write-it-down tour at its sensitivity step, with a GRU compared beside it and
    the pipes coloured by sensitivity; waits until every view has drawn."""
    page.goto("/?tour=write-it-down&tour_step=4")
    expect(page.locator("#tour")).to_have_attribute("data-state", "ready", timeout=30_000)
    expect(page.locator(f"{DIAGRAM} [data-clamped='true']").first).to_be_attached()
    page.wait_for_function(f"() => document.querySelector('{FRONT_LINE}')?.dataset.overlay",
                           timeout=20_000)
    page.get_by_label("Colour pipes by sensitivity").check()
    page.get_by_label("Compare with…").select_option("kind:gru")
    page.get_by_role("button", name="Compare", exact=True).click()
    expect(page.locator(DIAGRAM)).to_have_count(2, timeout=20_000)
    expect(page.locator('[data-view="sensitivity"] [data-step]').first).to_be_attached(
        timeout=20_000)
    expect(page.locator(DIAGRAM).first).not_to_have_attribute("data-t", "", timeout=20_000)
    expect(page.get_by_label("Current value", exact=True)).to_have_attribute(
        "data-value", re.compile(r"\d"), timeout=10_000)


def test_axe_finds_no_serious_violation_on_any_view(page, errors):
    axe = Axe()
    show_every_view(page)
    found = [f"every view: {line}" for line in serious_violations(axe.run(page))]
    for view in KIND_VIEWS:
        open_view(page, view)
        page.wait_for_selector("#charts .chart-set.front .chart-row .main-svg", state="attached")
        found += [f"{view or '/'}: {line}" for line in serious_violations(axe.run(page))]
    assert not found, "\n".join(found)
