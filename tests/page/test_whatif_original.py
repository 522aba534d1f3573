"""A what-if session always has its original run beside it (issue 14, point 3): a link with
holds or weight edits but no `orig` makes (or finds) the original, the same config without
them, so the line chart draws it faintly with the difference; live typing keeps the
original step for step; a form change to another cell releases the holds and edits with a
notice instead of a refused Run."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
from gs_browser_helpers import DIAGRAM, diagram_state, open_view, wait_t
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

FRONT_LINE = "#charts .chart-set.front .chart-row.line"
LINE = """() => { const charts = document.querySelector('#charts');
  const d = charts.querySelector('.chart-set.front .chart-row.line');
  return {start: +charts.dataset.start, stop: +charts.dataset.stop,
          overlay: d.dataset.overlay, difference: d.dataset.difference,
          traces: Object.fromEntries(d.data.map(t => [t.name, Array.from(t.y)]))}; }"""
HOLD_F = [{"signal": "f", "start": 6, "stop": 41, "units": None, "value": 1.0}]
NO_ERRORS = "() => Array.from(document.querySelectorAll('[data-error-for]'), e => e.textContent)"


def counter(api, **extra) -> dict:
    sample = next(p for p in api("GET", "/api/presets")["presets"]
                  if p["name"] == "counter")["sample"]
    return api("POST", "/api/sessions", {"preset": "counter", "sequence": {"text": sample},
                                         **extra})


def overlaid_line(page, held: str) -> dict:
    """The front line chart once it overlays some session other than `held`."""
    page.wait_for_function(
        """([sel, held]) => { const d = document.querySelector(sel);
        return d?.data && d.dataset.overlay && d.dataset.overlay !== held; }""",
        arg=[FRONT_LINE, held], timeout=20_000)
    return page.evaluate(LINE)


def column(api, sid: str, start: int, stop: int, name: str, unit: int) -> list[float]:
    got = api("GET", f"/api/sessions/{sid}/trace?start={start}&stop={stop}&names={name}")
    return [row[unit] for row in got["signals"][name]]


def check_original(page, api, held: dict, label: str) -> str:
    """The line chart overlays an original of `held`: a session of the same preset and text
    without holds or weight edits, whose c and h are the faint traces; its difference is
    drawn; the URL names it as orig. Returns its id."""
    line = overlaid_line(page, held["id"])
    orig = line["overlay"]
    record = api("GET", f"/api/sessions/{orig}")
    assert record["interventions"] == [] and record["weight_edits"] == []
    assert record["weights"] == held["weights"] and record["sequence"] == held["sequence"]
    assert line["difference"] == orig
    unit = diagram_state(page)["unit"]
    start, stop = line["start"], line["stop"]
    for name in ("c", "h"):
        np.testing.assert_array_equal(line["traces"][f"{name} (original run)"],
                                      column(api, orig, start, stop, name, unit))
        np.testing.assert_array_equal(line["traces"][f"{name} ({label})"],
                                      column(api, held["id"], start, stop, name, unit))
    page.wait_for_function("o => new URLSearchParams(location.search).get('orig') === o",
                           arg=orig, timeout=5_000)
    return orig


def test_held_session_link_without_orig_gets_its_original(page, errors, api):
    held = counter(api, interventions=HOLD_F)
    open_view(page, f"?session={held['id']}&t=8")
    wait_t(page, 8)
    check_original(page, api, held, "held")
    # a reload keeps the same original (found, not made again)
    url = page.url
    orig = parse_qs(urlparse(url).query)["orig"][0]
    page.goto(url)
    line = overlaid_line(page, held["id"])
    assert line["overlay"] == orig


def test_hold_link_without_session_or_orig_gets_its_original(page, errors, api):
    open_view(page, "?preset=counter&hold=f:1:6-41:all&t=8")
    wait_t(page, 8)
    sid = diagram_state(page)["session"]
    held = api("GET", f"/api/sessions/{sid}")
    assert [iv["signal"] for iv in held["interventions"]] == ["f"]
    check_original(page, api, held, "held")


def test_weight_edit_link_without_orig_gets_its_original(page, errors, api):
    edited = counter(api, weight_edits=[{"param": "weight_hh", "row": 4, "col": 1,
                                         "value": 2.5}])
    open_view(page, f"?session={edited['id']}&t=5")
    check_original(page, api, edited, "weights edited")


def test_live_typing_on_a_held_session_keeps_the_original_in_step(page, errors, api):
    orig = counter(api)
    held = counter(api, interventions=HOLD_F)
    open_view(page, f"?session={held['id']}&orig={orig['id']}&t=30")
    wait_t(page, 30)
    expect(page.locator(FRONT_LINE)).to_have_attribute("data-overlay", orig["id"],
                                                       timeout=20_000)
    page.get_by_label("Live: each character").check()
    box = page.get_by_label("Sequence", exact=True)
    box.click()
    box.press("End")
    box.press_sequentially(" (x)")
    steps = held["steps"] + 4
    wait_t(page, steps - 1)
    assert api("GET", f"/api/sessions/{held['id']}")["steps"] == steps
    grown = api("GET", f"/api/sessions/{orig['id']}")
    assert grown["steps"] == steps  # the original got the same text
    assert grown["sequence"]["text"] == orig["sequence"]["text"] + " (x)"
    page.wait_for_function(
        """([sel, stop]) => { const d = document.querySelector(sel);
        return document.querySelector('#charts').dataset.stop === String(stop)
          && d?.data?.some(t => t.name === 'h (original run)' && t.y.length === stop); }""",
        arg=[FRONT_LINE, steps], timeout=20_000)
    held_now = api("GET", f"/api/sessions/{held['id']}")
    assert check_original(page, api, held_now, "held") == orig["id"]
    assert page.evaluate(NO_ERRORS) == [""] * len(page.evaluate(NO_ERRORS))


def run_and_wait_new(page) -> str:
    old = diagram_state(page)["session"]
    page.get_by_role("button", name="Run").click()
    page.wait_for_function(f"old => document.querySelector('{DIAGRAM}').dataset.session "
                           "!== old", arg=old, timeout=20_000)
    return diagram_state(page)["session"]


def released(page) -> None:
    expect(page.locator("#session-notice")).to_contain_text("they were released")


def url_drops(page, keys: list[str]) -> None:
    """Wait until the URL (written at most every 200 ms) has none of `keys`."""
    page.wait_for_function("keys => keys.every(k => !new URLSearchParams(location.search)"
                           ".has(k))", arg=keys, timeout=5_000)


def test_another_kind_releases_the_holds(page, errors, api):
    orig = counter(api)
    held = counter(api, interventions=HOLD_F)
    open_view(page, f"?session={held['id']}&orig={orig['id']}&t=8")
    page.get_by_label("random", exact=True).check()  # another weights source
    released(page)
    page.get_by_label("Cell kind").select_option("rnn")  # an RNN has no f to hold
    sid = run_and_wait_new(page)
    made = api("GET", f"/api/sessions/{sid}")
    assert made["cell"] == "rnn" and made["interventions"] == []
    assert page.evaluate(NO_ERRORS) == [""] * len(page.evaluate(NO_ERRORS))
    url_drops(page, ["hold", "wedit", "orig"])
    expect(page.locator(FRONT_LINE)).to_have_attribute("data-overlay", "")


def test_another_preset_releases_the_weight_edits(page, errors, api):
    orig = counter(api)
    # column 40 of weight_ih: the counter reads 95 inputs, long-memory-lstm 15
    edited = counter(api, weight_edits=[{"param": "weight_ih", "row": 2, "col": 40,
                                         "value": 3.0}])
    open_view(page, f"?session={edited['id']}&orig={orig['id']}")
    page.locator("#preset").select_option("long-memory-lstm")
    released(page)
    sid = run_and_wait_new(page)
    made = api("GET", f"/api/sessions/{sid}")
    assert made["weights"] == {"preset": "long-memory-lstm"} and made["weight_edits"] == []
    assert page.evaluate(NO_ERRORS) == [""] * len(page.evaluate(NO_ERRORS))
    url_drops(page, ["hold", "wedit", "orig"])


def test_a_shorter_sequence_releases_holds_past_its_end(page, js_errors, api):
    held = counter(api, interventions=HOLD_F)  # held to step 40
    open_view(page, f"?session={held['id']}")
    overlaid_line(page, held["id"])
    page.get_by_label("Sequence", exact=True).fill("count (it)")  # 10 steps
    sid = run_and_wait_new(page)
    released(page)
    made = api("GET", f"/api/sessions/{sid}")
    assert made["steps"] == 10 and made["interventions"] == []
    assert page.evaluate(NO_ERRORS) == [""] * len(page.evaluate(NO_ERRORS))
    url_drops(page, ["hold", "orig"])


def test_a_refused_new_hold_is_shown_not_released(page, js_errors, api):
    """Only holds carried over (a link, a Run) are released: a new one the server refuses
    says why, next to the hold form (not under Run), and the session on screen stays."""
    open_view(page, "?preset=counter&t=6")
    wait_t(page, 6)
    before = diagram_state(page)["session"]
    page.get_by_label("Hold", exact=True).select_option("f")
    page.get_by_label("Held value").fill("2")  # a gate is in [0, 1]
    page.get_by_role("button", name="Hold from this step").click()
    beside_the_form = page.locator('#hold-form + [data-error-for="whatif"]')
    expect(beside_the_form).to_contain_text("outside the range of f")
    expect(page.locator('[data-error-for="general"]')).to_have_text("")
    expect(page.locator("#session-notice")).not_to_contain_text("released")
    assert diagram_state(page)["session"] == before
