"""Overlays in the page's charts (issue 14, points 2 and 3): the line chart draws other runs
faintly over the same window as the run on screen — a what-if's original run (with the
server's h_new − h_orig), the other sessions of a compare — each equal to that session's
trace route over the window, through window slides (urgent and prepared ahead), unit
changes and keys; the cursor still moves without a Plotly call; axe-core finds no serious
violation with overlays shown."""

from __future__ import annotations

import numpy as np
import pytest
from gs_browser_helpers import (
    DIAGRAM,
    count_plotly_calls,
    open_view,
    settled_draws,
    wait_t,
)
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

FRONT_LINE = "#charts .chart-set.front .chart-row.line"
BACK_LINE = "#charts .chart-set.back .chart-row.line"
# the front line chart: its window, what it overlays and its traces, read in one go
LINE = """() => { const charts = document.querySelector('#charts');
  const d = charts.querySelector('.chart-set.front .chart-row.line');
  return {start: +charts.dataset.start, stop: +charts.dataset.stop,
          overlay: d.dataset.overlay, difference: d.dataset.difference,
          traces: d.data.map(t => ({name: t.name, x0: t.x0, dx: t.dx, y: Array.from(t.y),
            axis: t.yaxis ?? 'y', opacity: t.opacity ?? 1, dash: t.line.dash ?? 'solid',
            width: t.line.width, session: t.meta ?? null}))}; }"""
TEXT = "abcdefghij" * 150  # 1,500 steps: the charts hold 500 at a time
HOLD = [{"signal": "f", "start": 600, "stop": 1500, "units": None, "value": 1.0},
        {"signal": "i", "start": 600, "stop": 1500, "units": None, "value": 0.0}]


def column(api, sid: str, start: int, stop: int, name: str, unit: int) -> list[float]:
    got = api("GET", f"/api/sessions/{sid}/trace?start={start}&stop={stop}&names={name}")
    assert (got["start"], got["stop"]) == (start, stop)
    return [row[unit] for row in got["signals"][name]]


def shown_line(page, overlay: str, start: int | None = None) -> dict:
    """The front line chart once it overlays `overlay` (ids, comma-separated) and, if
    given, its window starts at `start`."""
    page.wait_for_function(
        """([sel, ids, start]) => { const d = document.querySelector(sel);
        const c = document.querySelector('#charts');
        return d?.data && d.dataset.overlay === ids
          && (start === null || c.dataset.start === String(start)); }""",
        arg=[FRONT_LINE, overlay, start], timeout=20_000)
    return page.evaluate(LINE)


def check_what_if_window(api, line: dict, held: str, orig: str, unit: int) -> None:
    start, stop = line["start"], line["stop"]
    by = {t["name"]: t for t in line["traces"]}
    assert sorted(by) == sorted(["c (original run)", "h (original run)", "c (held)",
                                 "h (held)", "h_new − h_orig"])
    for name in ("c", "h"):
        faint, main = by[f"{name} (original run)"], by[f"{name} (held)"]
        assert faint["x0"] == main["x0"] == start and faint["dx"] == main["dx"] == 1
        assert faint["session"] == orig
        # faint: thinner, see-through and dashed beside the solid run on screen
        assert faint["opacity"] < 1 and faint["width"] < main["width"]
        assert faint["dash"] != "solid" and main["dash"] == "solid"
        np.testing.assert_array_equal(faint["y"], column(api, orig, start, stop, name, unit))
        np.testing.assert_array_equal(main["y"], column(api, held, start, stop, name, unit))
    diff = by["h_new − h_orig"]
    assert diff["axis"] == "y2" and diff["x0"] == start
    new = np.asarray(column(api, held, start, stop, "h", unit), np.float32)
    old = np.asarray(column(api, orig, start, stop, "h", unit), np.float32)
    np.testing.assert_allclose(diff["y"], new.astype(np.float64) - old, rtol=1e-12, atol=1e-12)


def test_what_if_line_chart_carries_the_original_run_over_each_window(page, errors, api):
    body = {"cell": "lstm", "hidden_size": 4, "seed": 3, "sequence": {"text": TEXT}}
    orig = api("POST", "/api/sessions", body)["id"]
    held = api("POST", "/api/sessions", {**body, "interventions": HOLD})["id"]
    open_view(page, f"?session={held}&orig={orig}&t=700&unit=2")
    wait_t(page, 700)
    line = shown_line(page, orig, 450)  # the window centred on t = 700
    assert (line["start"], line["stop"], line["difference"]) == (450, 950, orig)
    check_what_if_window(api, line, held, orig, 2)
    # a step with the cursor past the middle: the next window is prepared ahead, in idle
    # slots, into the hidden set, overlays included
    page.locator(DIAGRAM).focus()
    page.keyboard.press("ArrowRight")
    wait_t(page, 701)
    page.wait_for_function(
        """([sel, orig]) => { const d = document.querySelector(sel);
        const r = d?._fullLayout?.xaxis?.range;
        return d.dataset.overlay === orig && r && r[0] === 849.5 && r[1] === 1349.5; }""",
        arg=[BACK_LINE, orig], timeout=20_000)
    page.get_by_label("Time step").fill("905")
    wait_t(page, 905)
    check_what_if_window(api, shown_line(page, orig, 850), held, orig, 2)
    # a jump outside the window: fetched at once
    page.get_by_label("Time step").fill("1300")
    wait_t(page, 1300)
    check_what_if_window(api, shown_line(page, orig, 1000), held, orig, 2)
    # another unit: redrawn from what the window holds
    page.get_by_label("Unit").fill("0")
    page.get_by_label("Unit").press("Enter")
    expect(page.locator(DIAGRAM)).to_have_attribute("data-unit", "0")
    page.wait_for_function(f"() => document.querySelector('{FRONT_LINE}')"
                           "._fullLayout.yaxis.title.text === 'unit 0'")
    check_what_if_window(api, page.evaluate(LINE), held, orig, 0)


def long_memory_sessions(api) -> list[str]:
    presets = {p["name"]: p for p in api("GET", "/api/presets")["presets"]}
    sample = presets["long-memory-lstm"]["sample"]
    return [api("POST", "/api/sessions", {"preset": name, "sequence": {"text": sample}})["id"]
            for name in ("long-memory-lstm", "long-memory-rnn", "long-memory-gru")]


def check_compare(api, line: dict, ids: list[str], unit: int) -> None:
    start, stop = line["start"], line["stop"]
    faint = [t for t in line["traces"] if t["session"]]
    main = [t for t in line["traces"] if not t["session"]]
    # the LSTM on screen draws c and h; the RNN and the GRU have no c: only their h
    assert [t["name"].split(" ")[0] for t in main] == ["c", "h"]
    assert [(t["session"], t["name"].split(" ")[0]) for t in faint] == [(ids[1], "h"),
                                                                       (ids[2], "h")]
    assert "long-memory-rnn" in faint[0]["name"] and "long-memory-gru" in faint[1]["name"]
    assert faint[0]["dash"] != faint[1]["dash"]  # the two told apart without colour
    for t in faint:
        assert t["x0"] == start and t["opacity"] < 1
        np.testing.assert_array_equal(t["y"], column(api, t["session"], start, stop, "h", unit))
    for t, name in zip(main, ("c", "h"), strict=True):
        np.testing.assert_array_equal(t["y"], column(api, ids[0], start, stop, name, unit))


def test_compare_overlays_the_other_sessions_in_the_line_chart(page, errors, api):
    ids = long_memory_sessions(api)
    page.goto(f"/?compare={','.join(ids)}&t=5")
    line = shown_line(page, ",".join(ids[1:]))
    assert line["start"] == 0 and line["difference"] == ""
    check_compare(api, line, ids, 0)
    page.locator(DIAGRAM).first.focus()
    page.keyboard.press("ArrowRight")
    page.get_by_label("Unit").fill("1")
    page.get_by_label("Unit").press("Enter")
    expect(page.locator(DIAGRAM).first).to_have_attribute("data-unit", "1")
    page.wait_for_function(f"() => document.querySelector('{FRONT_LINE}')"
                           "._fullLayout.yaxis.title.text.startsWith('unit 1')")
    check_compare(api, page.evaluate(LINE), ids, 1)
    page.get_by_role("button", name="Stop comparing").click()
    expect(page.locator(DIAGRAM)).to_have_count(1)
    expect(page.locator(FRONT_LINE)).to_have_attribute("data-overlay", "")
    assert len(page.evaluate(LINE)["traces"]) == 2


def test_cursor_moves_without_plotly_calls_with_overlays_shown(page, errors, api):
    ids = long_memory_sessions(api)
    page.goto(f"/?compare={','.join(ids)}&t=5")
    shown_line(page, ",".join(ids[1:]))
    cursor = page.locator("#chart-cursor")
    expect(cursor).to_be_visible()
    drawn = settled_draws(page, "#charts")  # every window and overlay asked for is painted
    # only the charts' divs: the prediction view of a model with a head has its own heatmap
    count_plotly_calls(page, "#charts")
    page.locator(DIAGRAM).first.focus()
    moves = []
    for t in range(6, 12):
        page.keyboard.press("ArrowRight")
        expect(cursor).to_have_attribute("data-t", str(t))
        moves.append(cursor.evaluate("c => c.style.transform"))
    assert all(m.startswith("translateX(") for m in moves)
    xs = [float(m[len("translateX("):-len("px)")]) for m in moves]
    assert all(b > a for a, b in zip(xs, xs[1:], strict=False)), xs
    assert page.evaluate("() => window.__plotlyCalls") == []
    assert settled_draws(page, "#charts") == drawn  # six steps, no draw
    # while a unit change redraws the line chart (the count sees the charts' calls)
    page.get_by_label("Unit").fill("1")
    page.get_by_label("Unit").press("Enter")
    page.wait_for_function("() => window.__plotlyCalls.includes('react')")
    assert settled_draws(page, "#charts") == drawn + 1 == drawn + len(
        page.evaluate("() => window.__plotlyCalls"))


def test_write_it_down_tour_charts_the_run_without_the_hold(page, errors, api):
    page.goto("/?tour=write-it-down&tour_step=2")  # f = 1 and i = 0 held from `start` on
    step = next(t for t in api("GET", "/api/tours") if t["name"] == "write-it-down")["steps"][2]
    start = int(step["view"]["hold"].split(":")[2].split("-")[0])
    page.wait_for_function(f"() => document.querySelector('{FRONT_LINE}')?.dataset.overlay",
                           timeout=20_000)
    held = page.locator(DIAGRAM).get_attribute("data-session")
    orig = page.locator(FRONT_LINE).get_attribute("data-overlay")
    assert orig != held
    assert api("GET", f"/api/sessions/{orig}")["interventions"] == []
    assert [iv["signal"] for iv in api("GET", f"/api/sessions/{held}")["interventions"]] == [
        "f", "i"]
    line = page.evaluate(LINE)
    check_what_if_window(api, line, held, orig, 0)
    c = {t["name"]: t["y"] for t in line["traces"]}
    kept = c["c (held)"][start - line["start"]:]
    assert kept == [kept[0]] * len(kept)  # written down: c stays
    assert c["c (original run)"][start - line["start"]:] != kept
