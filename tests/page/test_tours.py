"""Guided tours (issue 14, point 4): every step of every tour opens (its text in
[data-tour-step], its cursor on the diagram), names only elements that exist, and Next /
Back (buttons and keys) move; each step is a URL state."""

from __future__ import annotations

import pytest
from gs_browser_helpers import DIAGRAM
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def wait_step(page, k: int, step: dict) -> None:
    expect(page.locator(f"[data-tour-step='{k}']")).to_have_text(step["text"], timeout=20_000)
    expect(page.locator("#tour")).to_have_attribute("data-state", "ready", timeout=30_000)
    view = step["view"]
    if "t" in view:
        expect(page.locator(DIAGRAM).first).to_have_attribute("data-t", str(view["t"]),
                                                            timeout=20_000)
    if "unit" in view:
        expect(page.locator(DIAGRAM).first).to_have_attribute("data-unit", str(view["unit"]))
    count = 1 + len(view["compare"][1:]) if view.get("compare") else 1
    expect(page.locator(DIAGRAM)).to_have_count(count, timeout=20_000)
    for name in step["names"]:
        assert page.locator(f'{DIAGRAM} [data-signal="{name}"]').count() > 0, (k, name)


def test_every_tour_step_opens_and_next_back_move(page, errors, api):
    for tour in api("GET", "/api/tours"):
        page.goto(f"/?tour={tour['name']}")
        steps = tour["steps"]
        for k, step in enumerate(steps):
            wait_step(page, k, step)
            page.wait_for_function(f"() => location.search.includes('tour_step={k}')"
                                   if k else "() => location.search.includes('tour=')")
            if step["view"].get("hold"):
                expect(page.locator(f"{DIAGRAM} [data-clamped='true']").first).to_be_attached()
            if k < len(steps) - 1:
                page.get_by_role("button", name="Next", exact=True).click()
        expect(page.get_by_role("button", name="Next", exact=True)).to_be_disabled()
        page.get_by_role("button", name="Back", exact=True).click()
        wait_step(page, len(steps) - 2, steps[-2])
        page.locator("body").press("n")  # the key moves on too
        wait_step(page, len(steps) - 1, steps[-1])


def test_a_step_link_opens_that_step(page, errors, api):
    tour = next(t for t in api("GET", "/api/tours") if t["name"] == "write-it-down")
    page.goto("/?tour=write-it-down&tour_step=3")
    wait_step(page, 3, tour["steps"][3])
    valve = page.locator(f'{DIAGRAM} g[data-signal="f"][data-value]').first
    expect(valve).to_have_attribute("data-clamped", "true")
    page.locator("body").press("b")
    wait_step(page, 2, tour["steps"][2])
