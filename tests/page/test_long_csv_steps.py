"""A long CSV session steps like a text session (issue 19, point 6): the CSV picked in the
form fills the text box, and nothing of it goes with each URL write — not in the link (it
stays short) and not in the history entry, where Chromium keeps the state of every form
control that allows it (a megabyte copied per key before): the text boxes opt out with
autocomplete="off", and the page restores their text from the link itself."""

from __future__ import annotations

import random

import pytest
from gs_browser_helpers import DIAGRAM, open_view, wait_t
from playwright.sync_api import expect

pytestmark = pytest.mark.browser
ROWS = 20_000


def test_a_long_csv_steps_without_carrying_its_text(page, errors, tmp_path):
    rng = random.Random(3)
    path = tmp_path / "rows.csv"
    path.write_text("a,b,c\n" + "\n".join(
        ",".join(f"{rng.uniform(-1, 1):.4f}" for _ in range(3)) for _ in range(ROWS)) + "\n")
    open_view(page, "?cell=gru&weights=seed&seed=1&hidden=4&text=abc")
    before = page.locator(DIAGRAM).get_attribute("data-session")
    page.locator("#sequence-csv").set_input_files(str(path))
    page.wait_for_function("n => document.querySelector('#sequence-text').value.length > n",
                           arg=ROWS * 10, timeout=30_000)
    page.get_by_role("button", name="Run").click()
    page.wait_for_function(f"() => document.querySelector('{DIAGRAM}').dataset.session"
                           f" !== '{before}'", timeout=60_000)
    page.get_by_label("Time step").fill(str(ROWS // 2))
    wait_t(page, ROWS // 2)
    page.locator("body").click(position={"x": 3, "y": 3})
    for k in range(1, 4):
        page.keyboard.press("ArrowRight")
        wait_t(page, ROWS // 2 + k)
    page.wait_for_function(f"() => location.search.includes('t={ROWS // 2 + 3}')")
    assert page.evaluate("() => location.href.length") < 400
    # no text box keeps a copy of the sequence in the browser's history entries
    for box in page.locator("textarea").all():
        expect(box).to_have_attribute("autocomplete", "off")
