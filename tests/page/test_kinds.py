"""A diagram for every cell kind and style (issue 5): open, step, values equal the engine's;
each kind's legend; the memory-cell drawings of the prototypes of "Written Memories"
(r2rt, 2016)."""

from __future__ import annotations

import pytest
from gs_browser_helpers import (
    DIAGRAM,
    KIND_VIEWS,
    check_values_against_trace,
    diagram_state,
    open_view,
    svg_text,
    wait_t,
)
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

LSTM_FAMILY = ("lstm", "peephole_lstm")
CASES = KIND_VIEWS
WRITTEN_MEMORIES_KINDS = ("prototype_lstm", "normalized_lstm", "pseudo_lstm")
# signals a drawing may leave without a data-value: the Olah normalised prototype folds
# √(var(ĉ_t) + 1) into its ÷ box; every memory-cell drawing shows them all
NOT_DRAWN = {"olah": {"c_scale"}, "memory-cell": set()}
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
    if style == "memory-cell":
        expect(page.get_by_label("Diagram style")).to_be_enabled()
        expect(page.get_by_label("Diagram style")).to_have_value("memory-cell")
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
    missing = hidden_signals - checked - NOT_DRAWN[style]
    assert not missing, f"signals drawn without a data-value: {missing}"
    text = svg_text(page)
    for label in LABELS.get(kind, ("xt",)):  # the kinds after the LSTM: their own tests
        assert label in text, f"{kind}/{style}: label {label!r} missing"
    if kind == "gru":
        after = "reset_after=0" not in extra
        assert ("after the matmul" in text) == after
        assert session["options"]["reset_after"] is after
    name = f"diagram-{kind}-{style}{'-reset_before' if extra else ''}"
    page.screenshot(path=artifacts_dir / f"{name}.png", full_page=True)
    page.locator(".viewer").screenshot(path=artifacts_dir / f"{name}-viewer.png")


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


@pytest.mark.parametrize(("kind", "why"), [("rnn", "RNN has no cell state"), ("gru", "GRU has")])
def test_memory_cell_style_disabled_with_reason(page, errors, kind, why):
    open_view(page, f"?cell={kind}&weights=seed&seed=1&hidden=4&text=abc&style=memory-cell")
    style = page.get_by_label("Diagram style")
    expect(style).to_be_disabled()
    assert why in (style.get_attribute("title") or "")
    expect(page.locator("#style-why")).to_contain_text(why)
    expect(page.locator(DIAGRAM)).to_have_attribute("data-diagram", "olah")


def test_prototype_memory_cell_layouts_label_every_arrow(page, errors):
    """The layouts are data: every pipe of the memory-cell drawings of the prototypes of
    "Written Memories" (r2rt, 2016) that is not part of the [read, x_t] bus carries a label,
    and every pipe with a signal a known name."""
    open_view(page, "?cell=pseudo_lstm&weights=seed&seed=1&hidden=4&text=abc")
    problems = page.evaluate(
        """async (kinds) => {
        const { layoutFor } = await import('/static/js/diagram/layouts/index.js');
        const cells = await (await fetch('/api/cells')).json();
        const out = [];
        for (const kind of kinds) {
          const spec = cells.kinds.find((k) => k.kind === kind);
          const known = new Set(spec.signals.map((s) => s.name));
          const layout = layoutFor(kind, 'memory-cell', { hidden: 4, input: 3, options: {} });
          if (layout.style !== 'memory-cell') out.push(`${kind}: not a memory-cell layout`);
          for (const p of layout.pipes) {
            if (p.cls !== 'bus' && !p.label) out.push(`${kind}: unlabelled pipe ${p.signal}`);
            if (p.signal && !known.has(p.signal)) out.push(`${kind}: unknown signal ${p.signal}`);
          }
          for (const n of layout.nodes) {
            if (n.signal && !known.has(n.signal)) out.push(`${kind}: unknown signal ${n.signal}`);
          }
          if (!layout.legend?.length) out.push(`${kind}: no legend`);
        }
        return out;
      }""",
        list(WRITTEN_MEMORIES_KINDS),
    )
    assert problems == []


LEGENDS = {
    # kind: (must be in the legend text, must not be)
    "gru": (["ht−1 (previous state) / ht (new state)", "update gate zt keeps", "1 − zt"], ["ct−1"]),
    "rnn": (["ht−1 (previous state) / ht (new state)", "no gates"], ["ct−1", "⊙", "σ"]),
    "lstm": (["ct−1 (old memory) / ct (new memory)", "⊙", "σ"], ["zt", "previous state"]),
    "pseudo_lstm": (
        ["ct−1 (old state) / ct (new state)", "read valve ot", "ht = tanh(ct)"],
        ["zt", "output valve between"],
    ),
}


@pytest.mark.parametrize("kind", list(LEGENDS))
def test_legend_speaks_of_the_kinds_own_states(page, errors, kind):
    open_view(page, f"?cell={kind}&weights=seed&seed=1&hidden=4&text=abc")
    legend = page.locator("dl.legend").inner_text().replace("\n", " ")
    present, absent = LEGENDS[kind]
    for text in present:
        assert text in legend, f"{kind}: {text!r} not in the legend: {legend}"
    for text in absent:
        assert text not in legend, f"{kind}: {text!r} in the legend: {legend}"


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
