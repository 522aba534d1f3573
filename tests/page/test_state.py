"""One page state (issue 9): the settings table drives store, URL and form; the form shows
the session on screen; kinds, options, stages and limits come from GET /api/cells."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from gs_browser_helpers import DIAGRAM, diagram_state, open_view, wait_t
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def query(page) -> dict:
    return {k: v[0] for k, v in parse_qs(urlparse(page.url).query).items()}


def test_session_link_shows_that_sessions_form(page, errors, api):
    made = api(
        "POST",
        "/api/sessions",
        {
            "cell": "rnn",
            "seed": 41,
            "hidden_size": 5,
            "options": {"nonlinearity": "relu"},
            "sequence": {"text": "zyx"},
        },
    )
    open_view(page, f"?session={made['id']}")
    expect(page.get_by_label("random")).to_be_checked()
    expect(page.get_by_label("Cell kind", exact=True)).to_have_value("rnn")
    expect(page.locator("#option-nonlinearity")).to_have_value("relu")
    expect(page.locator("#seed")).to_have_value("41")
    expect(page.locator("#hidden-size")).to_have_value("5")
    expect(page.get_by_label("Sequence", exact=True)).to_have_value("zyx")
    expect(page.locator("#form-status")).to_have_text("")
    # Run without edits keeps the same kind of session (not the counter preset)
    page.get_by_role("button", name="Run").click()
    page.wait_for_function(
        "old => document.querySelector('svg[data-diagram]').dataset.session !== old", arg=made["id"]
    )
    again = api("GET", f"/api/sessions/{diagram_state(page)['session']}")
    assert (again["cell"], again["hidden_size"], again["options"]) == (
        "rnn",
        5,
        {"nonlinearity": "relu"},
    )


def test_unrun_edits_are_marked_and_stay_out_of_the_url(page, errors):
    open_view(page, "?cell=lstm&weights=seed&seed=2&hidden=4&text=abc")
    page.wait_for_function("() => /session=/.test(location.search)")
    before = query(page)
    page.get_by_label("Sequence", exact=True).fill("something else")
    page.locator("#seed").fill("9")
    expect(page.locator("#form-status")).to_have_text("changed — Run to apply")
    page.get_by_role("button", name="Step forward").click()  # a view change writes the URL
    wait_t(page, 1)
    page.wait_for_function("() => /[?&]t=1/.test(location.search)")
    after = query(page)
    assert after["text"] == before["text"] == "abc" and after["seed"] == "2"
    # undoing the edits clears the mark
    page.get_by_label("Sequence", exact=True).fill("abc")
    page.locator("#seed").fill("2")
    expect(page.locator("#form-status")).to_have_text("")


def test_url_holds_only_what_applies(page, errors):
    open_view(
        page, "?cell=lstm&weights=seed&seed=1&hidden=4&text=ab&nonlinearity=relu&reset_after=0"
    )
    page.wait_for_function("() => /session=/.test(location.search)")
    q = query(page)
    assert "nonlinearity" not in q and "reset_after" not in q, q
    # an RNN's option applies to the RNN
    open_view(page, "?cell=rnn&weights=seed&seed=1&hidden=4&text=ab&nonlinearity=relu")
    page.wait_for_function("() => /session=/.test(location.search)")
    assert query(page)["nonlinearity"] == "relu"
    # the preset fixes the cell and sizes: no seed or hidden size in its links
    open_view(page, "?preset=counter&seed=5&hidden=7")
    page.wait_for_function("() => /session=/.test(location.search)")
    q = query(page)
    assert "seed" not in q and "hidden" not in q and "cell" not in q, q


def test_kinds_options_stages_and_limits_come_from_the_server(page, errors, api):
    cells = api("GET", "/api/cells")
    open_view(page, "?cell=gru&weights=seed&seed=1&hidden=3&text=abc")
    kinds = page.locator("#cell-kind option").evaluate_all("os => os.map(o => o.value)")
    assert kinds == [k["kind"] for k in cells["kinds"]]
    for kind in cells["kinds"]:
        page.get_by_label("Cell kind", exact=True).select_option(kind["kind"])
        for name, values in kind["option_values"].items():
            control = page.locator(f"#option-{name}")
            expect(control).to_be_visible()
            if control.evaluate("c => c.type") == "select-one":
                shown = control.locator("option").evaluate_all("os => os.map(o => o.value)")
                assert shown == [str(v) for v in values]
        others = {n for k in cells["kinds"] for n in k["option_values"]} - set(
            kind["option_values"]
        )
        for name in others:
            expect(page.locator(f"#option-{name}")).to_be_hidden()
    # the stage buttons are the kind's stages, in the server's order
    gru = next(k for k in cells["kinds"] if k["kind"] == "gru")
    stages = page.locator("#stages button").evaluate_all("bs => bs.map(b => b.dataset.stage)")
    assert stages == gru["stages"]
    # the limit on the hidden size is the server's
    page.get_by_label("Cell kind", exact=True).select_option("lstm")
    limit = cells["limits"]["max_hidden_size"]
    page.locator("#hidden-size").fill(str(limit + 1))
    page.get_by_role("button", name="Run").click()
    expect(page.locator('[data-error-for="hidden"]')).to_contain_text(f"from 1 to {limit}")
    expect(page.locator(DIAGRAM)).to_have_attribute("data-cell", "gru")  # nothing ran
