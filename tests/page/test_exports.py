"""Exports (issue 9): each download is read back and compared with the trace."""

from __future__ import annotations

import csv
import io
import math
import struct
import xml.etree.ElementTree as ET
import zlib

import pytest
from gs_browser_helpers import DIAGRAM, diagram_state, open_view, wait_t
from playwright.sync_api import expect

pytestmark = pytest.mark.browser
SVG_NS = "{http://www.w3.org/2000/svg}"
VIEW = "?cell=lstm&weights=seed&seed=8&hidden=4&text=hello%20there&t=3&unit=1"


def download(page, button: str):
    with page.expect_download() as info:
        page.get_by_role("button", name=button).click()
    return info.value


def test_trace_csv_is_the_trace(page, errors, api):
    open_view(page, VIEW)
    sid = diagram_state(page)["session"]
    got = download(page, "Download trace (CSV)")
    rows = list(csv.reader(io.StringIO(open(got.path(), encoding="utf-8").read())))
    header, body = rows[0], rows[1:]
    trace = api("GET", f"/api/sessions/{sid}/trace")
    assert [int(r[0]) for r in body] == list(range(trace["stop"]))
    # a text session's export names the token each step reads, then the signals
    session = api("GET", f"/api/sessions/{sid}")
    assert header[1] == "token"
    assert [r[1] for r in body] == list(session["sequence"]["text"])
    for col, name in enumerate(header[2:], start=2):
        signal, unit = name[:-1].split("[")
        for t, r in enumerate(body):
            assert float(r[col]) == pytest.approx(trace["signals"][signal][t][int(unit)], rel=1e-6)


def test_diagram_svg_is_self_contained_and_shows_the_trace(page, errors, api, tmp_path):
    open_view(page, VIEW)
    wait_t(page, 3)
    st = diagram_state(page)
    path = tmp_path / "diagram.svg"
    download(page, "Download diagram (SVG)").save_as(path)
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG_NS}svg"
    assert root.get("data-t") == "3" and root.get("data-unit") == "1"
    for el in root.iter():
        assert el.tag not in (f"{SVG_NS}script", f"{SVG_NS}foreignObject"), el.tag
        href = el.get("href") or el.get("{http://www.w3.org/1999/xlink}href")
        if href and not href.startswith("#"):
            assert href.startswith("data:image/png;base64,"), href[:40]
    trace = api("GET", f"/api/sessions/{st['session']}/trace?start=3&stop=4")["signals"]
    valued = [el for el in root.iter() if el.get("data-value")]
    assert len(valued) > 8
    for el in valued:
        expected = trace[el.get("data-signal")][0][1]
        assert float(el.get("data-value")) == pytest.approx(expected, rel=1e-5, abs=1e-6)
    # it opens on its own, styled (no stylesheet of ours is reachable from a file)
    page.goto(path.as_uri())
    stroke = page.evaluate(
        "() => getComputedStyle(document.querySelector('path.flow[data-signal=\"c\"]')).stroke"
    )
    c = trace["c"][0][1]
    assert stroke == ("rgb(213, 94, 0)" if c > 0 else "rgb(0, 114, 178)")


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and RGBA rows of an 8-bit RGBA PNG (no library needed)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        kind, chunk = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + n]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", chunk[:10])
            assert (depth, colour) == (8, 6)
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + n
    raw, stride, rows, prev = zlib.decompress(idat), width * 4, [], bytearray(width * 4)
    for y in range(height):
        f, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        for i in range(stride):
            a = line[i - 4] if i >= 4 else 0
            b, c = prev[i], prev[i - 4] if i >= 4 else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, rows


def test_diagram_png_shows_the_pipes_colour(page, errors, api, tmp_path):
    open_view(page, VIEW)
    wait_t(page, 3)
    st = diagram_state(page)
    path = tmp_path / "diagram.png"
    download(page, "Download diagram (PNG)").save_as(path)
    width, height, rows = png_pixels(path.read_bytes())
    vb = page.locator(DIAGRAM).get_attribute("viewBox").split()
    # the PNG is the exported SVG at twice its size: the drawing, then its caption under it
    svg_path = tmp_path / "diagram.svg"
    download(page, "Download diagram (SVG)").save_as(svg_path)
    exported = ET.parse(svg_path).getroot()
    assert exported.get("width") == vb[2] and float(exported.get("height")) > float(vb[3])
    assert (width, height) == (2 * int(vb[2]), 2 * int(float(exported.get("height"))))
    x, y = page.locator(f'{DIAGRAM} path.flow[data-signal="c"]').first.evaluate(
        "p => { const q = p.getPointAtLength(p.getTotalLength() / 2); return [q.x, q.y]; }"
    )
    px = rows[round(2 * y)][4 * round(2 * x) : 4 * round(2 * x) + 3]
    c = api("GET", f"/api/sessions/{st['session']}/trace?start=3&stop=4")["signals"]["c"][0][1]
    want = (213, 94, 0) if c > 0 else (0, 114, 178)
    assert math.dist(tuple(px), want) < 40, (tuple(px), want, c)


def test_copy_link_gives_the_same_view(page, errors, browser):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    open_view(page, VIEW)
    page.get_by_role("button", name="Step forward").click()
    wait_t(page, 4)
    before = diagram_state(page)
    page.get_by_role("button", name="Copy link").click()
    expect(page.locator("#copy-status")).to_have_text("Link copied.")
    link = page.evaluate("() => navigator.clipboard.readText()")
    other = browser.new_page()
    try:
        other.goto(link)
        expect(other.locator(DIAGRAM)).to_have_attribute("data-t", "4", timeout=20_000)
        assert diagram_state(other) == before
    finally:
        other.close()
