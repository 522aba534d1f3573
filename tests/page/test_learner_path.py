"""The learner's path (issue 19): the first page says what to do with the preset's story
in view and Run on screen; a "Tours" menu lists every tour and a chosen step brings the
element it talks about on screen; Space presses a focused button; a skip link reaches the
diagram."""

from __future__ import annotations

import re

import pytest
from gs_browser_helpers import DIAGRAM, diagram_state, open_view, wait_t
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

IN_VIEWPORT = """sel => { const e = document.querySelector(sel); if (!e) return false;
  const r = e.getBoundingClientRect();
  return r.bottom > 0 && r.right > 0 && r.top < innerHeight && r.left < innerWidth; }"""


@pytest.mark.parametrize("size", [(1440, 900), (1024, 768)])
def test_first_contact_says_what_to_do_with_run_on_screen(page, errors, size):
    page.set_viewport_size({"width": size[0], "height": size[1]})
    open_view(page, "")
    cta = page.locator("#call-to-action")
    expect(cta).to_be_visible()
    for word in ("Step forward", "Play", "Tours"):
        expect(cta).to_contain_text(word)
    expect(page.locator("#preset-description")).to_be_visible()  # the preset's story
    assert page.evaluate(IN_VIEWPORT, "#run"), "Run is below the fold"
    assert page.evaluate(IN_VIEWPORT, "#call-to-action")


def test_the_tours_menu_lists_every_tour_and_opens_one(page, errors, api):
    tours = api("GET", "/api/tours")
    open_view(page, "")
    page.get_by_label("Tours", exact=True).click()
    items = page.locator("[data-tour-name]")
    expect(items).to_have_count(len(tours))
    for tour in tours:
        item = page.locator(f"[data-tour-name='{tour['name']}']")
        expect(item).to_contain_text(tour["title"])
        expect(item).to_contain_text(f"{len(tour['steps'])} steps")
    last = tours[-1]
    page.locator(f"[data-tour-name='{last['name']}']").click()
    expect(page.locator("[data-tour-name]").first).to_be_hidden()
    step = page.locator("[data-tour-step='0']")
    expect(step).to_have_text(last["steps"][0]["text"], timeout=20_000)
    expect(page.locator("#tour")).to_have_attribute("data-state", "ready", timeout=30_000)
    target = step.get_attribute("data-tour-target")
    assert target == last["steps"][0].get("target", DIAGRAM)
    assert page.evaluate(IN_VIEWPORT, target)
    page.wait_for_function(f"() => location.search.includes('tour={last['name']}')")


def test_space_on_a_focused_button_presses_it(page, errors):
    open_view(page, "?preset=counter")
    wait_t(page, 0)
    page.get_by_role("button", name="Step forward").focus()
    page.keyboard.press("Space")
    wait_t(page, 1)
    page.keyboard.press("Space")
    wait_t(page, 2)
    expect(page.get_by_role("button", name="Play")).to_be_visible()  # it did not play


def test_a_skip_link_reaches_the_diagram(page, errors):
    open_view(page, "?preset=counter")
    page.keyboard.press("Tab")
    link = page.get_by_role("link", name="Skip to the diagram")
    expect(link).to_be_focused()
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "diagram-host"
    page.keyboard.press("Tab")
    assert page.evaluate(f"() => Boolean(document.activeElement.closest('{DIAGRAM}'))")
    assert diagram_state(page)["t"] == 0


def test_a_held_signal_says_so_with_what_the_cell_would_compute(page, errors, api):
    """f held at 1 from step 6: at step 8 the Selected panel, the equation list, the valve's
    spoken name and nothing else say "held" with the run without holds' σ(f_pre) = f, as
    that run's trace has them (the page computes none of it)."""
    open_view(page, "?preset=counter&t=8&signal=f&hold=f:1:6-41:all")
    wait_t(page, 8)
    page.wait_for_function("() => new URLSearchParams(location.search).get('orig')")
    orig = page.evaluate("() => new URLSearchParams(location.search).get('orig')")
    unit = diagram_state(page)["unit"]
    row = api("GET", f"/api/sessions/{orig}/trace?start=8&stop=9&names=f,f_pre")["signals"]

    def shown(v: float) -> str:
        return f"{v:.4f}".replace("-", "−")

    note = (f"(held; the cell would compute σ({shown(row['f_pre'][0][unit])}) = "
            f"{shown(row['f'][0][unit])} in the run without holds)")
    expect(page.locator(".focus-live")).to_contain_text(f"= 1.0000 {note}")
    expect(page.locator("#equation-list li[data-signal='f'] .eq-live")).to_contain_text(note)
    valve = page.locator(f'{DIAGRAM} [data-signal="f"][role="img"]').first
    spoken = re.compile(rf"\[{unit}\] = 1\.000 {re.escape(note)}$")
    expect(valve).to_have_attribute("aria-label", spoken)
    # before the hold starts nothing is held
    page.get_by_label("Time step").fill("5")
    wait_t(page, 5)
    expect(page.locator(".focus-live")).not_to_contain_text("held")


def test_a_tour_step_that_compares_shows_the_cells_side_by_side(page, errors, api):
    tour = next(t for t in api("GET", "/api/tours") if t["name"] == "vanishing-sensitivity")
    k = next(n for n, s in enumerate(tour["steps"]) if s["view"].get("compare"))
    page.goto(f"/?tour=vanishing-sensitivity&tour_step={k}")
    expect(page.locator("#tour")).to_have_attribute("data-state", "ready", timeout=30_000)
    diagrams = page.locator(DIAGRAM)
    expect(diagrams).to_have_count(len(tour["steps"][k]["view"]["compare"]), timeout=20_000)
    main, other = diagrams.nth(0).bounding_box(), diagrams.nth(1).bounding_box()
    assert other["x"] >= main["x"] + main["width"] - 1, (main, other)  # beside, not below
    assert other["y"] < main["y"] + main["height"], (main, other)
    for n in range(2):
        assert diagrams.nth(n).evaluate("e => { const r = e.getBoundingClientRect();"
                                        " return r.top < innerHeight && r.bottom > 0; }")
