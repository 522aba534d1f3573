"""The form says what it does (issue 9): number fields are checked, not coerced; pasted
numbers follow the server's CSV rules; stages are the kind's; any click in a chart seeks."""

from __future__ import annotations

import json

import pytest
from gs_browser_helpers import (
    DIAGRAM,
    check_values_against_trace,
    diagram_state,
    open_view,
    wait_t,
)
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

RANDOM = "?cell=lstm&weights=seed&seed=1&hidden=4&text=abc"


def run_and_wait_new(page) -> str:
    old = diagram_state(page)["session"]
    page.get_by_role("button", name="Run").click()
    page.wait_for_function(
        "old => document.querySelector('svg[data-diagram]').dataset.session !== old", arg=old
    )
    return diagram_state(page)["session"]


INVALID_NUMBERS = [
    ("hidden-size", "1e2"),
    ("hidden-size", "0"),
    ("hidden-size", "-3"),
    ("hidden-size", "2.5"),
    ("seed", "-5"),
    ("seed", "x"),
]


def test_invalid_numbers_are_errors_at_their_field(page, errors):
    """Each case on one page (a page load costs more than the case): the field is given
    its valid value back before the next, so every case is refused for its own value."""
    open_view(page, RANDOM)
    before = diagram_state(page)["session"]
    valid = {field: page.locator(f"#{field}").input_value() for field, _ in INVALID_NUMBERS}
    posts = []  # sessions asked of the server from here on
    page.on("request", lambda r: posts.append(r.url)
            if r.method == "POST" and "/api/sessions" in r.url else None)
    for field, raw in INVALID_NUMBERS:
        page.locator(f"#{field}").fill(raw)
        slot = page.locator(f"#{field.split('-')[0]}-error")
        expect(slot).to_have_text("")  # editing the field took back its last refusal
        page.get_by_role("button", name="Run").click()
        expect(slot).to_contain_text("must be a whole number")
        expect(page.locator(f"#{field}")).to_have_attribute("aria-invalid", "true")
        # the click was refused in the page, before any request: nothing was sent, nothing ran
        assert posts == [], (field, raw)
        assert diagram_state(page)["session"] == before, (field, raw)  # nothing ran
        page.locator(f"#{field}").fill(valid[field])


def test_valid_numbers_are_used(page, errors, api):
    open_view(page, RANDOM)
    page.locator("#hidden-size").fill("12")
    page.locator("#seed").fill("77")
    sid = run_and_wait_new(page)
    made = api("GET", f"/api/sessions/{sid}")
    assert made["hidden_size"] == 12 and made["weights"] == {"seed": 77}


def test_pasted_numbers_follow_the_csv_rules(page, errors, api):
    open_view(page, RANDOM)
    page.get_by_label("numbers").check()
    box = page.get_by_label("Sequence", exact=True)
    # a first row with no number in it is a header, and the page says so
    box.fill("a,b\n1,2\n3,4")
    sid = run_and_wait_new(page)
    assert api("GET", f"/api/sessions/{sid}")["steps"] == 2
    expect(page.locator("#session-notice")).to_contain_text("read as a header")
    # a first row that fails to parse is not a header: it is an error naming row and column
    for text, cell in [("1,2\n3,x", "'x'"), ("1,2\n3,nan", "'nan'"), ("1,2\n3,inf", "'inf'")]:
        box.fill(text)
        page.get_by_role("button", name="Run").click()
        error = page.locator('[data-error-for="sequence"]')
        expect(error).to_contain_text(cell)
        expect(error).to_contain_text("column 2")
    # ';' does not split rows
    box.fill("0\n1;2\n3")
    page.get_by_role("button", name="Run").click()
    expect(page.locator('[data-error-for="sequence"]')).to_contain_text("'1;2' is not a number")
    assert diagram_state(page)["session"] == sid
    # the browser logs each refused request; those 422s are what this test asked for
    errors[:] = [e for e in errors if "status of 422" not in e]


@pytest.mark.parametrize(("kind", "absent"), [("gru", "c_t"), ("rnn", "gates")])
def test_stage_buttons_are_the_kinds_own(page, errors, api, kind, absent):
    open_view(page, f"?cell={kind}&weights=seed&seed=1&hidden=3&text=abc")
    cells = api("GET", "/api/cells")
    info = next(k for k in cells["kinds"] if k["kind"] == kind)
    buttons = page.locator("#stages button")
    assert buttons.evaluate_all("bs => bs.map(b => b.dataset.stage)") == info["stages"]
    captions = " ".join(buttons.all_inner_texts()).replace("\n", "")
    assert absent not in captions.replace("ct", "c_t"), captions


def test_any_click_in_the_line_chart_seeks(page, errors):
    open_view(page, "?cell=lstm&weights=seed&seed=1&hidden=4&text=abcdefghijklmnop")
    line = "#charts .chart-set.front .chart-row.line"
    page.wait_for_function(f"() => document.querySelector('{line}')?._fullLayout?.xaxis")
    page.locator(line).scroll_into_view_if_needed()
    for t, frac in [(3, 0.1), (7, 0.5), (11, 0.9), (14, 0.02)]:  # high, middle, low in the plot
        x, y = page.evaluate(
            """([sel, t, frac]) => { const gd = document.querySelector(sel);
            const fl = gd._fullLayout; const r = gd.getBoundingClientRect();
            return [r.left + fl.xaxis._offset + fl.xaxis.l2p(t),
                    r.top + fl.yaxis._offset + frac * fl.yaxis._length]; }""",
            [line, t, frac],
        )
        page.mouse.click(x, y)
        wait_t(page, t)
    expect(page.locator(DIAGRAM)).to_have_attribute("data-t", "14")


def test_live_typing_appends_one_step_per_character(page, errors, api):
    open_view(page, "?cell=lstm&weights=seed&seed=1&hidden=4&text=abc")
    sid = diagram_state(page)["session"]
    page.get_by_label("Live: each character").check()
    box = page.get_by_label("Sequence", exact=True)
    box.click()
    box.press("End")
    box.type("b")
    wait_t(page, 3)
    box.type("ca")
    wait_t(page, 5)
    assert diagram_state(page)["session"] == sid  # the same session, longer
    assert api("GET", f"/api/sessions/{sid}")["steps"] == 6
    expect(page.get_by_label("Time step")).to_have_attribute("max", "5")
    expect(page.locator("#form-status")).to_have_text("")
    check_values_against_trace(page, api)
    page.wait_for_function("() => new URLSearchParams(location.search).get('text') === 'abcbca'")


def test_server_errors_are_sentences_at_their_field(page, errors):
    open_view(page)
    page.get_by_label("Sequence", exact=True).fill("héllo")
    page.get_by_role("button", name="Run").click()
    error = page.locator('[data-error-for="sequence"]')
    expect(error).to_contain_text("'é'")
    text = error.inner_text()
    for jargon in ("validation", "List should", "less than or equal", "Input should"):
        assert jargon not in text, text
    errors[:] = [e for e in errors if "status of 422" not in e]


@pytest.mark.parametrize(("field", "value", "slot", "says"), [
    ("hidden_size", 100_000, "hidden", "over the limit"),
    ("seed", 2**64, "seed", "seed"),
])
def test_a_server_refusal_naming_a_size_or_seed_reaches_its_own_field(
        page, js_errors, field, value, slot, says):
    """The real server refuses a request whose `field` is out of its range (the request is
    the page's, with that one value raised on its way, as a server with other limits than
    the page was told would see it); the refusal is shown at that field, not another."""
    open_view(page, RANDOM)
    before = diagram_state(page)["session"]

    def raise_value(route):
        if route.request.method != "POST":
            return route.continue_()
        body = {**route.request.post_data_json, field: value}
        return route.continue_(post_data=json.dumps(body))

    page.route("**/api/sessions", raise_value)
    page.get_by_label("Sequence", exact=True).fill("abcd")
    page.get_by_role("button", name="Run").click()
    expect(page.locator(f'[data-error-for="{slot}"]')).to_contain_text(says)
    others = page.evaluate("s => Array.from(document.querySelectorAll('[data-error-for]'))"
                           ".filter(e => e.dataset.errorFor !== s).map(e => e.textContent)", slot)
    assert not any(others), others
    assert diagram_state(page)["session"] == before
