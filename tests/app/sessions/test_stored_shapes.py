"""Sessions stored by earlier versions open: each old shape of the stored config is upgraded
on read to the one shape (every session carries its model), with the same content key.

The files under stored/ were written by the code of the time: format 2 by the server
itself (a single cell, with a held signal and an edited weight; a whole model preset), and
format 1 (numbers inline in the JSON) by hand in that format, its key computed by that
code.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import cells
from app.sessions.config import SessionConfig
from tests.support import TOLERANCE, of_first_part

STORED = Path(__file__).parent / "stored"
SHAPES = ("format1_values", "format2_cell", "format2_model")


def _stored(name: str) -> dict:
    return json.loads((STORED / f"{name}.json").read_text())


def _place(settings, name: str) -> str:
    data = _stored(name)
    shutil.copy(STORED / f"{name}.json", settings.data_dir / "sessions" / f"{data['id']}.json")
    return data["id"]


@pytest.mark.parametrize("name", SHAPES)
def test_an_old_config_is_upgraded_with_its_key_kept(name):
    data = _stored(name)
    config = SessionConfig.from_json(data)
    assert config.content_key() == data["key"] == config.key
    assert [list(layer) for layer in config.model["parts"]] == \
        [config.model["directions"]] * config.model["layers"]
    first = config.model["parts"][0]["forward"]
    assert (first["kind"], first["input_size"], first["hidden_size"]) == \
        (config.cell, config.input_size, config.hidden_size)
    assert config.whole == (name == "format2_model")
    again = SessionConfig.from_json(json.loads(json.dumps(config.to_json())))
    assert again.model == config.model and again.content_key() == data["key"]


def test_a_format_1_session_of_numbers_opens(client, settings):
    session_id = _place(settings, "format1_values")
    body = client.get(f"/api/sessions/{session_id}").json()
    assert body["parts"][0]["forward"]["kind"] == "gru" and body["layers"] == 1
    values = [[0.5, -1.0], [0.25, 2.0], [1.5, 0.0]]
    assert body["sequence"] == {"values": values}
    trace = client.get(f"/api/sessions/{session_id}/trace").json()
    cell = cells.create("gru", input_size=2, hidden_size=3, seed=3, dtype="float64")
    expected = cell.run(np.array(values))
    for name in ("z", "r", "n", "h"):
        np.testing.assert_allclose(trace["signals"][name], expected[name],
                                   atol=TOLERANCE["float64"], rtol=0)


def test_a_format_2_cell_session_opens_with_its_holds_and_edits(client, settings):
    session_id = _place(settings, "format2_cell")
    data = _stored("format2_cell")
    body = client.get(f"/api/sessions/{session_id}").json()
    # the items as stored, now naming their part (layer 0, forward) as every session's do
    assert body["interventions"] == of_first_part(data["interventions"])
    assert body["weight_edits"] == of_first_part(data["weight_edits"])
    assert body["cells"][0][0]["kind"] == "lstm" and list(body["parts"][0]) == ["forward"]
    preset = cells.presets.get("counter")
    cell = preset.cell.with_weights(data["weight_edits"])
    xs = cells.text.one_hot(data["text"], preset.vocabulary, np.float32)
    expected = cell.run(xs, interventions=data["interventions"])
    trace = client.get(f"/api/sessions/{session_id}/trace").json()
    for name in ("f", "c", "h"):
        np.testing.assert_allclose(trace["signals"][name], expected[name],
                                   atol=TOLERANCE["float32"], rtol=0)
    # it still grows: an append extends it like any session
    grown = client.post(f"/api/sessions/{session_id}/append", json={"text": "(d)"}).json()
    assert grown["steps"] == data["steps"] + 3


def test_a_format_2_model_session_opens(client, settings):
    session_id = _place(settings, "format2_model")
    data = _stored("format2_model")
    body = client.get(f"/api/sessions/{session_id}").json()
    assert body["layers"] == data["model"]["layers"]
    assert body["interventions"] == data["interventions"]
    model = cells.presets.get("long-memory-lstm").model
    run = model.run(data["text"], interventions=data["interventions"])
    for layer in range(data["model"]["layers"]):
        trace = client.get(f"/api/sessions/{session_id}/trace", params={"layer": layer}).json()
        np.testing.assert_allclose(trace["signals"]["h"], run.layer(layer, "forward")["h"],
                                   atol=TOLERANCE["float32"], rtol=0)
