"""Views within reach (issue 19, point 4): sensitivity, prediction, what if and side by side
sit beside the diagram at 1440×900 — each one button away, in the column to the diagram's
right, on screen, the page not scrolled — and right-clicking a valve brings the hold form
on screen (beside the diagram, or over the page's corner where the column is below it)
without moving the page."""

from __future__ import annotations

import pytest
from gs_browser_helpers import DIAGRAM, open_view, wait_t
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

BOX = "sel => { const r = document.querySelector(sel).getBoundingClientRect();" \
      " return {x: r.x, y: r.y, right: r.right, bottom: r.bottom, w: innerWidth, h: innerHeight}; }"

# each view of the dock: its button, the view and the control of it that must be on screen
VIEWS = [
    ("Sensitivity", ".sensitivity", '[data-view="sensitivity"] svg'),
    ("Prediction", ".prediction", "#prediction-top"),
    ("What if", ".whatif", "#hold-form"),
    ("Side by side", ".compare", "#compare-with"),
]


def inside(box: dict) -> bool:
    return (box["y"] >= 0 and box["x"] >= 0
            and box["bottom"] <= box["h"] and box["right"] <= box["w"])


def test_every_view_sits_beside_the_diagram_at_1440(page, errors):
    page.set_viewport_size({"width": 1440, "height": 900})
    # a model with a head, so that the prediction view is there too
    open_view(page, "?preset=long-memory-lstm&t=61")
    wait_t(page, 61)
    expect(page.locator('[data-view="prediction"]')).to_be_visible(timeout=20_000)
    diagram = page.evaluate(BOX, DIAGRAM)
    assert inside(diagram), diagram
    for name, view, control in VIEWS:
        button = page.get_by_role("button", name=name, exact=True)
        button.click()
        expect(button).to_have_attribute("aria-current", "true")
        box = page.evaluate(BOX, control)
        assert inside(box), (name, box)
        assert box["x"] >= diagram["right"], (name, box, diagram)  # beside, to its right
        assert box["y"] < diagram["bottom"], (name, box, diagram)  # level with it
        title = page.evaluate(BOX, f"{view} h2")
        assert inside(title), (name, title)
        assert page.evaluate("() => scrollY") == 0, name  # the page did not move
    assert inside(page.evaluate(BOX, DIAGRAM))


@pytest.mark.parametrize("size", [(1440, 900), (1024, 768), (390, 844)])
def test_right_click_on_a_valve_opens_the_hold_form_in_view(page, errors, size):
    page.set_viewport_size({"width": size[0], "height": size[1]})
    open_view(page, "?preset=counter&t=6")
    wait_t(page, 6)
    valve = page.locator(f'{DIAGRAM} g[data-signal="f"][data-value]:visible').first
    valve.scroll_into_view_if_needed()
    before = page.evaluate("() => scrollY")
    valve_box = valve.bounding_box()
    valve.click(button="right")
    expect(page.get_by_label("Hold", exact=True)).to_have_value("f")
    expect(page.get_by_label("Held value")).to_be_focused()
    assert page.evaluate("() => scrollY") == before  # no jump to a far form
    for control in ("#hold-value", "#hold-apply"):
        assert inside(page.evaluate(BOX, control)), (size, control)
    assert valve.bounding_box() == valve_box  # the valve stays where it was
    # the hold is made from there, and the page still has not moved
    page.get_by_label("Held value").fill("1")
    before_session = page.locator(DIAGRAM).get_attribute("data-session")
    page.locator("#hold-apply").click()
    page.wait_for_function(f"() => document.querySelector('{DIAGRAM}')"
                           f".getAttribute('data-session') !== '{before_session}'", timeout=20_000)
    held = page.locator(f'{DIAGRAM} g[data-signal="f"][data-clamped="true"]')
    expect(held.first).to_be_attached()
    assert page.evaluate("() => scrollY") == before
