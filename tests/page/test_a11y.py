"""Accessible (issue 9): the diagram by keyboard with names that say their values, one
sentence per step, a visible focus ring and reduced motion (axe-core: test_axe.py)."""

from __future__ import annotations

import re

import pytest
from gs_browser_helpers import DIAGRAM, diagram_state, open_view, wait_t
from playwright.sync_api import expect

pytestmark = pytest.mark.browser
VIEW = "?cell=lstm&weights=seed&seed=3&hidden=4&text=hello&t=2&unit=1"


def focused(page) -> dict:
    return page.evaluate(
        "() => { const e = document.activeElement;"
        " return {signal: e.dataset?.signal ?? null, name: e.getAttribute('aria-label'),"
        " inDiagram: Boolean(e.closest && e.closest('svg[data-diagram]'))}; }"
    )


def test_diagram_parts_by_keyboard_say_their_values(page, errors, api):
    open_view(page, VIEW)
    wait_t(page, 2)
    page.get_by_label("Diagram style").focus()
    for _ in range(8):  # Tab leaves the toolbar and enters the diagram
        page.keyboard.press("Tab")
        if focused(page)["inDiagram"]:
            break
    assert focused(page)["inDiagram"], "Tab never reached the diagram"
    sid = diagram_state(page)["session"]
    trace = api("GET", f"/api/sessions/{sid}/trace?start=2&stop=3")["signals"]
    seen = set()
    for _ in range(12):
        f = focused(page)
        assert f["inDiagram"]
        m = re.search(r"\[1\] = (−?[\d.]+)$", f["name"] or "")
        assert m, f["name"]
        value = trace[f["signal"]][0][1]
        if "1 − " in f["name"]:
            value = 1 - value
        assert float(m.group(1).replace("−", "-")) == pytest.approx(value, abs=6e-4), f["name"]
        seen.add(f["signal"])
        page.keyboard.press("ArrowRight")
    assert {"f", "i", "o", "c"} <= seen, seen
    assert diagram_state(page)["t"] == 2  # arrows inside the diagram move, they do not step
    # the focused part's equation is the one shown under "Selected"
    label = page.locator(f"{DIAGRAM} [data-signal='{focused(page)['signal']}']").first
    assert label.count() == 1
    expect(page.locator(".focus-live")).to_have_attribute("data-signal", focused(page)["signal"])


def test_each_step_is_said_in_one_sentence(page, errors, api):
    open_view(page, VIEW)
    page.get_by_role("button", name="Step forward").click()
    wait_t(page, 3)
    region = page.locator("#announce")
    expect(region).to_have_attribute("aria-live", "polite")
    expect(region).to_contain_text("Step 3 of 4, input “l”; unit 1: c_t = ")
    assert region.inner_text().count(".") >= 1 and "h_t = " in region.inner_text()


def contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    def lum(c):
        ch = [v / 255 for v in c]
        ch = [v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in ch]
        return 0.2126 * ch[0] + 0.7152 * ch[1] + 0.0722 * ch[2]

    hi, lo = sorted([lum(a), lum(b)], reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_focus_ring_contrast(page, errors):
    open_view(page, VIEW)
    page.get_by_role("button", name="Step back").focus()
    page.keyboard.press("Tab")  # keyboard focus: :focus-visible
    colour = page.evaluate("() => getComputedStyle(document.activeElement).outlineColor")
    rgb = tuple(int(x) for x in re.findall(r"\d+", colour)[:3])
    for background in [(255, 255, 255), (244, 246, 249)]:
        assert contrast(rgb, background) >= 3.0, (colour, background)


def test_reduced_motion_is_honoured(page, errors):
    page.emulate_media(reduced_motion="reduce")
    open_view(page, VIEW)
    page.get_by_label("Stage by stage").check()
    page.get_by_role("button", name="Step forward").click()
    animation = page.locator(f"{DIAGRAM} .active .flow").first.evaluate(
        "e => getComputedStyle(e).animationName"
    )
    assert animation == "none"
