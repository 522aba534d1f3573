"""The block box (issue 22): a minLM written by minGRU-pytorch, uploaded through the page
with its tokenizer.json, is drawn with one box around the cell: the stream in, the conv,
the norm the cell reads, the out projection, the residual add, the feed-forward and the
stream out, each showing the server's number for the chosen stream channel at the
cursor's step; the labels sit outside the diagram; keyboard reachable and axe-clean."""

from __future__ import annotations

from pathlib import Path

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.page.gs_browser_helpers import (
    DIAGRAM,
    open_view,
    part_trace,
    run_new_session,
    serious_violations,
    upload_model_and_run,
    wait_t,
)
from tests.support import MIN_LM_TEXT, write_min_lm

BOX = '[data-view="block-box"]'
OVERLAP_JS = (Path(__file__).parent / "overlap.js").read_text()
PARTS = ["block_in", "conv", "norm", "cell_out", "residual", "ff", "block_out"]


def box_matches(page, api, sid: str, t: int, layer: int, channel: int) -> None:
    """Every number of the box is the trace route's block row at (t, channel) of `layer`."""
    box = page.locator(BOX)
    expect(box).to_have_attribute("data-t", str(t))
    expect(box).to_have_attribute("data-channel", str(channel))
    shown = box.locator(".block-part [data-value]").evaluate_all(
        "es => es.map(e => [e.dataset.signal, e.dataset.value])")
    assert [signal for signal, _ in shown] == [f"block.{p}" for p in PARTS]
    rows = part_trace(api, sid, t, layer, "forward", names=",".join(s for s, _ in shown))
    for signal, raw in shown:
        assert float(raw) == rows[signal][0][channel], (signal, t, layer, channel)


def overlaps(page) -> list[str]:
    """The box's labels that overlap the diagram (its svg, or any text in it)."""
    return page.evaluate("""([box, diagram]) => {
      const svg = document.querySelector(diagram);
      const hit = (a, b) => a.left < b.right && b.left < a.right
        && a.top < b.bottom && b.top < a.bottom;
      const boxes = [svg.getBoundingClientRect(),
                     ...Array.from(svg.querySelectorAll('text'), (t) => t.getBoundingClientRect())];
      const out = [];
      const labels = [".block-part", ".block-head", ".block-legend"].map((c) => `${box} ${c}`);
      for (const part of document.querySelectorAll(labels.join(", "))) {
        const r = part.getBoundingClientRect();
        if (boxes.some((b) => b.width && hit(r, b))) out.push(part.textContent.trim().slice(0, 40));
      }
      return out; }""", [BOX, DIAGRAM])


def test_the_block_box_shows_the_server_s_rows_around_the_cell(page, errors, api, tmp_path,
                                                              artifacts_dir):
    write_min_lm(tmp_path)
    sid = upload_model_and_run(page, tmp_path / "model.safetensors",
                               tmp_path / "tokenizer.json", MIN_LM_TEXT)
    box = page.locator(BOX)
    expect(box).to_be_visible()
    # the diagram is inside the box, between the parts before and after the cell
    assert page.locator(f"{BOX} .block-before + #diagram-host + .block-after").count() == 1
    expect(box.locator(".block-label")).to_have_text(
        ["stream in", "causal conv", "RMSNorm", "out projection", "+ residual",
         "feed-forward", "stream out"])
    box_matches(page, api, sid, 0, 0, 0)
    page.locator(DIAGRAM).focus()
    for t in (1, 2, 3):
        page.keyboard.press("ArrowRight")
        wait_t(page, t)
    box_matches(page, api, sid, 3, 0, 0)
    assert overlaps(page) == []
    # another stream channel, typed into the box
    page.get_by_label("Stream channel").fill("5")
    page.get_by_label("Stream channel").press("Enter")
    box_matches(page, api, sid, 3, 0, 5)
    # the upper layer: its own block's rows
    page.get_by_label("Layer", exact=True).select_option("1")
    expect(page.locator(BOX).locator(".block-title")).to_have_text("Block around layer 1's cell")
    box_matches(page, api, sid, 3, 1, 0)
    assert overlaps(page) == []
    # the cell reads the block's norm, and says so with no collision in the diagram
    expect(page.locator(DIAGRAM)).to_contain_text("norm of the stream")
    assert page.locator(DIAGRAM).evaluate(OVERLAP_JS) == []
    box.screenshot(path=str(artifacts_dir / "block-box.png"))
    # keyboard: from the channel, Tab reaches each part in the stream's order (the parts
    # after the cell once the diagram's own stops are passed)
    page.get_by_label("Stream channel").focus()
    reached = []
    for _ in range(200):
        page.keyboard.press("Tab")
        part = page.evaluate("() => document.activeElement.dataset.part ?? null")
        if part:
            reached.append(part)
        if part == PARTS[-1]:
            break
    assert reached == PARTS
    found = serious_violations(Axe().run(page))
    assert found == [], "\n".join(found)
    # a session without blocks (a seeded cell) puts the diagram back where it was
    page.get_by_label("random", exact=True).check()
    run_new_session(page)
    expect(page.locator(BOX)).to_have_count(0)
    assert page.locator(".diagrams > #diagram-host > svg[data-diagram]").count() == 1


def test_a_session_without_blocks_keeps_the_diagram_unframed(page, errors):
    open_view(page, "?cell=lstm&weights=seed&seed=3&hidden=4&text=hello")
    assert page.locator(BOX).count() == 0
    assert page.locator(".diagrams > #diagram-host").count() == 1
