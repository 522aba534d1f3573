"""A Mamba session in the page: the drill-down into one channel (its N states as valves and
pipes, the conv's delay line, the selectivity knob Δ, the D bypass, the output valve), the
bank of every channel and the hidden-attention heatmap, each carrying data-values equal to
the engine's trace; rows clicked select the channel; no label overlaps; axe-clean."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from gs_browser_helpers import DIAGRAM, diagram_state, open_view, serious_violations, wait_t
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

OVERLAP_JS = (Path(__file__).parent / "overlap.js").read_text()
URL = "?cell=mamba&weights=seed&seed=3&hidden=4&text=hello%20(world)&t=2"
BANK = '[data-view="bank"]'
ATTENTION = '[data-view="hidden-attention"]'


def step_signals(api, sid: str, t: int) -> dict:
    return api("GET", f"/api/sessions/{sid}/trace?start={t}&stop={t + 1}")["signals"]


def engine_value(signals: dict, signal: str, unit: int, state: str | None, shapes: dict):
    """The number an element of the drill-down shows: the unit's, or entry `state` of the
    channel for a matrix signal (["E", "N"]: [unit][state]; ["lags", "E"]: [state][unit];
    ["N"]: [state])."""
    row = signals[signal][0]
    if state is None:
        return row[unit]
    k, shape = int(state), shapes[signal]
    if len(shape) == 1:
        return row[k]
    return row[unit][k] if shape[0] == "E" else row[k][unit]


def check_drill_down(page, api) -> set[str]:
    st = diagram_state(page)
    t, unit = st["t"], st["unit"]
    signals = step_signals(api, st["session"], t)
    session = api("GET", f"/api/sessions/{st['session']}")
    shapes = {s["name"]: s["shape"] for s in session["signals"]}
    shown = page.locator(f"{DIAGRAM} [data-value]").evaluate_all(
        "els => els.map(e => [e.dataset.signal, e.dataset.value, e.dataset.state ?? null])")
    assert shown
    checked = set()
    for signal, raw, state in shown:
        assert len(raw.split(".")[1]) >= 4, raw
        expected = engine_value(signals, signal, unit, state, shapes)
        assert math.isclose(float(raw), expected, rel_tol=1e-5, abs_tol=5e-6), (
            f"{signal}[t={t}, unit={unit}, state={state}]: page {raw}, engine {expected}")
        checked.add(signal if state is None else f"{signal}[{state}]")
    return checked


def test_the_drill_down_bank_and_attention_show_the_engines_numbers(page, errors, api,
                                                                     artifacts_dir):
    open_view(page, URL)
    svg = page.locator(DIAGRAM)
    expect(svg).to_have_attribute("data-cell", "mamba")
    wait_t(page, 2)
    checked = check_drill_down(page, api)
    # every state row drawn: its retention valve, write, old and new state
    for s in range(4):
        assert {f"decay[{s}]", f"write[{s}]", f"h[{s}]", f"h_prev[{s}]"} <= checked, checked
    assert {"delta", "gate", "x_conv", "y", "conv_prev[0]", "conv_prev[2]"} <= checked, checked
    # a channel past H (E = 2H): the Unit control picks channels
    page.get_by_label("Unit").fill("6")
    page.get_by_label("Unit").press("Enter")
    expect(svg).to_have_attribute("data-unit", "6")
    check_drill_down(page, api)

    sid = diagram_state(page)["session"]
    signals = step_signals(api, sid, 2)
    bank = page.locator(BANK)
    expect(bank).to_be_visible()
    expect(bank).to_have_attribute("data-unit", "6")
    rows = bank.locator(".bank-rows span").evaluate_all(
        "els => els.map(e => ({...e.dataset}))")
    assert len(rows) == 8
    for row in rows:
        c = int(row["channel"])
        for attr, name in (("retention", "retention"), ("write", "write_strength"),
                           ("value", "y")):
            assert math.isclose(float(row[attr]), signals[name][0][c], rel_tol=1e-5,
                                abs_tol=5e-6), (attr, row)
    caption = bank.locator(".bank-selected")
    assert math.isclose(float(caption.get_attribute("data-value")), signals["y"][0][6],
                        rel_tol=1e-5, abs_tol=5e-6)
    # sorted by the output: rows in descending y; a click on a row selects its channel
    page.get_by_label("Sort channels by").select_option("y")
    expect(bank.locator(".bank-rows span").first).to_have_attribute("data-row", "0")
    order = bank.locator(".bank-rows span").evaluate_all(
        "els => els.map(e => Number(e.dataset.channel))")
    ys = [signals["y"][0][c] for c in order]
    assert ys == sorted(ys, reverse=True)
    image = bank.locator("canvas.bank-image")
    box = image.bounding_box()
    image.click(position={"x": box["width"] / 2, "y": box["height"] * (1.5 / 8)})
    expect(svg).to_have_attribute("data-unit", str(order[1]))

    attention = page.locator(ATTENTION)
    expect(attention).to_be_visible()
    channel = order[1]
    expect(attention).to_have_attribute("data-channel", str(channel))
    expected = api("GET", f"/api/sessions/{sid}/hidden-attention?t=2&channel={channel}"
                          "&window=32")
    cells = attention.locator("rect[data-value]").evaluate_all(
        "els => els.map(e => [Number(e.dataset.t), Number(e.dataset.s), Number(e.dataset.value)])")
    assert len(cells) == 6  # steps 0…2: the lower triangle of a 3 × 3 map
    for t, s, value in cells:
        assert s <= t
        assert math.isclose(value, expected["weights"][t][s], rel_tol=1e-7, abs_tol=1e-12)
    page.screenshot(path=artifacts_dir / "mamba-page.png", full_page=True)


@pytest.mark.parametrize("hidden", [1, 3, 64])
def test_the_mamba_drawing_has_no_overlap_and_is_axe_clean(page, errors, hidden):
    open_view(page, f"?cell=mamba&weights=seed&seed=4&hidden={hidden}&text=a%20b&t=1")
    wait_t(page, 1)
    found = page.locator(DIAGRAM).evaluate(OVERLAP_JS)
    assert found == [], "\n".join(found)
    if hidden == 3:
        assert serious_violations(Axe().run(page)) == []
