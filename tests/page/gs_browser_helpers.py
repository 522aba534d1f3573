"""Helpers shared by the browser tests (plain functions, no fixtures)."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

import cells

DIAGRAM = "svg[data-diagram]"
# Every kind in every diagram style it has, as (kind, style, extra URL query).
# Every kind of cells.KINDS whose signals are one number per unit at each step, in every
# diagram style it has (the memory-cell style where its state holds a cell c), and the
# GRU's other reset (an option that changes the drawing), as (kind, style, extra URL
# query): a new kind is drawn here without being named. A kind with matrix signals (a
# Mamba's channel × N states, an mLSTM's memory per head) reads its numbers by more than a
# unit; its own page test checks them.
def _vectors_only(kind: str) -> bool:
    return all(len(s["shape"]) == 1 for s in cells.kind_info(kind)["signals"])


KIND_VIEWS = [(kind, style, "") for kind in cells.KINDS if _vectors_only(kind)
              for style in ("olah", "memory-cell")
              if style == "olah" or "c" in cells.kind_info(kind)["state"]]
KIND_VIEWS.insert(KIND_VIEWS.index(("gru", "olah", "")) + 1, ("gru", "olah", "&reset_after=0"))

ROOT = Path(__file__).resolve().parents[2]

def open_view(page: Page, query: str = "") -> None:
    """Open the page with `query` and wait until the diagram shows a frame."""
    page.goto(f"/{query}")
    page.wait_for_function(
        "() => { const s = document.querySelector('svg[data-diagram]');"
        " return s && s.getAttribute('data-t') !== '' && s.getAttribute('data-session') }",
        timeout=20_000,
    )


def wait_t(page: Page, t: int) -> None:
    expect(page.locator(DIAGRAM)).to_have_attribute("data-t", str(t), timeout=10_000)


def diagram_state(page: Page) -> dict:
    return page.locator(DIAGRAM).evaluate(
        "s => ({t: +s.dataset.t, unit: +s.dataset.unit, session: s.dataset.session,"
        " diagram: s.dataset.diagram, cell: s.dataset.cell})"
    )


def shown_values(page: Page) -> list[tuple[str, float, str, bool]]:
    """(signal, value, raw attribute, whether it shows 1 − the signal) of every element of
    the diagram with a data-value."""
    return page.locator(DIAGRAM).evaluate(
        "s => Array.from(s.querySelectorAll('[data-value]'),"
        " e => [e.getAttribute('data-signal'), parseFloat(e.getAttribute('data-value')),"
        " e.getAttribute('data-value'), e.getAttribute('data-complement') === 'true'])"
    )


def check_values_against_trace(page: Page, api, tol: float = 5e-6) -> set[str]:
    """Every data-value equals the engine's trace at (t, unit); returns the signals checked."""
    st = diagram_state(page)
    t, unit = st["t"], st["unit"]
    trace = api("GET", f"/api/sessions/{st['session']}/trace?start={t}&stop={t + 1}")
    values = shown_values(page)
    assert values, "no element carries a data-value"
    session = api("GET", f"/api/sessions/{st['session']}")
    shapes = {s["name"]: s.get("shape") for s in session["signals"]}
    entries = matrix_cells(page)
    checked = set()
    for k, (signal, value, raw, complement) in enumerate(values):
        assert signal, "an element with data-value has no data-signal"
        decimals = raw.split(".")[1] if "." in raw else ""
        assert len(decimals) >= 4, f"{signal}: data-value {raw!r} has fewer than 4 decimals"
        expected = value_at(trace["signals"][signal][0], shapes.get(signal), unit, entries[k],
                            session["hidden_size"])
        if complement:  # the GRU's write valve shows 1 − z_t
            expected = 1.0 - expected
        assert math.isclose(value, expected, rel_tol=1e-5, abs_tol=tol), (
            f"{signal}[t={t}, unit={unit}]: page shows {value}, engine has {expected}"
        )
        checked.add(signal)
    return checked


def matrix_cells(page: Page) -> list[tuple[int, int, int] | None]:
    """For each element shown_values lists, (head, row, column) where it is one entry of a
    matrix memory (the mLSTM's tank), else None."""
    return [tuple(c) if c else None for c in page.locator(DIAGRAM).evaluate(
        "s => Array.from(s.querySelectorAll('[data-value]'), e => e.hasAttribute('data-row')"
        " ? [+e.dataset.head, +e.dataset.row, +e.dataset.col] : null)")]


def value_at(step, shape: list[str] | None, unit: int, cell=None, hidden: int = 0) -> float:
    """The number a part shows for `unit` from one step of a trace: an entry of a matrix
    (cell = (head, row, column)); the unit's head's number (shape ["heads"], the H units in
    heads of d); the unit's entry of a per-head vector (["heads", "d"], H in all); else
    step[unit]."""
    if cell is not None:
        head, row, col = cell
        return step[head][row][col]
    if shape and shape[0] == "heads" and len(shape) == 1:
        return step[unit // (hidden // len(step))]
    if shape and shape[0] == "heads" and len(shape) == 2:
        return [x for head in step for x in head][unit]
    return step[unit]


def svg_text(page: Page) -> str:
    return page.locator(DIAGRAM).evaluate("s => s.textContent")


def run_new_session(page: Page) -> str:
    """Press Run and wait until the diagram shows a session other than the one before; its id."""
    old = diagram_state(page)["session"]
    page.get_by_role("button", name="Run").click()
    page.wait_for_function(
        "old => document.querySelector('svg[data-diagram]').dataset.session !== old", arg=old
    )
    return diagram_state(page)["session"]


def upload_model_and_run(page: Page, weights: Path, vocabulary: Path, text: str) -> str:
    """Open the page, upload a text model's weights and vocabulary with the form, run `text`;
    the new session's id."""
    open_view(page, "")
    page.get_by_label("file", exact=True).check()
    page.set_input_files("#vocabulary-file", str(vocabulary))
    page.set_input_files("#weights-file", str(weights))
    expect(page.locator("#weights-id")).to_contain_text(weights.name)
    page.get_by_label("text", exact=True).check()
    page.get_by_label("Sequence", exact=True).fill(text)
    return run_new_session(page)


def part_trace(api, sid: str, t: int, layer: int, direction: str, names: str | None = None) -> dict:
    """The trace route's signals at step t of one cell of a model session (layer, direction);
    only `names` (comma-separated) when given."""
    query = f"start={t}&stop={t + 1}&layer={layer}&direction={direction}"
    if names:
        query += f"&names={names}"
    return api("GET", f"/api/sessions/{sid}/trace?{query}")["signals"]


def diagram_matches(page, api, layer, direction, timeout=15.0) -> set[str]:
    """Wait until every data-value of the diagram is the trace route's at (t, unit) of that
    layer and direction; returns the signals checked."""
    deadline = time.monotonic() + timeout
    while True:
        st = diagram_state(page)
        trace = part_trace(api, st["session"], st["t"], layer, direction)
        values = shown_values(page)
        wrong = []
        for signal, value, _raw, complement in values:
            expected = trace[signal][0][st["unit"]]
            expected = 1.0 - expected if complement else expected
            if not math.isclose(value, expected, rel_tol=1e-5, abs_tol=5e-6):
                wrong.append((signal, value, expected))
        if values and not wrong:
            return {v[0] for v in values}
        if time.monotonic() > deadline:
            raise AssertionError(f"layer {layer} {direction}: diagram differs: {wrong[:5]}")
        time.sleep(0.2)


def wait_session_change(page: Page, before: str) -> None:
    """Wait until the diagram shows a session other than `before` (a hold or an edit made)."""
    page.wait_for_function(f"() => document.querySelector('{DIAGRAM}')"
                           f".getAttribute('data-session') !== '{before}'", timeout=20_000)


def hold(page: Page, signal: str, value: str, every_unit: bool = True) -> None:
    """Right-click the signal's valve and hold it at `value` from this step, for every unit
    or the drawn one; waits for the held session."""
    before = diagram_state(page)["session"]
    valve = page.locator(f'{DIAGRAM} g[data-signal="{signal}"][data-value]:visible').first
    valve.click(button="right")
    expect(page.get_by_label("Hold", exact=True)).to_have_value(signal)
    page.get_by_label("Held value").fill(value)
    page.get_by_label("Applies to").select_option("all" if every_unit else "one")
    page.get_by_role("button", name="Hold from this step").click()
    wait_session_change(page, before)


def serious_violations(result) -> list[str]:
    """axe-core's serious and critical violations in `result`, one line each: the rule, its
    impact, its help and the first three elements it names."""
    return [f"{v['id']} ({v['impact']}): {v['help']} {[n['target'] for n in v['nodes'][:3]]}"
            for v in result.response["violations"] if v["impact"] in ("serious", "critical")]


# Plotly's drawing API: every function of it that can draw or redraw a plot.
_COUNT_PLOTLY = """within => { const P = window.Plotly; window.__plotlyCalls = [];
  for (const k of ['react', 'newPlot', 'restyle', 'relayout', 'update', 'redraw', 'addTraces',
                   'deleteTraces', 'extendTraces', 'moveTraces', 'animate', 'purge']) {
    const f = P[k];
    if (typeof f === 'function') P[k] = function (gd, ...rest) {
      if (gd?.closest?.(within)) window.__plotlyCalls.push(k);
      return f.call(this, gd, ...rest); };
  } }"""


def count_plotly_calls(page: Page, within: str) -> None:
    """From now on, list in window.__plotlyCalls every call into Plotly's drawing API on a
    div inside `within` (a CSS selector)."""
    page.evaluate(_COUNT_PLOTLY, within)


def settled_draws(page: Page, view: str, timeout: float = 20_000) -> int:
    """Wait until the Plotly view `view` (a CSS selector of the element carrying its
    data-drawing and data-draws) has painted everything it was asked to show (nothing
    fetched or drawn under way); how many Plotly draws it has made."""
    page.wait_for_function("v => document.querySelector(v)?.dataset.drawing === '0'", arg=view,
                           timeout=timeout)
    return int(page.locator(view).get_attribute("data-draws"))


# -- torch-written text models uploaded through the page ------------------------------------
MODEL_VOCABULARY = list("abcdefgh ")
MODEL_TEXT = "a bad cafe fed a badge"


def _write_text_model(folder: Path, name: str, lstm_args: dict, head_inputs: int, embed: int,
                      seed: int) -> tuple[Path, Path]:
    """Embedding → nn.LSTM(**lstm_args) → Linear over MODEL_VOCABULARY, written by torch
    (safetensors) with its vocab.json; (weights, vocabulary)."""
    import torch  # only the tests that write a model need it
    from safetensors.torch import save_file

    torch.manual_seed(seed)

    class TextModel(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(len(MODEL_VOCABULARY), embed)
            self.lstm = torch.nn.LSTM(embed, **lstm_args)
            self.fc = torch.nn.Linear(head_inputs, len(MODEL_VOCABULARY))

    weights = folder / name
    save_file(TextModel().state_dict(), str(weights))
    vocabulary = folder / "vocab.json"
    vocabulary.write_text(json.dumps(MODEL_VOCABULARY))
    return weights, vocabulary


def write_stacked_model(folder: Path) -> tuple[Path, Path]:
    """A 2-layer bidirectional LSTM text model (E = 4, H = 5)."""
    return _write_text_model(folder, "stacked.safetensors",
                             {"hidden_size": 5, "num_layers": 2, "bidirectional": True},
                             head_inputs=10, embed=4, seed=2)


def write_projected_model(folder: Path, hidden: int = 5, proj: int = 3) -> tuple[Path, Path]:
    """A 2-layer bidirectional LSTM(proj_size) text model (E = 4)."""
    return _write_text_model(folder, f"projected-{hidden}-{proj}.safetensors",
                             {"hidden_size": hidden, "num_layers": 2, "bidirectional": True,
                              "proj_size": proj}, head_inputs=2 * proj, embed=4, seed=5)


def prediction_matches(page: Page, api, sid: str, time_step: int) -> None:
    """The prediction view's five items are the trace route's most likely tokens at
    `time_step`, with its probabilities."""
    items = page.locator('[data-view="prediction"] [data-token]')
    expect(items).to_have_count(5)
    probs = part_trace(api, sid, time_step, 0, "forward", names="probs")["probs"][0]
    shown = items.evaluate_all("es => es.map(e => [e.dataset.token, +e.dataset.value])")
    order = sorted(range(len(probs)), key=lambda j: -probs[j])[:5]
    assert [token for token, _ in shown] == [MODEL_VOCABULARY[j] for j in order]
    for (token, value), j in zip(shown, order, strict=True):
        assert value == pytest.approx(probs[j], rel=1e-6), token


def set_unit(page: Page, unit: int) -> None:
    """Type `unit` into the Unit control and wait until the diagram draws it."""
    page.get_by_label("Unit", exact=True).fill(str(unit))
    page.get_by_label("Unit", exact=True).press("Enter")
    expect(page.locator(DIAGRAM)).to_have_attribute("data-unit", str(unit))
