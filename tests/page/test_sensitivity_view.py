"""The sensitivity view (issue 14, point 1): one element per earlier step whose data-value
is the API's number, the API's numbers are torch autograd's (computed here), it follows the
cursor and the "Sensitivity of" control, and "Colour pipes by sensitivity" marks the pipes."""

from __future__ import annotations

import numpy as np
import pytest
from gs_browser_helpers import DIAGRAM, diagram_state, open_view, wait_t
from playwright.sync_api import expect

import cells
from tests.sensitivity_reference import torch_norms

pytestmark = pytest.mark.browser

VIEW = '[data-view="sensitivity"]'
TEXT = "hello world"
STEPS = """v => Array.from(v.querySelectorAll('[data-step]'), e => [Number(e.dataset.step),
  Number(e.dataset.value), Number(e.dataset.x),
  e.dataset.c === undefined ? null : Number(e.dataset.c)])"""


def shown(page, t: int, of: str = "h"):
    expect(page.locator(VIEW)).to_have_attribute("data-t", str(t), timeout=10_000)
    expect(page.locator(VIEW)).to_have_attribute("data-of", of, timeout=10_000)
    return page.locator(VIEW).evaluate(STEPS)


def test_values_are_the_apis_and_the_apis_are_torch_autograd(page, errors, api):
    open_view(page, f"?cell=lstm&weights=seed&seed=5&hidden=4&text={TEXT.replace(' ', '%20')}"
                    "&t=7&unit=2")
    wait_t(page, 7)
    session = diagram_state(page)["session"]
    for of in ("h", "c"):
        if of == "c":
            page.get_by_label("Sensitivity of").select_option("c")
        rows = shown(page, 7, of)
        body = api("GET", f"/api/sessions/{session}/sensitivity?t=7&unit=2&of={of}")
        assert [r[0] for r in rows] == list(range(body["start"], 8))
        np.testing.assert_allclose([r[1] for r in rows], body["h"], rtol=1e-7)
        np.testing.assert_allclose([r[2] for r in rows], body["x"], rtol=1e-7)
        np.testing.assert_allclose([r[3] for r in rows], body["c"], rtol=1e-7)
        record = api("GET", f"/api/sessions/{session}")
        vocab = record["vocabulary"]
        xs = np.eye(len(vocab))[[vocab.index(ch) for ch in TEXT]]
        cell = cells.create("lstm", input_size=len(vocab), hidden_size=4, seed=5)
        expected = torch_norms(cell, xs, 7, 2, of)  # float64 torch on the float32 weights
        for v in ("x", "h", "c"):
            np.testing.assert_allclose(body[v], expected[v], rtol=2e-4, atol=1e-6)


def test_follows_the_cursor_and_colours_pipes(page, errors, api):
    open_view(page, "?cell=gru&weights=seed&seed=2&hidden=3&text=abcabcabc&t=4")
    wait_t(page, 4)
    rows = shown(page, 4)
    assert len(rows) == 5 and rows[-1][1] == 1.0  # ∂h_t/∂h_t = 1
    assert page.get_by_label("Sensitivity of").locator('option[value="c"]').is_disabled()
    page.locator(DIAGRAM).focus()
    page.keyboard.press("ArrowRight")
    wait_t(page, 5)
    assert [r[0] for r in shown(page, 5)] == list(range(6))
    page.get_by_label("Colour pipes by sensitivity").check()
    pipe = page.locator(f'{DIAGRAM} [data-signal="h_prev"][data-sensitivity]').first
    expect(pipe).to_be_attached()
    session = diagram_state(page)["session"]
    body = api("GET", f"/api/sessions/{session}/sensitivity?t=5&unit=0")
    assert float(pipe.get_attribute("data-sensitivity")) == pytest.approx(body["h"][-2], rel=1e-5)
    page.locator(f'{VIEW} [data-step="2"]').click()  # a step of the view seeks there
    wait_t(page, 2)
    assert "sens_pipes=1" in page.url
