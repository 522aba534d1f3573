"""Every step of every tour shows what it talks about (issue 19, point 2): walked with Next at
1440×900 and 1024×768, each step's `data-tour-target` names an element that exists and is on screen
while the step shows — at least half of it (or half the screen's height, for one taller
than that) in the viewport and not under the tour's own panel. The tours are the server's
registry (GET /api/tours), not a list written here."""

from __future__ import annotations

import pytest
from gs_browser_helpers import DIAGRAM
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

# how much of the element's box the reader sees, per axis: inside the viewport and below
# the sticky tour panel (a line, of no width or height, counts as seen where it lies in
# the viewport); null when the element is missing or not rendered
SEEN = """sel => { const e = document.querySelector(sel);
  if (!e || !e.getClientRects().length) return null;
  const r = e.getBoundingClientRect();
  const panel = document.querySelector('#tour').getBoundingClientRect();
  const top = Math.max(0, panel.bottom > 0 ? panel.bottom : 0);
  const part = (lo, hi, min, max) => hi - lo > 0
    ? Math.max(0, Math.min(hi, max) - Math.max(lo, min)) / (hi - lo) : +(lo >= min && lo <= max);
  return {x: part(r.left, r.right, 0, innerWidth), y: part(r.top, r.bottom, top, innerHeight),
          height: r.height, viewport: innerHeight - top}; }"""


def on_screen(box: dict | None) -> bool:
    """At least half of it seen, or half the screen's height of one taller than that."""
    if not box:
        return False
    tall = box["y"] * box["height"] >= 0.5 * box["viewport"]
    return box["x"] >= 0.5 and (box["y"] >= 0.5 or tall)


@pytest.mark.parametrize("size", [(1440, 900), (1024, 768)])
def test_every_step_of_every_tour_shows_its_target(page, errors, api, size):
    page.set_viewport_size({"width": size[0], "height": size[1]})
    tours = api("GET", "/api/tours")
    assert tours
    walked = 0
    for tour in tours:
        page.goto(f"/?tour={tour['name']}")
        for k, step in enumerate(tour["steps"]):
            if k:
                page.get_by_role("button", name="Next", exact=True).click()
            shown = page.locator(f"[data-tour-step='{k}']")
            expect(shown).to_have_text(step["text"], timeout=20_000)
            expect(page.locator("#tour")).to_have_attribute("data-state", "ready", timeout=30_000)
            if "t" in step["view"]:
                expect(page.locator(DIAGRAM).first).to_have_attribute("data-t",
                                                                    str(step["view"]["t"]))
            target = shown.get_attribute("data-tour-target")
            assert target == step.get("target", DIAGRAM), (tour["name"], k)
            box = page.evaluate(SEEN, target)
            assert on_screen(box), (tour["name"], k, target, box)
            walked += 1
    assert walked == sum(len(t["steps"]) for t in tours)
