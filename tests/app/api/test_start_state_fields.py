"""What the page needs to offer a starting state and an ONNX If's branches: each part of a
session says the state it takes (`state_sizes`), the session says the state it started
from (`state`), a state that does not fit is a 422 naming the problem, and an ONNX model
whose Ifs chosen by its inputs nest lists each way through them with the `branch` text
that reads it; a session of such an upload runs that way (onnxruntime's output, float32)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from tests.support import (
    NESTED_IF_WAYS,
    SAMPLE_RATE_INPUTS,
    assert_error,
    close,
    create_session,
    nested_if_onnx,
    nested_if_runtime,
)

ROWS = np.random.default_rng(8).normal(size=(5, 1, SAMPLE_RATE_INPUTS)).astype(np.float32)


def upload(client, path, **form):
    return client.post("/api/weights", files={"file": (path.name, path.read_bytes())},
                       data=form)


@pytest.mark.parametrize(("cell", "sizes"), [("lstm", {"h": 3, "c": 3}), ("gru", {"h": 3}),
                                             ("prototype_lstm", {"c": 3})])
def test_each_part_says_the_state_it_takes_and_the_session_what_it_started_from(
        client, cell, sizes):
    body = {"cell": cell, "hidden_size": 3, "seed": 1, "sequence": {"text": "abba"}}
    plain = create_session(client, **body)
    assert plain["parts"][0]["forward"]["state_sizes"] == sizes
    assert plain["cells"][0][0]["state_sizes"] == sizes
    assert plain["state"] is None
    given = {name: [0.5, -0.25, 1.0] for name in sizes}
    started = create_session(client, **body, state=given)
    assert started["state"] == given
    trace = client.get(f"/api/sessions/{started['id']}/trace",
                       params={"start": 0, "stop": 1}).json()["signals"]
    for name, row in given.items():  # the first step reads the state given
        assert trace[f"{name}_prev"][0] == row
    again = client.get(f"/api/sessions/{started['id']}").json()
    assert again["state"] == given


def test_a_projected_lstm_takes_h_as_wide_as_its_projection(client, tmp_path):
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(2, 4, proj_size=2)
    save_file(lstm.state_dict(), str(tmp_path / "proj.safetensors"))
    record = upload(client, tmp_path / "proj.safetensors").json()
    assert record["state_sizes"] == [{"layer": 0, "direction": "forward",
                                      "sizes": {"h": 2, "c": 4}}]
    session = create_session(client, weights_id=record["weights_id"],
                             sequence={"values": [[0.1, 0.2], [0.3, -0.1]]})
    assert session["parts"][0]["forward"]["state_sizes"] == {"h": 2, "c": 4}
    answer = client.post("/api/sessions", json={
        "weights_id": record["weights_id"], "sequence": {"values": [[0.1, 0.2]]},
        "state": {"h": [0.0] * 4}})
    assert_error(answer, 422, "state", "h0 row of layer 0 forward has shape (4,); that "
                                       "cell's h is 2 finite numbers")


def test_states_the_cell_does_not_have_or_that_are_not_numbers_are_refused(client):
    mamba = {"cell": "mamba", "hidden_size": 2, "seed": 0, "sequence": {"text": "ab"}}
    assert create_session(client, **mamba)["parts"][0]["forward"]["state_sizes"] == {}
    assert_error(client.post("/api/sessions", json={**mamba, "state": {"h": [0.0, 1.0]}}),
                 422, "state", "h0 given, but layer 0 forward is a mamba, whose h has shape")
    body = {"cell": "prototype_lstm", "hidden_size": 2, "seed": 0, "sequence": {"text": "ab"}}
    assert_error(client.post("/api/sessions", json={**body, "state": {"h": [0.0, 1.0]}}), 422,
                 "state", "h0 given, but layer 0 forward is a prototype_lstm, whose state is "
                          "only c")
    assert_error(client.post("/api/sessions", json={**body, "state": {"c": [0.0, "zero"]}}),
                 422, "state.c", "value 1 ('zero') is not a number")
    assert_error(client.post("/api/sessions", json={**body, "state": {"c": [[0.0, 1.0],
                                                                          [2.0, None]]}}),
                 422, "state.c", "row 1, value 1 (None) is not a number")


@pytest.fixture(scope="module")
def nested_path(tmp_path_factory):
    return nested_if_onnx(tmp_path_factory.mktemp("nested") / "nested.onnx")


def test_nested_ifs_are_listed_way_by_way_with_the_text_that_reads_each(client, nested_path):
    record = upload(client, nested_path).json()
    ways = record["branches"]
    assert [json.loads(w["branch"]) for w in ways] == [w[0] for w in NESTED_IF_WAYS]
    assert [w["choice"] for w in ways] == [w[0] for w in NESTED_IF_WAYS]
    assert [w["kind"] for w in ways] == ["lstm", "gru", "rnn"]
    assert record["branch"] == ways[0]["branch"] and record["cell"] == "lstm"
    assert record["state_sizes"] == [{"layer": 0, "direction": "forward",
                                      "sizes": {"h": 5, "c": 5}}]
    assert any("is shown" in notice and ways[1]["branch"] in notice
               for notice in record["notices"])


@pytest.mark.parametrize(("choice", "op", "inputs"), NESTED_IF_WAYS)
def test_a_session_runs_the_way_chosen(client, nested_path, choice, op, inputs):
    answer = upload(client, nested_path, branch=json.dumps(choice))
    assert answer.status_code == 201, answer.text
    record = answer.json()
    assert json.loads(record["branch"]) == choice
    assert (record["cell"], record["hidden_size"]) == (op[0].lower(), op[2])
    session = create_session(client, weights_id=record["weights_id"],
                             sequence={"values": ROWS[:, 0].tolist()})
    got = client.get(f"/api/sessions/{session['id']}/trace", params={"names": "h"}).json()
    close(np.asarray(got["signals"]["h"], np.float32),
          nested_if_runtime(nested_path, ROWS, *inputs)[:, 0, 0], "float32")


def test_branch_texts_that_do_not_read_are_refused_by_name(client, nested_path):
    assert_error(upload(client, nested_path, branch="{by_rate"), 422, "branch",
                 "is not a JSON object naming each If's branch")
    assert_error(upload(client, nested_path, branch='{"by_rate": "sideways"}'), 422, "branch",
                 "name each If node's branch, one of then, else")
    assert_error(upload(client, nested_path, branch="then"), 422, "branch",
                 "If node 'by_mode' also chooses its branch")
    assert_error(upload(client, nested_path, branch='{"by_rate": "then"}'), 422, "branch",
                 "If node 'by_mode' chooses its branch", "branch= names no branch for it")
    assert_error(upload(client, nested_path, branch="{" + " " * 5000 + "}"), 422, "branch",
                 "is 5002 characters long; a branch is named in at most 4000")


def test_a_character_vocabulary_says_its_reserved_tokens(client, tmp_path):
    vocabulary = ["<pad>", "a", "b", " ", "</s>"]
    torch.manual_seed(1)
    modules = {"emb": torch.nn.Embedding(5, 3), "lstm": torch.nn.LSTM(3, 2),
               "fc": torch.nn.Linear(2, 5)}
    save_file({f"{name}.{k}": v for name, m in modules.items()
               for k, v in m.state_dict().items()}, str(tmp_path / "chars.safetensors"))
    answer = client.post("/api/weights", files={
        "file": ("chars.safetensors", (tmp_path / "chars.safetensors").read_bytes()),
        "vocabulary": ("vocab.json", json.dumps(vocabulary).encode())})
    assert answer.status_code == 201, answer.text
    session = create_session(client, weights_id=answer.json()["weights_id"],
                             sequence={"text": "ab</s>"})
    assert session["reserved_tokens"] == ["<pad>", "</s>"] and session["steps"] == 3
    plain = create_session(client, cell="gru", hidden_size=2, sequence={"text": "a<b>"})
    assert plain["reserved_tokens"] == [] and plain["steps"] == 4  # one-hot: characters
