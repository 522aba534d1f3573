"""The block around each layer's cell in a residual language model (minGRU-pytorch's minLM,
written by the library): the session says its parts, and the trace route serves its rows
(`block.norm`, `block.cell_out`, ...) by time, equal to the engine's run and to the
library's own intermediate values; a name the layer lacks is a 422 naming those it has."""

from __future__ import annotations

import numpy as np
import pytest

import cells
from cells.models.blocks import SIGNALS
from tests.support import (
    MIN_LM_TEXT,
    assert_error,
    close,
    create_session,
    min_lm_block_rows,
    write_min_lm,
)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    folder = tmp_path_factory.mktemp("min_lm_blocks")
    module, tokenizer = write_min_lm(folder)
    return folder, module, tokenizer.encode(MIN_LM_TEXT, add_special_tokens=False).ids


@pytest.fixture
def session(client, written):
    folder = written[0]
    files = {"file": ("model.safetensors", (folder / "model.safetensors").read_bytes()),
             "vocabulary": ("tokenizer.json", (folder / "tokenizer.json").read_bytes())}
    response = client.post("/api/weights", files=files)
    assert response.status_code == 201, response.text
    return create_session(client, weights_id=response.json()["weights_id"],
                          sequence={"text": MIN_LM_TEXT})


def rows(client, session, names, layer, **params):
    response = client.get(f"/api/sessions/{session['id']}/trace",
                          params={"names": ",".join(names), "layer": layer, **params})
    assert response.status_code == 200, response.text
    return {k: np.asarray(v, np.float32) for k, v in response.json()["signals"].items()}


def test_the_session_says_each_layer_s_block_and_the_final_norm(client, session):
    assert session["final_norm"] == "rms"
    assert len(session["blocks"]) == session["layers"] == 2
    for block in session["blocks"]:
        assert block["parts"] == ["conv", "norm", "out", "ff_norm", "ff"]
        assert block["options"]["norm"] == "rms" and block["options"]["ff_activation"] == "gelu"
        assert block["signals"] == list(SIGNALS)
        assert block["names"] == [f"block.{s}" for s in SIGNALS]
        assert block["width"] == 8
    again = client.get(f"/api/sessions/{session['id']}").json()
    assert again["blocks"] == session["blocks"]


def test_block_rows_equal_the_engine_and_the_library(client, session, written):
    folder, module, ids = written
    run = cells.load_model(folder / "model.safetensors",
                           vocabulary=folder / "tokenizer.json").run(MIN_LM_TEXT)
    library = min_lm_block_rows(module, ids)
    for layer in range(2):
        names = session["blocks"][layer]["names"]
        got = rows(client, session, names, layer)
        assert list(got) == names
        for name in SIGNALS:
            served = got[f"block.{name}"]
            assert served.shape == (len(ids), 8)
            np.testing.assert_array_equal(served, run.block(layer, name))  # the same numbers
            close(served, library[layer][name], "float32", err_msg=f"{layer} {name}")
    # a window is the rows of those steps, beside the cell's own signals
    part = rows(client, session, ["h", "block.residual"], 1, start=2, stop=5)
    np.testing.assert_array_equal(part["block.residual"], run.block(1, "residual")[2:5])
    np.testing.assert_array_equal(part["h"], run.signal(1, "forward", "h")[2:5])


def test_a_name_the_layer_lacks_is_a_422_naming_what_it_has(client, session, written):
    response = client.get(f"/api/sessions/{session['id']}/trace",
                          params={"names": "block.nope", "layer": 0})
    assert_error(response, 422, "names", "block.nope", "block.norm", "block.ff",
                 "block.block_out")


def test_a_model_without_conv_has_no_block_conv(client, tmp_path):
    module, tokenizer = write_min_lm(tmp_path, seed=3, enable_conv=False)
    files = {"file": ("model.safetensors", (tmp_path / "model.safetensors").read_bytes()),
             "vocabulary": ("tokenizer.json", (tmp_path / "tokenizer.json").read_bytes())}
    upload = client.post("/api/weights", files=files).json()
    made = create_session(client, weights_id=upload["weights_id"], sequence={"text": "the"})
    assert made["blocks"][0]["parts"] == ["norm", "out", "ff_norm", "ff"]
    assert "block.conv" not in made["blocks"][0]["names"]
    response = client.get(f"/api/sessions/{made['id']}/trace",
                          params={"names": "block.conv", "layer": 0})
    assert_error(response, 422, "names", "block.conv", "block.norm")
    ids = tokenizer.encode("the", add_special_tokens=False).ids
    library = min_lm_block_rows(module, ids)
    got = rows(client, made, made["blocks"][1]["names"], 1)
    for name in made["blocks"][1]["signals"]:
        close(got[f"block.{name}"], library[1][name], "float32", err_msg=name)


def test_a_plain_cell_session_has_no_blocks(client):
    made = create_session(client, preset="counter", sequence={"text": "(a)"})
    assert made["blocks"] in ([], [None]) and made["final_norm"] is None
    response = client.get(f"/api/sessions/{made['id']}/trace", params={"names": "block.norm"})
    assert_error(response, 422, "names", "block.norm")
