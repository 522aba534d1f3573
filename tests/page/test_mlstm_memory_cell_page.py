"""The mLSTM's memory-cell picture (issue 22, point 3): drawn as the sLSTM's memory block is
— the Cell is the memory tank (the selected head's d × d C, each entry's data-value the
engine's), looping back through the forget valve, written by the k vᵀ nozzle through the
exponential input valve, the normalizer n looping beside it, the query tap reading it —
with every number equal to the trace, stage by stage, named for the keyboard, axe-clean,
and reached by the style switch of an mLSTM session (and in a side-by-side compare)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from gs_browser_helpers import (
    DIAGRAM,
    check_values_against_trace,
    diagram_state,
    open_view,
    serious_violations,
    set_unit,
    svg_text,
    value_at,
    wait_t,
)
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

CASES = ["", "&heads=2", "&forget=exp", "&output_gate=0&heads=2"]
LABELS = ["Cell: memory Ct", "Ct−1", "ft · Ct−1", "k vᵀ nozzle", "vt ktᵀ", "it · vt ktᵀ",
          "query tap", "nt (normalizer)", "nt−1", "it kt", "mt (log scale)", "qt", "kt", "vt",
          "xt", "exp", "÷", "memory block"]
OVERLAP_JS = (Path(__file__).parent / "overlap.js").read_text()
TANK_CELLS = f"{DIAGRAM} [data-tank] rect.tank-cell"
# the parts the keyboard walks that carry one number: their names, as the renderer says them
VALVE_NAMES = ["forget valve f_t", "forget valve of the normalizer",
               "exponential input valve i_t", "exponential input valve of the normalizer"]


def memory_cell(page, query: str) -> None:
    open_view(page, query + "&style=memory-cell")
    expect(page.locator(DIAGRAM)).to_have_attribute("data-diagram", "memory-cell")
    expect(page.locator(DIAGRAM)).to_have_attribute("data-cell", "mlstm")


@pytest.mark.parametrize("extra", CASES, ids=[e or "defaults" for e in CASES])
def test_the_memory_cell_mlstm_is_drawn_with_the_engines_values(page, errors, api,
                                                                artifacts_dir, extra):
    memory_cell(page, f"?cell=mlstm&weights=seed&seed=3&hidden=6&text=hello%20(world)&t=2{extra}")
    wait_t(page, 2)
    checked = check_values_against_trace(page, api)
    page.get_by_role("button", name="Step forward").click()
    wait_t(page, 3)
    set_unit(page, 4)
    expect(page.locator(DIAGRAM)).to_have_attribute("data-unit", "4")
    checked |= check_values_against_trace(page, api)
    sid = diagram_state(page)["session"]
    session = api("GET", f"/api/sessions/{sid}")
    # every signal of one number per unit (or per head) shows it; C_{t−1} is the matrix
    # looping out of the tank, drawn as the pipe it is, its numbers the tank's a step before
    drawn = {s["name"] for s in session["signals"] if s["size"] == "hidden" and s["kind"] != "pre"
             and s["name"] != "C_prev"}
    assert not drawn - checked, f"signals drawn without a data-value: {drawn - checked}"
    # the tank is the whole of the unit's head: d × d entries, each the engine's C
    heads = session["options"]["heads"]
    d = 6 // heads
    memory = api("GET", f"/api/sessions/{sid}/trace?start=3&stop=4&names=C")["signals"]["C"][0]
    shown = page.locator(TANK_CELLS).evaluate_all(
        "rs => rs.map(r => [+r.dataset.head, +r.dataset.row, +r.dataset.col,"
        " parseFloat(r.dataset.value)])")
    assert len(shown) == d * d
    assert {h for h, *_ in shown} == {4 // d}
    for h, r, c, value in shown:
        assert value == pytest.approx(memory[h][r][c], rel=1e-5, abs=1e-6)
    name = f"diagram-mlstm-memory-cell{extra.replace('&', '-')}"
    page.locator(".viewer").screenshot(path=artifacts_dir / f"{name}-viewer.png")
    text = svg_text(page)
    for label in LABELS + (["ot", "ht (output)"] if "output_gate=0" not in extra
                           else ["ht = h̃t (output)"]):
        assert label in text, f"mlstm{extra}: label {label!r} missing"
    assert ("output valve" in page.locator(DIAGRAM).inner_html()) == ("output_gate=0" not in extra)
    found = page.locator(DIAGRAM).evaluate(OVERLAP_JS)
    assert not found, found


def test_the_style_switch_of_an_mlstm_session(page, errors, api):
    """An mLSTM session switches style with t, unit and session kept, the legend names the
    Cell, and back; no console error (the `errors` fixture)."""
    open_view(page, "?cell=mlstm&weights=seed&seed=2&hidden=4&heads=2&text=abcabc&t=3&unit=2")
    before = diagram_state(page)
    assert before["diagram"] == "olah"
    style = page.get_by_label("Diagram style")
    expect(style).to_be_enabled()
    expect(page.locator("#style-why")).to_have_text("")
    style.select_option("memory-cell")
    expect(page.locator(DIAGRAM)).to_have_attribute("data-diagram", "memory-cell")
    after = diagram_state(page)
    assert (after["t"], after["unit"], after["session"]) == (
        before["t"], before["unit"], before["session"])
    check_values_against_trace(page, api)
    expect(page.locator("#legend")).to_contain_text("the Cell is the tank")
    page.wait_for_function("() => location.search.includes('style=memory-cell')")
    # the keys still step the cursor in the new drawing
    page.get_by_role("button", name="Step forward").click()
    wait_t(page, 4)
    check_values_against_trace(page, api)
    style.select_option("olah")
    expect(page.locator(DIAGRAM)).to_have_attribute("data-diagram", "olah")
    assert diagram_state(page)["t"] == 4
    check_values_against_trace(page, api)


@pytest.mark.parametrize("style", ["memory-cell", "olah"])
def test_stage_by_stage_no_number_before_its_stage(page, errors, api, style):
    """Stepping through the stages: every number shown belongs to a stage reached, the
    tank's entries appear at the state stage, the parts of the current stage are the active
    ones (the matrix's own pipes too, in either picture) and the ones ahead are pending."""
    open_view(page, "?cell=mlstm&weights=seed&seed=3&hidden=4&heads=2&text=abcd&t=2&unit=3"
                    f"&style={style}")
    expect(page.locator(DIAGRAM)).to_have_attribute("data-diagram", style)
    wait_t(page, 2)
    sid = diagram_state(page)["session"]
    session = api("GET", f"/api/sessions/{sid}")
    stage_of = {s["name"]: s["stage"] for s in session["signals"]}
    trace = api("GET", f"/api/sessions/{sid}/trace?start=2&stop=3")["signals"]
    shapes = {s["name"]: s["shape"] for s in session["signals"]}
    page.get_by_label("Stage by stage").check()
    stages = page.locator("#stages button").evaluate_all("bs => bs.map(b => b.dataset.stage)")
    assert stages == ["inputs", "gates", "state", "output"]
    seen = set()
    for k, stage in enumerate(stages):
        expect(page.locator(DIAGRAM)).to_have_attribute("data-stage", stage)
        valued = page.locator(DIAGRAM).evaluate(
            "s => Array.from(s.querySelectorAll('[data-value]'), e => [e.dataset.signal,"
            " parseFloat(e.dataset.value), e.hasAttribute('data-row') ? [+e.dataset.head,"
            " +e.dataset.row, +e.dataset.col] : null])")
        for signal, value, cell in valued:
            assert stages.index(stage_of[signal]) <= k, f"stage {stage}: {signal} shown early"
            assert value == pytest.approx(value_at(trace[signal][0], shapes[signal], 3, cell, 4),
                                          rel=1e-5, abs=5e-6), (stage, signal, cell)
            seen.add(signal)
        tank = page.locator(TANK_CELLS + "[data-value]").count()
        assert tank == (4 if k >= stages.index("state") else 0), f"stage {stage}: {tank} entries"
        # the memory's pipes carry no one number, yet they too follow the stages
        states = page.locator(f"{DIAGRAM} g.pipe:not(:has(path[data-signal]))").evaluate_all(
            "gs => gs.map(g => g.classList.contains('active') ? 'active'"
            " : g.classList.contains('pending') ? 'pending' : '').filter(Boolean)")
        assert states, "no memory pipe follows the stages"
        if stage == "state":
            assert "active" in states and "pending" in states  # the read-out is ahead
        if k < len(stages) - 1:
            page.get_by_role("button", name="Step forward").click()
    assert seen >= {"C", "n", "m", "i", "f", "q", "k", "v", "h_tilde", "o", "h"}


def test_the_memory_cells_parts_are_named_for_the_keyboard(page, errors, api):
    """Tab enters the drawing; the arrows walk every valve, every numbered pipe and the
    tank, each named in words with the number the trace has for the selected unit; Enter
    pins a part's equation, and the equation list shows the unit's row of the memory."""
    memory_cell(page, "?cell=mlstm&weights=seed&seed=3&hidden=4&heads=2&text=abcd&t=2&unit=3")
    wait_t(page, 2)
    sid = diagram_state(page)["session"]
    trace = api("GET", f"/api/sessions/{sid}/trace?start=2&stop=3")["signals"]
    page.locator(f"{DIAGRAM} [tabindex='0']").focus()
    names = []
    for _ in range(40):
        names.append(page.evaluate("() => document.activeElement.getAttribute('aria-label')"))
        page.keyboard.press("ArrowRight")
    said = set(names)
    f = f"{trace['f'][0][1]:.3f}".replace("-", "−")  # unit 3 is in head 1
    i = f"{trace['i'][0][1]:.3f}".replace("-", "−")
    o = f"{trace['o'][0][3]:.3f}".replace("-", "−")
    assert f"forget valve f_t, f_t[3] = {f}" in said, said
    assert f"forget valve of the normalizer, f_t[3] = {f}" in said, said
    assert f"exponential input valve i_t, i_t[3] = {i}" in said, said
    assert f"exponential input valve of the normalizer, i_t[3] = {i}" in said, said
    assert f"output valve o_t, o_t[3] = {o}" in said, said
    assert any(n.startswith("memory tank C_t") for n in said), said
    for signal, label in (("q", "q_t"), ("k", "k_t"), ("v", "v_t"), ("h_tilde", "h̃_t")):
        value = f"{trace[signal][0][3]:.3f}".replace("-", "−")
        assert f"{label}[3] = {value}" in said, (signal, said)
    n = f"{trace['n'][0][1][1]:.3f}".replace("-", "−")
    assert f"n_t[3] = {n}" in said, said
    # Enter on the tank pins the memory's equation, the unit's row of it
    page.locator(f"{DIAGRAM} [data-tank]").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#focus-equation .focus-live")).to_contain_text("[head 1, row 1, ·]")
    row = trace["C"][0][1][1]
    memory = page.locator('#equation-list .eq-row[data-signal="C"] .eq-live')
    assert f"{row[0]:.3f}".replace("-", "−") in memory.inner_text()


def test_the_memory_cell_mlstm_is_axe_clean(page, errors):
    memory_cell(page, "?cell=mlstm&weights=seed&seed=3&hidden=4&text=ab&t=1&heads=2")
    wait_t(page, 1)
    assert serious_violations(Axe().run(page)) == []
    page.get_by_label("Stage by stage").check()
    expect(page.locator(DIAGRAM)).to_have_attribute("data-stage", "inputs")
    assert serious_violations(Axe().run(page)) == []


def test_the_memory_cell_mlstm_at_other_sizes_has_no_overlap(page, errors, artifacts_dir):
    problems = []
    for hidden, extra in ((1, ""), (3, ""), (64, ""), (1024, ""), (4, "&heads=2"), (4, "&heads=4"),
                          (3, "&forget=exp"), (3, "&output_gate=0"), (64, "&output_gate=0")):
        memory_cell(page, f"?cell=mlstm&weights=seed&seed=4&hidden={hidden}&text=a%20b&t=1{extra}")
        wait_t(page, 1)
        found = page.locator(DIAGRAM).evaluate(OVERLAP_JS)
        if found:
            page.locator(".viewer").screenshot(
                path=artifacts_dir / f"overlap-mlstm-memory-cell-{hidden}{extra[1:]}.png")
        problems += [f"H={hidden}{extra}: {p}" for p in found]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("style", ["memory-cell", "olah"])
def test_side_by_side_mlstms_in_either_style(page, errors, api, style):
    """Compare draws every mLSTM session in the style chosen, each tank its own session's
    memory (a companion's numbers come from the trace, which nests the matrix)."""
    ids = [api("POST", "/api/sessions", {"cell": "mlstm", "hidden_size": 4, "seed": seed,
                                         "options": {"heads": 2},
                                         "sequence": {"text": "abcab"}})["id"] for seed in (1, 2)]
    page.goto(f"/?compare={','.join(ids)}&t=2&unit=1&style={style}")
    page.wait_for_function(f"() => {{ const s = document.querySelectorAll('{DIAGRAM}');"
                           " return s.length === 2 && [...s].every(x => x.dataset.t === '2') }",
                           timeout=20_000)
    diagrams = page.locator(DIAGRAM)
    for k, sid in enumerate(ids):
        svg = diagrams.nth(k)
        expect(svg).to_have_attribute("data-diagram", style)
        assert svg.get_attribute("data-session") == sid
        memory = api("GET", f"/api/sessions/{sid}/trace?start=2&stop=3&names=C")["signals"]["C"][0]
        shown = svg.locator("[data-tank] rect.tank-cell").evaluate_all(
            "rs => rs.map(r => [+r.dataset.head, +r.dataset.row, +r.dataset.col,"
            " parseFloat(r.dataset.value)])")
        assert len(shown) == 4
        for h, r, c, value in shown:
            assert h == 0
            assert value == pytest.approx(memory[h][r][c], rel=1e-5, abs=1e-6)


def test_holding_a_valve_of_the_memory_cell(page, errors, api):
    """Right-click on a valve of the picture offers its gate, at the number the valve shows
    for the unit (a per-head gate: its head's); held for every unit, the new run's valves
    all show the held number, marked held, and every number is the new trace's."""
    memory_cell(page, "?cell=mlstm&weights=seed&seed=3&hidden=4&heads=2&text=abcde&t=2&unit=1")
    wait_t(page, 2)
    sid = diagram_state(page)["session"]
    f = api("GET", f"/api/sessions/{sid}/trace?start=2&stop=3&names=f")["signals"]["f"][0]
    valve = page.locator(f'{DIAGRAM} g.valve[data-signal="f"]').first
    for unit, head in ((1, 0), (3, 1)):
        set_unit(page, unit)
        valve.click(button="right")
        expect(page.get_by_label("Hold", exact=True)).to_have_value("f")
        assert float(page.get_by_label("Held value").input_value()) == pytest.approx(
            f[head], rel=1e-5)
    page.get_by_label("Held value").fill("0.25")
    page.get_by_label("Applies to").select_option("all")
    page.get_by_role("button", name="Hold from this step").click()
    page.wait_for_function(f"() => document.querySelector('{DIAGRAM}').dataset.session !== '{sid}'",
                           timeout=20_000)
    wait_t(page, 2)
    valves = page.locator(f'{DIAGRAM} g.valve[data-signal="f"]')
    expect(valves).to_have_count(2)
    for k in range(2):
        expect(valves.nth(k)).to_have_attribute("data-value", "0.250000")
        expect(valves.nth(k)).to_have_attribute("data-clamped", "true")
    check_values_against_trace(page, api)


def test_the_memory_cell_picture_exports_with_the_trace(page, errors, api, tmp_path):
    """Download diagram (SVG) of the picture: every data-value in the file (the tank's d × d
    entries with their head, row and column) is the trace's, the tank's colours inlined."""
    memory_cell(page, "?cell=mlstm&weights=seed&seed=5&hidden=4&heads=2&text=abcd&t=3&unit=2")
    wait_t(page, 3)
    sid = diagram_state(page)["session"]
    with page.expect_download() as info:
        page.get_by_role("button", name="Download diagram (SVG)").click()
    path = tmp_path / "diagram.svg"
    info.value.save_as(path)
    root = ET.parse(path).getroot()
    assert root.get("data-diagram") == "memory-cell" and root.get("data-unit") == "2"
    session = api("GET", f"/api/sessions/{sid}")
    shapes = {s["name"]: s["shape"] for s in session["signals"]}
    trace = api("GET", f"/api/sessions/{sid}/trace?start=3&stop=4")["signals"]
    valued = [el for el in root.iter() if el.get("data-value")]
    entries = [el for el in valued if el.get("data-row") is not None]
    assert len(entries) == 4  # head 1's 2 × 2 memory
    for el in valued:
        cell = (int(el.get("data-head")), int(el.get("data-row")), int(el.get("data-col"))) \
            if el.get("data-row") is not None else None
        signal = el.get("data-signal")
        expected = value_at(trace[signal][0], shapes[signal], 2, cell, 4)
        assert float(el.get("data-value")) == pytest.approx(expected, rel=1e-5, abs=1e-6), signal
    for el in entries:
        assert "fill:rgb(" in el.get("style", "").replace(" ", ""), el.get("style")
