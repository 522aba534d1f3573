"""The mLSTM in the page (issue 22): its memory drawn as a tank — the selected head's
d × d heatmap, each entry's data-value the engine's C — with every other number equal to
the trace, its per-head gates shown for the unit's head, no label overlapping another or
crossed by a pipe, and axe-clean."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from axe_playwright_python.sync_playwright import Axe
from gs_browser_helpers import (
    DIAGRAM,
    check_values_against_trace,
    diagram_state,
    open_view,
    serious_violations,
    svg_text,
    wait_t,
)
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

CASES = [("", 6), ("&heads=2", 6), ("&forget=exp", 6), ("&output_gate=0&heads=2", 6)]
LABELS = ["memory tank", "Ct−1", "k vᵀ nozzle", "query tap", "nt", "mt", "qt", "kt", "vt", "xt",
          "exp", "÷"]
OVERLAP_JS = (Path(__file__).parent / "overlap.js").read_text()
TANK_CELLS = f"{DIAGRAM} [data-tank] rect.tank-cell"


@pytest.mark.parametrize(("extra", "hidden"), CASES, ids=[e or "defaults" for e, _ in CASES])
def test_the_mlstm_is_drawn_with_the_engines_values(page, errors, api, artifacts_dir,
                                                    extra, hidden):
    open_view(page, f"?cell=mlstm&weights=seed&seed=3&hidden={hidden}&text=hello%20(world)"
                    f"&t=2{extra}")
    svg = page.locator(DIAGRAM)
    expect(svg).to_have_attribute("data-cell", "mlstm")
    wait_t(page, 2)
    checked = check_values_against_trace(page, api)
    page.get_by_role("button", name="Step forward").click()
    wait_t(page, 3)
    page.get_by_label("Unit").fill("4")
    page.get_by_label("Unit").press("Enter")
    expect(svg).to_have_attribute("data-unit", "4")
    checked |= check_values_against_trace(page, api)
    session = api("GET", f"/api/sessions/{diagram_state(page)['session']}")
    drawn = {s["name"] for s in session["signals"]
             if s["size"] == "hidden" and s["kind"] != "pre" and not s["name"].endswith("_prev")}
    assert not drawn - checked, f"signals drawn without a data-value: {drawn - checked}"
    text = svg_text(page)
    for label in LABELS + (["ot", "ht"] if "output_gate=0" not in extra else ["ht"]):
        assert label in text, f"mlstm{extra}: label {label!r} missing"
    found = svg.evaluate(OVERLAP_JS)
    page.screenshot(path=artifacts_dir / f"diagram-mlstm{extra.replace('&', '-')}.png",
                    full_page=True)
    svg.screenshot(path=artifacts_dir / f"diagram-mlstm{extra.replace('&', '-')}-svg.png")
    assert not found, found


def test_the_tank_shows_the_selected_heads_memory(page, errors, api):
    xs = np.random.default_rng(2).normal(0, 1, (6, 3)).round(3).tolist()
    made = api("POST", "/api/sessions", {"cell": "mlstm", "hidden_size": 4, "seed": 7,
                                         "sequence": {"values": xs}, "options": {"heads": 2}})
    open_view(page, f"?session={made['id']}&t=1&unit=0")
    wait_t(page, 1)
    page.get_by_role("button", name="Step forward").click()
    wait_t(page, 2)
    memory = api("GET", f"/api/sessions/{made['id']}/trace?names=C")["signals"]["C"][2]
    for unit, head in ((0, 0), (1, 0), (3, 1)):
        page.get_by_label("Unit").fill(str(unit))
        page.get_by_label("Unit").press("Enter")
        expect(page.locator(DIAGRAM)).to_have_attribute("data-unit", str(unit))
        expect(page.locator(f"{DIAGRAM} [data-tank]")).to_have_attribute("data-head", str(head))
        shown = page.locator(TANK_CELLS).evaluate_all(
            "rs => rs.map(r => [+r.dataset.head, +r.dataset.row, +r.dataset.col,"
            " parseFloat(r.dataset.value)])")
        assert len(shown) == 4  # d × d with d = 2
        for h, r, c, value in shown:
            assert h == head
            assert value == pytest.approx(memory[head][r][c], rel=1e-5, abs=1e-6)
    # the tank is a part the keyboard reaches, named in words
    tank = page.locator(f"{DIAGRAM} [data-tank]")
    expect(tank).to_have_attribute("role", "img")
    assert "memory tank" in tank.get_attribute("aria-label")


def test_the_tank_shows_a_block_of_a_large_memory(page, errors, api):
    open_view(page, "?cell=mlstm&weights=seed&seed=4&hidden=64&text=ab&t=1&unit=40")
    wait_t(page, 1)
    expect(page.locator(TANK_CELLS)).to_have_count(16 * 16)
    assert "rows 32–47" in svg_text(page)
    check_values_against_trace(page, api)


def test_the_mlstm_at_other_sizes_has_no_overlap(page, errors):
    problems = []
    for hidden, extra in ((1, ""), (64, ""), (1024, ""), (4, "&heads=4")):
        open_view(page, f"?cell=mlstm&weights=seed&seed=4&hidden={hidden}&text=a%20b&t=1{extra}")
        wait_t(page, 1)
        problems += [f"H={hidden}{extra}: {p}" for p in page.locator(DIAGRAM).evaluate(OVERLAP_JS)]
    assert not problems, "\n".join(problems)


def test_the_mlstm_is_axe_clean(page, errors):
    open_view(page, "?cell=mlstm&weights=seed&seed=3&hidden=4&text=ab&t=1&heads=2")
    wait_t(page, 1)
    assert serious_violations(Axe().run(page)) == []


def test_equations_and_sentences_speak_of_the_units_head_and_row(page, errors, api):
    """The equation list shows a per-head gate at the unit's head and the memory as the row
    the unit reads; the screen-reader sentence says the same; stage by stage, the tank
    carries no number before its stage; the keyboard reaches the tank."""
    open_view(page, "?cell=mlstm&weights=seed&seed=3&hidden=4&heads=2&text=abcd&t=2&unit=3")
    wait_t(page, 2)
    expect(page.locator(DIAGRAM)).to_have_attribute("data-unit", "3")
    sid = diagram_state(page)["session"]
    trace = api("GET", f"/api/sessions/{sid}/trace?start=2&stop=3")["signals"]
    live = page.locator('#equation-list .eq-row[data-signal="i"] .eq-live')
    expect(live).to_contain_text(f"[3] = {trace['i'][0][1]:.4f}".replace("-", "−"))
    row = trace["C"][0][1][1]  # head 1, value dim 1: what unit 3 reads
    memory = page.locator('#equation-list .eq-row[data-signal="C"] .eq-live')
    expect(memory).to_contain_text("[head 1, row 1, ·] = [")
    assert f"{row[0]:.3f}".replace("-", "−") in memory.inner_text()
    page.locator(f'{DIAGRAM} [data-tank]').hover()
    expect(page.locator("#focus-equation .focus-live")).to_contain_text("[head 1, row 1, ·]")
    # the sentence for screen readers: the state at the unit, the memory as its row
    page.get_by_role("button", name="Step forward").click()
    page.get_by_role("button", name="Step back").click()
    wait_t(page, 2)
    said = page.locator("#announce").text_content()
    assert "C_t [head 1, row 1, ·]" in said, said
    assert f"m_t = {trace['m'][0][1]:.3f}".replace("-", "−") in said, said
    # stage by stage: no number in the tank before the state stage
    page.get_by_label("Stage by stage").check()
    stages = page.locator("#stages button").evaluate_all("bs => bs.map(b => b.dataset.stage)")
    for k, stage in enumerate(stages):
        expect(page.locator(DIAGRAM)).to_have_attribute("data-stage", stage)
        valued = page.locator(TANK_CELLS + "[data-value]").count()
        if stages.index("state") > k:
            assert valued == 0, f"stage {stage}: the tank shows numbers"
        else:
            assert valued == 4, f"stage {stage}: the tank shows {valued} numbers"
        if k < len(stages) - 1:
            page.get_by_role("button", name="Step forward").click()
    # the keyboard walks to the tank
    page.locator(f"{DIAGRAM} [tabindex='0']").focus()
    names = []
    for _ in range(20):
        names.append(page.evaluate("() => document.activeElement.getAttribute('aria-label')"))
        page.keyboard.press("ArrowRight")
    assert any(n and n.startswith("memory tank C_t") for n in names), names
