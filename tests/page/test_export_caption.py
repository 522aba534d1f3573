"""Exported pictures say what they show (issue 19, point 7): the SVG and the PNG of the
diagram carry a caption — kind, where the weights came from, the session, the step and its
input, the unit (with its name) and what is held — read back from the downloaded files."""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET

import pytest
from gs_browser_helpers import DIAGRAM, diagram_state, open_view, wait_t

pytestmark = pytest.mark.browser
SVG_NS = "{http://www.w3.org/2000/svg}"


def download(page, button: str, path):
    with page.expect_download() as info:
        page.get_by_role("button", name=button).click()
    info.value.save_as(path)
    return path


def caption_of(path) -> tuple[list[str], ET.Element]:
    root = ET.parse(path).getroot()
    group = next(g for g in root.iter(f"{SVG_NS}g") if g.get("data-caption") is not None)
    lines = [t.text for t in group.iter(f"{SVG_NS}text")]
    assert root.find(f"{SVG_NS}title").text == "\n".join(lines)
    return lines, root


def test_the_svg_and_png_carry_what_they_show(page, errors, api, tmp_path):
    preset = next(p for p in api("GET", "/api/presets")["presets"] if p["name"] == "counter")
    open_view(page, "?preset=counter&t=6&unit=0")
    wait_t(page, 6)
    sid = diagram_state(page)["session"]
    lines, root = caption_of(download(page, "Download diagram (SVG)", tmp_path / "d.svg"))
    token = preset["sample"][6]
    assert lines[0] == f"lstm cell · preset “counter” · session {sid}"
    assert lines[1] == (f"step t = 6 of {len(preset['sample'])} · input “{token}” · "
                        f"unit 0 ({preset['unit_labels'][0]})")
    # the caption sits under the drawing: the picture grew by its lines, the drawing did not move
    drawn = page.evaluate(f"() => document.querySelector('{DIAGRAM}').viewBox.baseVal.height")
    height = float(root.get("height"))
    assert height > drawn
    assert all(float(t.get("y")) > drawn for t in root.iter(f"{SVG_NS}text")
               if t in list(root.iter(f"{SVG_NS}g"))[-1])
    # the PNG is that picture at twice its size, caption included
    png = download(page, "Download diagram (PNG)", tmp_path / "d.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width_px, height_px = struct.unpack(">II", png[16:24])
    assert height_px == round(2 * height) and width_px == round(2 * float(root.get("width")))


def test_a_held_numbers_session_names_its_input_values_and_the_hold(page, errors, api, tmp_path):
    made = api("POST", "/api/sessions", {
        "cell": "gru", "hidden_size": 3, "seed": 4,
        "sequence": {"csv": "a,b\n0.5,-1\n2,0.25\n-3,1\n"},
        "interventions": [{"signal": "z", "value": 0.0, "start": 1, "stop": 3}],
    })
    open_view(page, f"?session={made['id']}&t=1&unit=2")
    wait_t(page, 1)
    lines, _ = caption_of(download(page, "Download diagram (SVG)", tmp_path / "n.svg"))
    assert lines[0] == f"gru cell · random weights, seed 4 · session {made['id']}"
    assert lines[1] == "step t = 1 of 3 · input x_t = [2.000, 0.250] · unit 2"
    assert lines[2] == "held: z = 0 from step 1"
