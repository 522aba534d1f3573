"""The Train panel in a real browser: train a tiny model from the page, watch its progress
and loss, see its session open; Cancel; and axe-core on the panel."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from gs_browser_helpers import DIAGRAM, diagram_state, open_view
from playwright.sync_api import expect

pytestmark = pytest.mark.browser
VIEW = "?cell=lstm&weights=seed&seed=3&hidden=4&text=hello"
TEXT = "a cat sat; a bat ate a rat. " * 5
PROGRESS = "#train-progress"


def _fill(page, text: str, hidden: int, steps: int) -> None:
    panel = page.get_by_role("region", name="Train")
    panel.get_by_label("what I type below").check()
    page.get_by_label("Training text").fill(text)
    page.get_by_label("Kind to train").select_option("gru")
    page.get_by_label("Training hidden size").fill(str(hidden))
    page.get_by_label("Training steps").fill(str(steps))


def test_a_model_trained_from_the_page_opens_as_a_session(page, errors, api):
    open_view(page, VIEW)
    before = diagram_state(page)["session"]
    _fill(page, TEXT, hidden=6, steps=40)
    page.get_by_role("button", name="Train", exact=True).click()
    expect(page.locator(PROGRESS)).to_have_attribute("data-state", "done", timeout=60_000)
    job = page.locator(PROGRESS).get_attribute("data-job")
    record = api("GET", f"/api/train/{job}")
    assert record["state"] == "done" and record["step"] == 40
    # the trained session is the one on screen, with the text it learned
    expect(page.locator(DIAGRAM)).to_have_attribute("data-session", record["session"],
                                                    timeout=20_000)
    assert record["session"] != before
    assert diagram_state(page)["cell"] == "gru"
    session = api("GET", f"/api/sessions/{record['session']}")
    assert session["sequence"]["text"] == TEXT and session["hidden_size"] == 6
    assert page.locator(PROGRESS).evaluate("p => [p.value, p.max]") == [40, 40]
    # every step's loss reached the chart, and the status says the last one
    expect(page.locator("[data-view='train-loss']")).to_have_attribute("data-points", "40")
    expect(page.locator("#train-status")).to_contain_text(f"loss {record['loss']:.4f}")
    assert page.locator("[data-view='train-loss'] .scatterlayer .trace").count() == 1


def test_cancel_stops_the_job_and_keeps_the_session_on_screen(page, errors, api):
    open_view(page, VIEW)
    before = diagram_state(page)["session"]
    _fill(page, TEXT, hidden=64, steps=20_000)
    page.get_by_role("button", name="Train", exact=True).click()
    page.wait_for_function(
        "() => +document.querySelector('#train-progress').dataset.step > 0", timeout=60_000)
    cancel = page.get_by_role("button", name="Cancel")
    expect(cancel).to_be_enabled()
    cancel.click()
    expect(page.locator(PROGRESS)).to_have_attribute("data-state", "cancelled", timeout=20_000)
    job = page.locator(PROGRESS).get_attribute("data-job")
    assert api("GET", f"/api/train/{job}")["state"] == "cancelled"
    expect(cancel).to_be_disabled()
    expect(page.get_by_role("button", name="Train", exact=True)).to_be_enabled()
    assert diagram_state(page)["session"] == before
    # a refused request is said in the panel, by its field
    page.get_by_label("Training steps").fill("0")
    page.get_by_role("button", name="Train", exact=True).click()
    expect(page.locator("#train-error")).to_contain_text("Training steps")


def test_the_train_panel_has_no_serious_accessibility_violation(page, errors):
    open_view(page, VIEW)  # trains on the sequence on screen ("hello": a batch of 4 fits)
    page.get_by_label("Training steps").fill("5")
    page.get_by_label("Training hidden size").fill("4")
    page.get_by_role("button", name="Train", exact=True).click()
    expect(page.locator(PROGRESS)).to_have_attribute("data-state", "done", timeout=60_000)
    result = Axe().run(page, context={"include": [["section.train"]]})
    found = [f"{v['id']} ({v['impact']}): {v['help']} {[n['target'] for n in v['nodes']]}"
             for v in result.response["violations"] if v["impact"] in ("serious", "critical")]
    assert not found, "\n".join(found)
