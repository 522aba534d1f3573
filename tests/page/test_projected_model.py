"""An nn.LSTM(proj_size=P) model on the page: a torch-written Embedding → 2-layer
bidirectional projected LSTM → Linear uploaded through the page with its vocabulary. Both
styles draw the projection after the output valve (m_t, a W_hr box, h_t of P values); the
values shown are the trace route's for each layer and direction; past the P values of h
the page (diagram, keyboard, sensitivity view) says so; below P the sensitivity view shows
the route's numbers; stage mode walks the projection last; the new labels collide with
nothing; the keyboard reaches m_t and h_t; axe-core finds no serious violation."""

from __future__ import annotations

from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from gs_browser_helpers import (
    DIAGRAM,
    MODEL_TEXT,
    diagram_matches,
    diagram_state,
    part_trace,
    serious_violations,
    set_unit,
    upload_model_and_run,
    wait_t,
    write_projected_model,
)
from playwright.sync_api import expect

pytestmark = pytest.mark.browser
TEXT = MODEL_TEXT
H, P = 5, 3
OVERLAP_JS = (Path(__file__).parent / "overlap.js").read_text()
SENSITIVITY = '[data-view="sensitivity"]'


@pytest.fixture
def model_files(tmp_path):
    return write_projected_model(tmp_path, H, P)


def upload_through_page(page, weights, vocabulary) -> str:
    """Upload the model and its vocabulary with the page's form, run TEXT; the session id."""
    return upload_model_and_run(page, weights, vocabulary, TEXT)


def new_part_problems(page) -> list[str]:
    """Every collision (overlap.js) of the diagram on screen: with the projection drawn,
    no label overlaps another or a strip, and no pipe crosses a label."""
    return page.locator(DIAGRAM).evaluate(OVERLAP_JS)


def test_projected_model_through_the_page(page, errors, api, model_files, artifacts_dir):
    sid = upload_through_page(page, *model_files)
    record = api("GET", f"/api/sessions/{sid}")
    assert record["layers"] == 2 and record["cells"][1][1]["proj_size"] == P

    svg = page.locator(DIAGRAM)
    layer = page.get_by_label("Layer", exact=True)
    direction = page.get_by_label("Direction", exact=True)
    page.get_by_role("button", name="Step forward").click()
    page.get_by_role("button", name="Step forward").click()
    wait_t(page, 2)
    problems = []
    for style in ("olah", "memory-cell"):
        page.get_by_label("Diagram style").select_option(style)
        expect(svg).to_have_attribute("data-diagram", style)
        wait_t(page, 2)
        # the projection step: m_t, the W_hr box, h_t (P values) — the trace route's numbers
        expect(svg.locator('.node.box.projection[data-signal="h"]')).to_have_count(1)
        expect(svg.locator('path.flow[data-signal="m"]')).to_have_count(1)
        assert {"m", "h", "o", "c"} <= diagram_matches(page, api, 0, "forward")
        expect(svg.locator('g.strip[data-strip="h"]').first).to_have_attribute(
            "data-units", f"0-{P - 1}")
        expect(svg).to_contain_text(f"P = {P}")
        problems += [f"{style}: {p}" for p in new_part_problems(page)]
        page.locator(".viewer").screenshot(path=artifacts_dir / f"projected-{style}.png")
    assert not problems, "\n".join(problems)

    # both pickers: layer 1 reads layer 0's projected h (both directions)
    layer.select_option("1")
    expect(svg).to_contain_text("of layer 0")
    direction.select_option("backward")
    expect(page.locator("#direction-note")).to_contain_text("from the end")
    assert {"m", "h"} <= diagram_matches(page, api, 1, "backward")
    st = diagram_state(page)
    h_value = float(svg.locator('path.flow[data-signal="h"][data-value]').first
                    .get_attribute("data-value"))
    want = part_trace(api, sid, st["t"], 1, "backward")["h"][0][st["unit"]]
    assert h_value == pytest.approx(want, rel=1e-5, abs=5e-6)

    # past h's P values: no number, a sentence instead (m and c still have H values)
    set_unit(page, P + 1)
    h_pipe = svg.locator('path.flow[data-signal="h"]').first
    expect(h_pipe).to_have_attribute("data-beyond", "true")
    expect(h_pipe).not_to_have_attribute("data-value", "")
    assert svg.locator('[data-signal="h"][data-value]').count() == 0
    expect(svg.locator('text.value[data-signal="h"]').first).to_have_text(f"— (P = {P})")
    assert "m" in diagram_matches(page, api, 1, "backward")
    h_part = svg.locator('g.pipe[aria-label*="h_t["]').first
    expect(h_part).to_have_attribute("aria-label", f"h_t[{P + 1}]: none, h_t has P = {P} "
                                     f"values (units 0–{P - 1}); unit {P + 1} is one of the "
                                     f"H = {H} units of m_t and c_t only")
    problems = new_part_problems(page)
    assert not problems, "\n".join(problems)
    # no sensitivity of h there either (h has P values): the view says so, asks nothing
    expect(page.locator(SENSITIVITY)).to_contain_text(f"h_t has P = {P} values")
    set_unit(page, 1)
    # below P the sensitivity view shows the route's numbers for this layer and direction
    sens = page.locator(SENSITIVITY)
    expect(sens).to_have_attribute("data-t", str(st["t"]), timeout=10_000)
    rows = sens.evaluate(
        "v => Array.from(v.querySelectorAll('[data-step]'), e => [+e.dataset.step,"
        " +e.dataset.value])")
    body = api("GET", f"/api/sessions/{sid}/sensitivity?t={st['t']}&unit=1&layer=1"
                      "&direction=backward")
    assert [r[0] for r in rows] == list(range(body["start"], st["t"] + 1))
    assert [r[1] for r in rows] == pytest.approx(body["h"], rel=1e-7)

    # keyboard: the diagram's parts include m_t and h_t, after the output valve
    svg.locator('[tabindex="0"]').first.focus()
    names = []
    for _ in range(40):
        names.append(page.evaluate("() => document.activeElement.getAttribute('aria-label')"))
        page.keyboard.press("ArrowRight")
    order = [n.split("[")[0] for n in names[:len(set(names))]]
    assert "m_t" in order and "h_t" in order, order
    valve = next(k for k, n in enumerate(order) if n.startswith("output valve"))
    assert valve < order.index("m_t") < order.index("h_t"), order
    assert order[-1] == "h_t"  # the projection is the last step

    # stage mode: the projection is the last stage (from the server's cell description)
    page.get_by_label("Stage by stage").check()
    stages = page.locator("#stages button").evaluate_all("bs => bs.map(b => b.dataset.stage)")
    assert stages == record["cells"][1][1]["stages"] and stages[-1] == "projection"
    page.get_by_role("button", name="Step forward").click()
    t0 = diagram_state(page)["t"]
    for _ in range(len(stages) - 1):
        if svg.get_attribute("data-stage") == "projection":
            break
        assert svg.locator('[data-signal="h"][data-value]').count() == 0  # not yet
        page.get_by_role("button", name="Step forward").click()
    expect(svg).to_have_attribute("data-stage", "projection")
    assert diagram_state(page)["t"] == t0
    expect(svg.locator(".node.box.projection.active")).to_have_count(1)
    assert "h" in diagram_matches(page, api, 1, "backward")
    page.get_by_role("button", name="Step forward").click()
    expect(svg).to_have_attribute("data-stage", "inputs")

    result = Axe().run(page, context="main")
    bad = serious_violations(result)
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize(("hidden", "proj"), [(40, 1), (300, 200)])
def test_projection_clear_at_other_sizes(page, errors, api, tmp_path, hidden, proj):
    """P = 1 (h one number: never broadcast to other units) and wide H and P: the labels
    with the sizes still collide with nothing, in both styles."""
    upload_through_page(page, *write_projected_model(tmp_path, hidden, proj))
    svg = page.locator(DIAGRAM)
    page.get_by_label("Layer", exact=True).select_option("1")
    expect(svg).to_contain_text("of layer 0")
    set_unit(page, proj)  # the first unit past h's values
    for style in ("olah", "memory-cell"):
        page.get_by_label("Diagram style").select_option(style)
        expect(svg).to_have_attribute("data-diagram", style)
        expect(svg).to_contain_text(f"P = {proj}")
        expect(svg.locator('path.flow[data-signal="h"]').first).to_have_attribute(
            "data-beyond", "true")
        assert svg.locator('[data-signal="h"][data-value]').count() == 0
        assert {"m", "c"} <= diagram_matches(page, api, 1, "forward")
        problems = new_part_problems(page)
        assert not problems, f"{style}: " + "\n".join(problems)
    row = page.locator('#equation-list .eq-row[data-signal="h"] .eq-live')
    expect(row).to_have_text(f"[{proj}] none (P = {proj} values)")
