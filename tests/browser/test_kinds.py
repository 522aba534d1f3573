"""A diagram for every cell kind and style (issue 5): open, step, values equal the engine's."""

from __future__ import annotations

import pytest
from gs_browser_helpers import (
    DIAGRAM,
    check_values_against_trace,
    diagram_state,
    open_view,
    svg_text,
    wait_t,
)
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

LSTM_FAMILY = ("lstm", "peephole_lstm")
CASES = [
    ("rnn", "olah", ""),
    ("lstm", "olah", ""),
    ("lstm", "memory-cell", ""),
    ("peephole_lstm", "olah", ""),
    ("peephole_lstm", "memory-cell", ""),
    ("gru", "olah", ""),
    ("gru", "olah", "&reset_after=0"),
    ("prototype_lstm", "olah", ""),
    ("normalized_lstm", "olah", ""),
    ("pseudo_lstm", "olah", ""),
]
# what each drawing must show, as the SVG's text (subscripts flatten: c_{t−1} -> "ct−1")
LABELS = {
    "lstm": ["σ", "tanh", "+", "ct−1", "ct", "ht−1", "ht", "xt"],
    "peephole_lstm": ["σ", "tanh", "+", "ct−1", "ct", "ht−1", "ht", "xt", "peephole"],
    "gru": ["σ", "tanh", "+", "1−", "ht−1", "ht", "xt", "rt"],
    "rnn": ["tanh", "ht−1", "ht", "xt"],
    "prototype_lstm": ["σ", "tanh", "+", "ct−1", "ct", "ht", "xt"],
    "normalized_lstm": ["σ", "tanh", "+", "ct−1", "ct", "√(var", "xt"],
    "pseudo_lstm": ["σ", "tanh", "+", "ct−1", "ct", "ht = tanh(ct)", "xt"],
}


@pytest.mark.parametrize(
    ("kind", "style", "extra"), CASES, ids=[f"{k}-{s}{e and '-reset_before'}" for k, s, e in CASES]
)
def test_every_kind_and_style(page, errors, api, artifacts_dir, kind, style, extra):
    open_view(
        page,
        f"?cell={kind}&weights=seed&seed=3&hidden=6&text=hello%20(world)&style={style}&t=2{extra}",
    )
    svg = page.locator(DIAGRAM)
    expect(svg).to_have_attribute("data-cell", kind)
    expect(svg).to_have_attribute("data-diagram", style)
    wait_t(page, 2)
    checked = check_values_against_trace(page, api)
    page.get_by_role("button", name="Step forward").click()
    wait_t(page, 3)
    page.get_by_label("Unit").fill("4")
    page.get_by_label("Unit").press("Enter")
    expect(svg).to_have_attribute("data-unit", "4")
    checked |= check_values_against_trace(page, api)
    session = api("GET", f"/api/sessions/{diagram_state(page)['session']}")
    hidden_signals = {
        s["name"] for s in session["signals"] if s["size"] == "hidden" and s["kind"] != "pre"
    }
    missing = hidden_signals - checked - {"read", "c_scale"}
    assert not missing, f"signals drawn without a data-value: {missing}"
    text = svg_text(page)
    for label in LABELS[kind]:
        assert label in text, f"{kind}/{style}: label {label!r} missing"
    if kind == "gru":
        after = "reset_after=0" not in extra
        assert ("after the matmul" in text) == after
        assert session["options"]["reset_after"] is after
    name = f"diagram-{kind}-{style}{'-reset_before' if extra else ''}.png"
    page.screenshot(path=artifacts_dir / name, full_page=True)


def test_style_toggle_keeps_t_unit_and_session(page, errors, api):
    open_view(page, "?cell=peephole_lstm&weights=seed&seed=2&hidden=5&text=abcabc&t=3&unit=2")
    before = diagram_state(page)
    style = page.get_by_label("Diagram style")
    style.select_option("memory-cell")
    expect(page.locator(DIAGRAM)).to_have_attribute("data-diagram", "memory-cell")
    after = diagram_state(page)
    assert (after["t"], after["unit"], after["session"]) == (
        before["t"],
        before["unit"],
        before["session"],
    )
    check_values_against_trace(page, api)
    page.wait_for_function("() => location.search.includes('style=memory-cell')")
    style.select_option("olah")
    expect(page.locator(DIAGRAM)).to_have_attribute("data-diagram", "olah")
    assert diagram_state(page)["t"] == 3


@pytest.mark.parametrize("kind", ["rnn", "gru", "prototype_lstm"])
def test_memory_cell_style_disabled_with_reason(page, errors, kind):
    open_view(page, f"?cell={kind}&weights=seed&seed=1&hidden=4&text=abc")
    style = page.get_by_label("Diagram style")
    expect(style).to_be_disabled()
    assert style.get_attribute("title")
    expect(page.locator("#style-why")).not_to_be_empty()


def test_equation_panel_lists_the_engines_equations(page, errors, api):
    open_view(page, "?cell=gru&weights=seed&seed=1&hidden=4&text=abc&reset_after=0")
    cells = api("GET", "/api/cells?kind=gru&reset_after=false")
    kinds = cells["kinds"] if "kinds" in cells else [cells]
    signals = next(k for k in kinds if k["kind"] == "gru")["signals"]
    listed = page.locator("#equation-list .eq-row .eq-text").all_inner_texts()
    flat = [e.replace("\n", "") for e in listed]
    for s in signals:
        if s["kind"] == "input":
            continue
        plain = s["equation"].replace("_{", "").replace("}", "").replace("_", "")
        assert any(plain.replace(" ", "") == f.replace(" ", "") for f in flat), s["equation"]
    # hovering a valve shows its live equation, with the engine's numbers
    page.locator(f'{DIAGRAM} .valve[data-signal="r"]').hover()
    live = page.locator(".focus-live").inner_text()
    assert live.startswith("rt[0]") and "σ(" in live
