"""Readable and usable (issue 9): numbers large enough at 1440 px, the "Selected" panel in
view while hovering at 1024×768, and a phone: no sideways scroll, a wide enough diagram,
controls a finger can hit, stepping by swipe."""

from __future__ import annotations

import pytest
from gs_browser_helpers import DIAGRAM, open_view, wait_t
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

# font size of every shown number, in screen pixels
VALUE_SIZES = """s => { const k = s.getScreenCTM().a;
  return Array.from(s.querySelectorAll('text.value'),
    e => parseFloat(getComputedStyle(e).fontSize) * k); }"""


def test_values_are_at_least_11px_at_1440(page, errors):
    page.set_viewport_size({"width": 1440, "height": 900})
    for view in [
        "?cell=lstm&weights=seed&seed=1&hidden=3&text=abc",
        "?cell=lstm&weights=seed&seed=1&hidden=3&text=abc&style=memory-cell",
        "?cell=pseudo_lstm&weights=seed&seed=1&hidden=3&text=abc",
        "?cell=gru&weights=seed&seed=1&hidden=3&text=abc",
    ]:
        open_view(page, view)
        sizes = page.locator(DIAGRAM).evaluate(VALUE_SIZES)
        assert sizes and min(sizes) >= 11, (view, min(sizes))


def test_selected_panel_is_in_view_while_hovering_at_1024(page, errors):
    page.set_viewport_size({"width": 1024, "height": 768})
    open_view(page)
    valve = page.locator(f'{DIAGRAM} .valve[data-signal="o"]')
    valve.scroll_into_view_if_needed()
    valve.hover()
    panel = page.locator("#focus-equation")
    expect(panel.locator(".focus-live")).to_have_attribute("data-signal", "o")
    box = panel.bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= 768, box
    assert box["x"] >= 0 and box["x"] + box["width"] <= 1024, box


def test_phone_no_sideways_scroll_wide_diagram_big_controls_swipe(page, errors):
    page.set_viewport_size({"width": 390, "height": 844})
    open_view(page, "?t=0")  # the swipes below count from step 0
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    assert page.locator(DIAGRAM).bounding_box()["width"] >= 360
    small = page.evaluate(
        """() => Array.from(document.querySelectorAll(
             'button, select, textarea, input:not([type=checkbox]):not([type=radio])'))
           .filter(e => e.offsetParent !== null && !e.closest('.visually-hidden'))
           .map(e => [e.id || e.textContent.trim() || e.name, e.getBoundingClientRect()])
           .filter(([, r]) => r.height < 44 || r.width < 44)
           .map(([n, r]) => `${n}: ${r.width}×${r.height}`)"""
    )
    assert not small, small
    boxes = page.evaluate(
        """() => Array.from(document.querySelectorAll('input[type=checkbox], input[type=radio]'))
           .filter(e => e.offsetParent !== null)
           .map(e => { const l = e.closest('label')
                         || document.querySelector(`label[for="${e.id}"]`);
                       return [e.id || e.value, Math.max(e.getBoundingClientRect().height,
                               l ? l.getBoundingClientRect().height : 0)]; })
           .filter(([, h]) => h < 44)"""
    )
    assert not boxes, boxes
    # a swipe to the left steps forward, to the right back
    host = page.locator("#diagram-host")
    box = host.bounding_box()
    y = box["y"] + box["height"] / 2

    def swipe(x0, x1):
        for kind, x in (("pointerdown", x0), ("pointerup", x1)):
            host.dispatch_event(
                kind,
                {
                    "pointerType": "touch",
                    "pointerId": 7,
                    "clientX": x,
                    "clientY": y,
                    "isPrimary": True,
                    "bubbles": True,
                },
            )

    swipe(box["x"] + 300, box["x"] + 100)
    wait_t(page, 1)
    swipe(box["x"] + 300, box["x"] + 200)
    wait_t(page, 2)
    swipe(box["x"] + 100, box["x"] + 300)
    wait_t(page, 1)
