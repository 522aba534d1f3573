"""GET /api/cells and GET /api/presets."""

from __future__ import annotations

import cells
from tests.support import assert_error


def test_cells_lists_every_kind_with_its_signals(client):
    body = client.get("/api/cells").json()
    kinds = {k["kind"]: k for k in body["kinds"]}
    assert tuple(kinds) == cells.KINDS
    lstm = kinds["lstm"]
    assert lstm["state"] == ["c", "h"]
    assert [s["name"] for s in lstm["signals"]] == [s.name for s in cells.describe("lstm")]
    assert lstm["signals"][0] == cells.describe("lstm")[0].to_dict()
    assert kinds["gru"]["options"] == {"reset_after": True}
    assert kinds["rnn"]["options"] == {"nonlinearity": "tanh"}
    assert kinds["gru"]["option_values"] == {"reset_after": [True, False]}
    assert kinds["rnn"]["option_values"] == {"nonlinearity": ["tanh", "relu"]}
    assert kinds["lstm"]["option_values"] == {}
    for kind, entry in kinds.items():
        assert entry["stages"] == cells.kind_info(kind)["stages"]
    assert body["stages"] == list(cells.STAGES)


def test_cells_carries_the_size_limits_the_server_enforces(client):
    settings = client.app.state.settings
    limits = client.get("/api/cells").json()["limits"]
    assert limits["max_hidden_size"] == settings.max_hidden_size
    assert limits["max_input_size"] == settings.max_input_size
    assert limits["max_steps"] == settings.max_steps
    assert limits["max_upload_bytes"] == settings.max_upload_bytes
    assert limits["max_seed"] == 2**63 - 1


def test_cells_one_kind_with_an_option(client):
    body = client.get("/api/cells", params={"kind": "gru", "reset_after": "false"}).json()
    (gru,) = body["kinds"]
    assert gru["options"] == {"reset_after": False}
    names = [s["name"] for s in gru["signals"]]
    assert names == [s.name for s in cells.describe("gru", reset_after=False)]
    assert "h_reset" in names


def test_cells_options_apply_only_where_they_exist(client):
    body = client.get("/api/cells", params={"nonlinearity": "relu"}).json()
    kinds = {k["kind"]: k for k in body["kinds"]}
    assert kinds["rnn"]["options"] == {"nonlinearity": "relu"}
    assert kinds["lstm"]["options"] == {}


def test_every_kind_option_is_a_parameter_of_the_catalogue_and_the_upload(client):
    """The option parameters come from cells.kind_info, so a new kind's option is taken
    without naming it: each value of each option is applied to its kind."""
    options = {(kind, name): option["values"] for kind in cells.KINDS
               for name, option in cells.kind_info(kind)["options"].items()}
    assert options  # some kind has options
    for (kind, name), values in options.items():
        for value in values:
            given = ("true" if value else "false") if isinstance(value, bool) else value
            body = client.get("/api/cells", params={"kind": kind, name: given}).json()
            assert body["kinds"][0]["options"][name] == value, (kind, name, value)
        assert_error(client.get("/api/cells", params={"kind": kind, name: "no such value"}),
                     422, name)
    spec = client.get("/openapi.json").json()
    query = {p["name"] for p in spec["paths"]["/api/cells"]["get"]["parameters"]}
    form = spec["components"]["schemas"]["Body_upload_weights_api_weights_post"]["properties"]
    for _, name in options:
        assert name in query and name in form, name


def test_cells_refuses_unknown_kind_and_foreign_option(client):
    assert_error(client.get("/api/cells", params={"kind": "transformer"}), 422, "kind",
                 "lstm")
    assert_error(client.get("/api/cells", params={"kind": "lstm", "reset_after": "true"}), 422,
                 "options", "reset_after")
    assert_error(client.get("/api/cells", params={"nonlinearity": "sigmoid"}), 422,
                 "nonlinearity")


def test_presets(client):
    counter = next(p for p in client.get("/api/presets").json()["presets"]
                   if p["name"] == "counter")
    preset = cells.presets.get("counter")
    assert counter["name"] == "counter"
    assert counter["cell"] == "lstm"
    assert counter["input_size"] == len(preset.vocabulary) == 95
    assert counter["hidden_size"] == 3
    assert counter["vocabulary"] == preset.vocabulary
    assert counter["sample"] == preset.sample
    assert counter["description"] == preset.description


def test_each_preset_names_the_step_its_story_begins_at(client):
    """The counter's story begins at the first "(" of its sample (before it every unit
    rests); a preset without such a mark begins at step 0."""
    listed = {p["name"]: p for p in client.get("/api/presets").json()["presets"]}
    counter = listed["counter"]
    assert counter["start"] == counter["sample"].index("(") > 0
    assert counter["sample"][counter["start"]] == "("
    for name, entry in listed.items():
        assert 0 <= entry["start"] < len(entry["sample"]), name
