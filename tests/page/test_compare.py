"""Side by side (issue 14, point 2): `?compare=ID1,ID2,ID3` shows one diagram per session
with one cursor (every diagram's data-t equal under keys and play), one sensitivity view per
session aligned on the same t, and "Compare with…" adds a session of the same sequence."""

from __future__ import annotations

import pytest
from gs_browser_helpers import DIAGRAM
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

TS = f"() => Array.from(document.querySelectorAll('{DIAGRAM}'), s => s.getAttribute('data-t'))"
SENS_TS = """() => Array.from(document.querySelectorAll('[data-view="sensitivity"]'),
  v => v.dataset.t ?? null)"""


def long_memory_sessions(api) -> list[str]:
    presets = {p["name"]: p for p in api("GET", "/api/presets")["presets"]}
    sample = presets["long-memory-lstm"]["sample"]
    return [api("POST", "/api/sessions", {"preset": name, "sequence": {"text": sample}})["id"]
            for name in ("long-memory-rnn", "long-memory-lstm", "long-memory-gru")]


def all_at(page, t: int) -> None:
    page.wait_for_function(f"() => {{ const ts = ({TS})(); return ts.length === 3 && "
                           f"ts.every(x => x === '{t}') }}", timeout=15_000)


def test_one_cursor_for_three_sessions_under_keys_and_play(page, errors, api):
    ids = long_memory_sessions(api)
    page.goto(f"/?compare={','.join(ids)}&t=5")
    all_at(page, 5)
    sessions = page.evaluate(f"() => Array.from(document.querySelectorAll('{DIAGRAM}'), "
                             "s => s.getAttribute('data-session'))")
    assert sessions == ids
    page.locator(DIAGRAM).first.focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    all_at(page, 8)
    page.wait_for_function(f"() => ({SENS_TS})().every(t => t === '8')", timeout=15_000)
    assert len(page.evaluate(SENS_TS)) == 3
    page.keyboard.press("Space")  # play
    page.wait_for_function(f"() => +document.querySelector('{DIAGRAM}').dataset.t > 8")
    page.keyboard.press("Space")  # pause
    t = page.locator(DIAGRAM).first.get_attribute("data-t")
    assert int(t) > 8
    all_at(page, int(t))
    page.keyboard.press("End")
    all_at(page, 61)
    assert f"compare={'%2C'.join(ids)}" in page.url or f"compare={','.join(ids)}" in page.url
    # the line chart overlays the other two sessions (tests/page/test_chart_overlays.py)
    expect(page.locator("#charts .chart-set.front .chart-row.line")).to_have_attribute(
        "data-overlay", ",".join(ids[1:]))


def test_compare_with_adds_the_same_sequence_through_another_preset(page, errors):
    page.goto("/?preset=long-memory-lstm&t=3")
    page.wait_for_function(f"() => document.querySelector('{DIAGRAM}')"
                           "?.getAttribute('data-t') === '3'")
    page.get_by_label("Compare with…").select_option("preset:long-memory-rnn")
    page.get_by_role("button", name="Compare", exact=True).click()
    page.wait_for_function(f"() => {{ const ts = ({TS})(); return ts.length === 2 && "
                           "ts.every(x => x === '3') }", timeout=15_000)
    # the URL is written at most every 200 ms
    page.wait_for_function("() => location.search.includes('compare=')", timeout=5_000)
    page.get_by_role("button", name="Stop comparing").click()
    expect(page.locator(DIAGRAM)).to_have_count(1)


def test_a_compared_mamba_shows_its_own_numbers_per_state(page, errors, api):
    """A companion's matrix signals come from the trace, which nests them (a Mamba's
    channels × N states, its conv's lags × channels); every number of the companion's
    drawing, the parts drawn per state too, is that session's at the cursor."""
    ids = [api("POST", "/api/sessions", {"cell": "mamba", "hidden_size": 4, "seed": seed,
                                         "sequence": {"text": "hello"}})["id"] for seed in (3, 4)]
    page.goto(f"/?compare={','.join(ids)}&t=2&unit=1")
    page.wait_for_function(f"() => {{ const ts = ({TS})(); return ts.length === 2 && "
                           "ts.every(x => x === '2') }", timeout=20_000)
    companion = page.locator(DIAGRAM).nth(1)
    assert companion.get_attribute("data-session") == ids[1]
    session = api("GET", f"/api/sessions/{ids[1]}")
    shapes = {s["name"]: s["shape"] for s in session["signals"]}
    signals = api("GET", f"/api/sessions/{ids[1]}/trace?start=2&stop=3")["signals"]
    shown = companion.locator("[data-value]").evaluate_all(
        "els => els.map(e => [e.dataset.signal, parseFloat(e.dataset.value),"
        " e.dataset.state ?? null])")
    assert any(state is not None for _, _, state in shown)
    for signal, value, state in shown:
        row, shape = signals[signal][0], shapes[signal]
        if state is None:
            expected = row[1]
        elif len(shape) == 1:
            expected = row[int(state)]
        else:
            expected = row[1][int(state)] if shape[0] == "E" else row[int(state)][1]
        assert value == pytest.approx(expected, rel=1e-5, abs=5e-6), (signal, state)
