"""Live typing goes by graphemes (issue 9): an emoji with its skin tone and an accented
letter made with a combining mark are one step each; the step count and the cursor follow,
the marked input is the whole grapheme, and the numbers are the server's."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from gs_browser_helpers import DIAGRAM, check_values_against_trace, diagram_state, open_view, wait_t
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

E_ACUTE = "e\u0301"  # e + COMBINING ACUTE ACCENT
THUMB = "\U0001F44D\U0001F3FD"  # thumbs up + medium skin tone
START = "ae" + THUMB + E_ACUTE  # 4 steps; its vocabulary: a, e, 👍🏽, é


def test_live_typing_counts_graphemes(page, errors, api):
    open_view(page, "?cell=lstm&weights=seed&seed=1&hidden=4&text=" + quote(START))
    sid = diagram_state(page)["session"]
    assert api("GET", f"/api/sessions/{sid}")["steps"] == 4
    expect(page.locator("#live-hint")).to_contain_text("one step per character as you see it",
                                                       ignore_case=True)
    expect(page.locator("#live-hint")).to_contain_text("emoji and accented letters included")
    page.get_by_label("Live: each character").check()
    box = page.get_by_label("Sequence", exact=True)
    box.click()
    box.press("End")
    mark = page.locator("#input-readout mark")

    page.keyboard.insert_text(THUMB)  # as an emoji picker inserts it: two code points
    wait_t(page, 4)
    expect(mark).to_have_text(THUMB)
    page.keyboard.insert_text(E_ACUTE)  # an accented letter made with a combining mark
    wait_t(page, 5)
    expect(mark).to_have_text(E_ACUTE)
    assert api("GET", f"/api/sessions/{sid}")["steps"] == 6
    expect(page.get_by_label("Time step")).to_have_attribute("max", "5")

    # the letter, then its accent on its own (a dead key): the accent changes that step
    box.press("e")
    wait_t(page, 6)
    expect(mark).to_have_text("e")
    page.keyboard.insert_text("\u0301")
    expect(mark).to_have_text(E_ACUTE)
    expect(page.locator(DIAGRAM)).to_have_attribute("data-t", "6")
    expect(page.get_by_label("Time step")).to_have_attribute("max", "6")
    session = api("GET", f"/api/sessions/{sid}")
    whole = START + THUMB + E_ACUTE + E_ACUTE
    assert session["steps"] == 7 and session["sequence"]["text"] == whole
    assert diagram_state(page)["session"] == sid
    check_values_against_trace(page, api)  # the last step's numbers are of é, not of e

    # the trace equals the API's for the same text made at once
    at_once = api("POST", "/api/sessions", {"cell": "lstm", "hidden_size": 4, "seed": 1,
                                            "sequence": {"text": whole}})
    assert at_once["steps"] == 7
    assert (api("GET", f"/api/sessions/{sid}/trace")["signals"]
            == api("GET", f"/api/sessions/{at_once['id']}/trace")["signals"])
    expect(page.locator("#form-status")).to_have_text("")
