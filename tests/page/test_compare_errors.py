"""A comparison that fails says why, in the compare panel (issue 14, point 2): a session of
`?compare=` that is not on the server, and a "Compare with…" the server refuses (the
sequence has characters another preset's vocabulary has not)."""

from __future__ import annotations

import pytest
from gs_browser_helpers import DIAGRAM, open_view, wait_t
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

SLOT = '[data-error-for="compare"]'
GONE = "AAAAAAAAAAAAAAAAAAAAAA"  # an id of the right shape that no session has


def preset_session(api, name: str, text: str) -> str:
    return api("POST", "/api/sessions", {"preset": name, "sequence": {"text": text}})["id"]


def test_a_missing_session_of_the_compare_link_is_named(page, js_errors, api):
    first = preset_session(api, "long-memory-lstm", "d36198?")
    page.goto(f"/?compare={first},{GONE}&t=2")
    wait_t(page, 2)
    slot = page.locator(SLOT)
    expect(slot).to_contain_text(f"no session '{GONE}'")
    expect(slot).to_contain_text("not on this server")
    assert page.locator(DIAGRAM).first.get_attribute("data-session") == first


def test_a_missing_first_session_of_the_compare_link_is_named(page, js_errors):
    page.goto(f"/?compare={GONE},{GONE[:-1]}B&preset=counter")
    page.wait_for_function(f"() => document.querySelector('{DIAGRAM}')?.dataset.session",
                           timeout=20_000)
    expect(page.locator(SLOT)).to_contain_text(f"no session '{GONE}'")
    expect(page.locator(DIAGRAM)).to_have_count(1)  # the link's settings run instead


def test_a_refused_compare_with_says_why(page, js_errors):
    open_view(page, "?preset=counter&t=3")  # text with brackets and letters
    page.get_by_label("Compare with…").select_option("preset:long-memory-rnn")  # ?abcd0-9
    page.get_by_role("button", name="Compare", exact=True).click()
    slot = page.locator(SLOT)
    expect(slot).to_contain_text("Cannot compare")
    expect(slot).to_contain_text("sequence")
    expect(page.locator(DIAGRAM)).to_have_count(1)
