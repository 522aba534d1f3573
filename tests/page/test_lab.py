"""The Lab view in a real browser: /?lab=NAME shows the committed results file's table (one
row per arm, its mean in data-value, each learning rate's mean ± CI and the article's
numbers beside), its claims, curves and log; "open" opens the arm's preset; axe-core."""

from __future__ import annotations

import json
import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from gs_browser_helpers import DIAGRAM, serious_violations
from playwright.sync_api import expect

from cells.lab.runner import RESULTS

pytestmark = pytest.mark.browser
COMMITTED = sorted(p.stem for p in RESULTS.glob("*.json"))


def fmt(x: float) -> str:  # as the page writes a number
    return f"{x:.1f}" if abs(x) >= 100 else f"{x:.2f}" if abs(x) >= 10 else f"{x:.4f}"


def open_lab(page, name: str):
    page.goto(f"/?lab={name}")
    view = page.locator("[data-view='lab']")
    expect(view).to_have_attribute("data-ready", "true", timeout=20_000)
    return view


@pytest.mark.parametrize("name", COMMITTED)
def test_the_table_is_the_results_file(page, js_errors, name):
    results = json.loads((RESULTS / f"{name}.json").read_text())
    view = open_lab(page, name)
    rows = view.locator("tbody tr")
    assert rows.evaluate_all("rs => rs.map(r => r.dataset.arm)") == [
        a["name"] for a in results["arms"]]
    primary = results["primary"]
    for arm in results["arms"]:
        row = view.locator(f"tr[data-arm='{arm['name']}']")
        assert float(row.get_attribute("data-value")) == arm["summary"][primary]["mean"]
        for lr in results["lrs"]:
            s = arm["by_lr"][lr][primary]
            expect(row.locator(f"td[data-lr='{lr}']")).to_have_text(
                f"{fmt(s['mean'])} ± {fmt(s['ci95'])}")
            paper = (results["paper"] or {}).get("by_lr", {}).get(lr, {}).get(arm["name"])
            if paper:
                expect(row.locator(f"td[data-paper='{lr}']")).to_have_text(
                    f"{paper[0]:g} ± {paper[1]:g}")
        assert row.get_attribute("title").count("seed") == len(arm["trials"])  # on hover
    expect(view.locator(".lab-conclusions li")).to_have_count(len(results["conclusions"]))
    assert view.locator(".lab-log pre").text_content() == (RESULTS / f"{name}.log").read_text()
    traces = page.locator("[data-view='lab-curves'] .scatterlayer .trace")
    expect(traces).to_have_count(len(results["arms"]) * len(results["lrs"]))
    by_length = [a for a in results["arms"]
                 if any({"accepted_by_n", "accuracy_by_n"} & set(t.get("extra", {}))
                        for t in a["trials"])]
    if by_length:  # accuracy (or acceptance) against length: one line per arm
        expect(page.locator("[data-view='lab-length'] .scatterlayer .trace")).to_have_count(
            len(by_length))


@pytest.mark.parametrize("name", COMMITTED[:1])
def test_open_shows_the_arms_best_model_in_the_diagram(page, errors, api, name):
    view = open_lab(page, name)
    arm = view.locator("tbody tr").first.get_attribute("data-arm")
    view.locator(f"a[data-open='{arm}']").click()
    expect(page).to_have_url(re.compile(rf"\?preset=lab-{name}-{arm}(&|$)"))
    expect(page.locator(DIAGRAM)).to_have_attribute("data-session", re.compile(".+"),
                                                    timeout=20_000)
    session = api("GET", f"/api/sessions/{page.locator(DIAGRAM).get_attribute('data-session')}")
    assert session["preset"] == f"lab-{name}-{arm}"


def test_an_unknown_experiment_says_which_exist(page, js_errors):
    page.goto("/?lab=no-such")
    alert = page.locator("[data-view='lab'] [role='alert']")
    expect(alert).to_contain_text("experiments: written-memories")


@pytest.mark.parametrize("name", COMMITTED[:1])
def test_the_lab_view_has_no_serious_accessibility_violations(page, name):
    open_lab(page, name)
    result = Axe().run(page, context="[data-view='lab']")
    assert serious_violations(result) == []
