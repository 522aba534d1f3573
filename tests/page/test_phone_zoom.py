"""A phone can read the diagram (issue 19, point 7): at 390×844 with touch, the buttons, a
pinch and ctrl + wheel zoom the diagram to readable labels, a drag pans it while zoomed (a
swipe steps only when it is not), and the zoomed diagram stays inside its own box — over no
control, the layout unmoved, no sideways scroll. Touches are real touch events (the
DevTools protocol's Input.dispatchTouchEvent), not calls into the page's code."""

from __future__ import annotations

import pytest
from gs_browser_helpers import DIAGRAM, open_view, wait_t
from playwright.sync_api import expect

pytestmark = pytest.mark.browser
HOST = "#diagram-host"

# on-screen font size (px) of every number label wholly inside the diagram's box
SHOWN_SIZES = """() => {
  const host = document.querySelector('#diagram-host').getBoundingClientRect();
  const out = [];
  for (const e of document.querySelectorAll('svg[data-diagram] text.value')) {
    const r = e.getBoundingClientRect(), b = e.getBBox();
    if (!e.textContent.trim() || !b.height || r.left < host.left || r.right > host.right
        || r.top < host.top || r.bottom > host.bottom) continue;
    out.push(parseFloat(getComputedStyle(e).fontSize) * r.height / b.height);
  }
  return out; }"""
RECT = ("sel => { const r = document.querySelector(sel).getBoundingClientRect();"
        " return [r.x, r.y, r.width, r.height]; }")
# the element at the centre of `sel` is it (or inside it): nothing is drawn over it
ON_TOP = """sel => { const e = document.querySelector(sel); const r = e.getBoundingClientRect();
  const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
  return Boolean(hit) && (hit === e || e.contains(hit)); }"""


@pytest.fixture
def phone(browser, base_url):
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                  is_mobile=True, has_touch=True, base_url=base_url)
    page = context.new_page()
    seen: list[str] = []
    page.on("pageerror", lambda exc: seen.append(str(exc)))
    page.on("console", lambda m: seen.append(m.text) if m.type == "error" else None)
    yield page
    context.close()
    assert seen == []


def gesture(page, start: list[tuple[float, float]], end: list[tuple[float, float]], moves: int = 8):
    """Fingers down at `start`, moved in steps to `end`, lifted (one touch sequence)."""
    cdp = page.context.new_cdp_session(page)

    def touch(kind: str, points: list[tuple[float, float]]) -> None:
        fingers = [{"x": x, "y": y, "id": n} for n, (x, y) in enumerate(points)]
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": fingers})

    touch("touchStart", start)
    for m in range(1, moves + 1):
        f = m / moves
        touch("touchMove", [(a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f)
                            for a, b in zip(start, end, strict=True)])
    touch("touchEnd", [])
    cdp.detach()


def zoom_of(page) -> float:
    return float(page.locator(HOST).get_attribute("data-zoom"))


def test_buttons_zoom_the_diagram_to_readable_labels_over_nothing(phone):
    page = phone
    open_view(page, "?preset=counter&t=6")
    wait_t(page, 6)
    page.locator(HOST).scroll_into_view_if_needed()
    before = page.evaluate(RECT, HOST)
    small = min(page.evaluate(SHOWN_SIZES))
    assert small < 11  # the whole diagram on a phone: too small to read
    for _ in range(5):
        if min(page.evaluate(SHOWN_SIZES)) >= 11:
            break
        page.get_by_role("button", name="Zoom in").click()
    sizes = page.evaluate(SHOWN_SIZES)
    assert len(sizes) >= 3 and min(sizes) >= 11, sizes
    expect(page.locator("#zoom-level")).to_have_text(f"{round(zoom_of(page) * 100)}%")
    # the diagram grew inside its box: the box, the page and the controls are as they were
    assert page.evaluate(RECT, HOST) == before
    assert page.evaluate("() => document.documentElement.scrollWidth <= innerWidth")
    for control in ("#step-forward", "#zoom-in", "#zoom-out", "#zoom-fit", "#time-step"):
        page.locator(control).scroll_into_view_if_needed()
        assert page.evaluate(ON_TOP, control), control
    svg = page.evaluate(RECT, DIAGRAM)
    assert svg[2] > before[2] * 1.4  # drawn larger than its box, the rest clipped
    page.get_by_role("button", name="Fit the diagram").click()
    assert zoom_of(page) == 1
    assert page.evaluate(RECT, DIAGRAM)[2] <= before[2] + 1


def test_drag_pans_pinch_zooms_and_a_swipe_steps_only_unzoomed(phone):
    page = phone
    open_view(page, "?preset=counter&t=6")
    wait_t(page, 6)
    page.locator(HOST).scroll_into_view_if_needed()
    x, y, w, h = page.evaluate(RECT, HOST)
    cx, cy = x + w / 2, y + h / 2
    # a pinch (two fingers apart) zooms about the point between them
    gesture(page, [(cx - 30, cy), (cx + 30, cy)], [(cx - 90, cy), (cx + 90, cy)])
    k = zoom_of(page)
    assert 2.5 <= k <= 3.5, k
    # one finger drags the zoomed diagram; the step does not change
    start = page.evaluate(RECT, DIAGRAM)
    gesture(page, [(cx, cy)], [(cx - 60, cy - 20)])
    moved = page.evaluate(RECT, DIAGRAM)
    assert moved[0] == pytest.approx(start[0] - 60, abs=1.5)
    assert moved[1] == pytest.approx(start[1] - 20, abs=1.5)
    wait_t(page, 6)
    # a pinch in goes back towards the whole diagram, never below it
    gesture(page, [(cx - 100, cy), (cx + 100, cy)], [(cx - 10, cy), (cx + 10, cy)])
    assert zoom_of(page) == 1
    # unzoomed, a swipe to the left steps forward, as before
    gesture(page, [(cx + 60, cy)], [(cx - 60, cy)])
    wait_t(page, 7)


def test_ctrl_wheel_zooms_under_the_pointer(page, errors):
    open_view(page, "?preset=counter&t=6")
    wait_t(page, 6)
    x, y, w, h = page.evaluate(RECT, HOST)
    page.mouse.move(x + w / 4, y + h / 4)
    page.mouse.wheel(0, 200)  # a plain wheel scrolls the page, never zooms
    assert zoom_of(page) == 1
    page.mouse.move(x + w / 4, y + h / 4)
    page.keyboard.down("Control")
    page.mouse.wheel(0, -300)
    page.keyboard.up("Control")
    page.wait_for_function(f"() => +document.querySelector('{HOST}').dataset.zoom > 1.5")
