"""The stream drops (the server restarts): the page reconnects and resumes at the same t."""

from __future__ import annotations

import pytest
from gs_browser_helpers import DIAGRAM, check_values_against_trace, wait_t
from playwright.sync_api import expect

from tests.support import ServerProcess, free_port

pytestmark = pytest.mark.browser


def test_reconnects_and_resumes_at_the_same_t(page, errors, tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # the page's own console errors for the refused reconnection attempts are expected here
    try:
        with ServerProcess(tmp_path, port=port):
            page.goto(f"{base}/?t=4")
            expect(page.locator(DIAGRAM)).to_have_attribute("data-t", "4", timeout=20_000)
        expect(page.locator("#connection")).to_have_attribute("data-state", "reconnecting")
        with ServerProcess(tmp_path, port=port):
            expect(page.locator("#connection")).to_have_attribute("data-state", "open",
                                                                  timeout=15_000)
            wait_t(page, 4)
            page.get_by_role("button", name="Step forward").click()
            wait_t(page, 5)

            def api(method, path):
                import json
                import urllib.request

                with urllib.request.urlopen(base + path) as r:
                    return json.loads(r.read())

            check_values_against_trace(page, api)
    finally:
        errors.clear()  # refused WebSocket connections while the server was down
