"""Colour means one thing (issue 9): gates have a sequential scale of their own, signed
values a diverging one; every heatmap has a colour bar; a signal has one colour in the
diagram and the charts; the palette stays apart under simulated deuteranopia and
protanopia; preset unit names label the units."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest
from gs_browser_helpers import open_view
from playwright.sync_api import expect

pytestmark = pytest.mark.browser
FRONT = "#charts .chart-set.front .chart-row"

# Machado, Oliveira & Fernandes (2009), severity 1.0, on linear RGB
MACHADO = {
    "deuteranopia": np.array(
        [
            [0.367322, 0.860646, -0.227968],
            [0.280085, 0.672501, 0.047413],
            [-0.011820, 0.042940, 0.968881],
        ]
    ),
    "protanopia": np.array(
        [
            [0.152286, 1.052583, -0.204868],
            [0.114503, 0.786281, 0.099216],
            [-0.003882, -0.048116, 1.051998],
        ]
    ),
}


def rgb(text: str) -> np.ndarray:
    text = text.strip()
    if text.startswith("#"):
        return np.array([int(text[k : k + 2], 16) for k in (1, 3, 5)], float)
    return np.array([float(x) for x in re.findall(r"[\d.]+", text)[:3]])


def lab(c: np.ndarray) -> np.ndarray:
    s = c / 255
    lin = np.where(s <= 0.04045, s / 12.92, ((s + 0.055) / 1.055) ** 2.4)
    xyz = (
        np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
        @ lin
        / np.array([0.9505, 1.0, 1.089])
    )
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def simulate(c: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    s = c / 255
    lin = np.where(s <= 0.04045, s / 12.92, ((s + 0.055) / 1.055) ** 2.4)
    out = np.clip(matrix @ lin, 0, 1)
    return 255 * np.where(out <= 0.0031308, 12.92 * out, 1.055 * out ** (1 / 2.4) - 0.055)


def page_colours(page) -> dict[str, np.ndarray]:
    css = page.evaluate(
        "() => { const s = getComputedStyle(document.documentElement);"
        " return Object.fromEntries(['--pos', '--neg', '--cprev', '--cnew', '--hcol', '--gate']"
        ".map(k => [k.slice(2), s.getPropertyValue(k)])); }"
    )
    return {k: rgb(v) for k, v in css.items()}


def test_scales_colour_bars_and_one_colour_per_signal(page, errors, api):
    open_view(page, "?cell=lstm&weights=seed&seed=2&hidden=4&text=abcdef")
    page.wait_for_function(f"() => document.querySelector('{FRONT}[data-chart=\"g\"]')?._fullData")
    scale = {
        name: page.locator(f'{FRONT}[data-chart="{name}"]').evaluate(
            "d => [d._fullData[0].colorscale.map(c => c[1]), d._fullData[0].showscale]"
        )
        for name in ("f", "i", "o", "g", "c", "h")
    }
    for name, (_colours, bar) in scale.items():
        assert bar, f"heatmap {name} has no colour bar"
    gate, signed = scale["f"][0], scale["g"][0]
    assert scale["i"][0] == scale["o"][0] == gate and scale["c"][0] == scale["h"][0] == signed
    colours = page_colours(page)
    # no colour of the gates' scale is a colour of the signed scale (nor blue, nor vermillion)
    for a, b in itertools.product(gate, signed[::2]):
        assert np.linalg.norm(lab(rgb(a)) - lab(rgb(b))) > 20, (a, b)
    lines = page.locator(f'{FRONT}[data-chart="line"]').evaluate(
        "d => Object.fromEntries(d._fullData.map(t => [t.name.split(' ')[0], t.line.color]))"
    )
    assert np.allclose(rgb(lines["c"]), colours["cnew"])  # c_t: one colour everywhere
    assert np.allclose(rgb(lines["h"]), colours["hcol"])
    assert not np.allclose(rgb(lines["h"]), colours["cprev"])  # pink is c_{t−1} only
    # a GRU's state is h: the new state's colour
    open_view(page, "?cell=gru&weights=seed&seed=2&hidden=4&text=abcdef")
    page.wait_for_function(
        f"() => document.querySelector('{FRONT}[data-chart=\"line\"]')?._fullData"
    )
    h = page.locator(f'{FRONT}[data-chart="line"]').evaluate("d => d._fullData[0].line.color")
    assert np.allclose(rgb(h), colours["cnew"])


PAIRS = [
    ("pos", "neg"),
    ("cprev", "cnew"),
    ("cnew", "hcol"),
    ("cprev", "hcol"),
    ("gate", "pos"),
    ("gate", "neg"),
]


def test_palette_stays_apart_under_colour_blindness(page, errors):
    open_view(page)
    colours = page_colours(page)
    for vision, matrix in MACHADO.items():  # the page's colours read once, seen by each
        for a, b in PAIRS:
            ca, cb = (simulate(colours[k], matrix) for k in (a, b))
            assert np.linalg.norm(lab(ca) - lab(cb)) >= 15, f"{vision}: {a} and {b} look alike"


def test_preset_unit_names_where_units_are_chosen(page, errors, api):
    preset = next(p for p in api("GET", "/api/presets")["presets"] if p["name"] == "counter")
    open_view(page, "?unit=1")
    expect(page.locator("#unit-name")).to_have_text(preset["unit_labels"][1])
    page.wait_for_function(
        f"() => document.querySelector('{FRONT}[data-chart=\"f\"]')?._fullLayout"
    )
    ticks = page.locator(f'{FRONT}[data-chart="f"]').evaluate("d => d._fullLayout.yaxis.ticktext")
    assert ticks and ticks[0] in preset["unit_labels"][0]
