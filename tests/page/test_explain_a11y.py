"""axe-core on the explanation views (issue 14): the sensitivity view, a what-if session,
the compare view and a tour step have no serious or critical violation."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from gs_browser_helpers import DIAGRAM, serious_violations
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

HOLD = "f:1:6-41:all;i:0:6-41:all"


def test_axe_finds_no_serious_violation_in_the_new_views(page, errors, api):
    presets = {p["name"]: p for p in api("GET", "/api/presets")["presets"]}
    sample = presets["long-memory-lstm"]["sample"]
    ids = [api("POST", "/api/sessions", {"preset": n, "sequence": {"text": sample}})["id"]
           for n in ("long-memory-rnn", "long-memory-lstm")]
    views = [f"?preset=counter&t=8&sens_pipes=1&hold={HOLD}",
             f"?compare={','.join(ids)}&t=20&sens_of=c",
             "?tour=vanishing-sensitivity&tour_step=2"]
    axe = Axe()
    found = []
    for view in views:
        page.goto(f"/{view}")
        expect(page.locator('[data-view="sensitivity"] [data-step]').first).to_be_attached(
            timeout=20_000)
        expect(page.locator(DIAGRAM).first).not_to_have_attribute("data-t", "", timeout=20_000)
        found += [f"{view}: {line}" for line in serious_violations(axe.run(page))]
    assert not found, "\n".join(found)
