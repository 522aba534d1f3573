"""An uploaded ONNX model whose If node chooses its branch by the model's inputs (one file
for two sample rates): the record lists both branches, the `branch` form field chooses
one, and a session of that upload runs the chosen branch — its trace equal to onnxruntime's
output at the sample rate that takes it (float32, 1e-5)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from tests.support import (
    SAMPLE_RATE_INPUTS,
    assert_error,
    close,
    create_session,
    sample_rate_onnx,
    sample_rate_runtime,
)

ROWS = np.random.default_rng(5).normal(size=(6, 1, SAMPLE_RATE_INPUTS)).astype(np.float32)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    return sample_rate_onnx(tmp_path_factory.mktemp("vad") / "vad.onnx")


def upload(client, path, **form):
    return client.post("/api/weights", files={"file": (path.name, path.read_bytes())},
                       data=form)


def test_the_record_lists_the_branches_and_shows_the_first(client, model_path):
    response = upload(client, model_path)
    assert response.status_code == 201, response.text
    record = response.json()
    assert record["shown"] == {"layer": 0, "direction": "forward"}
    assert record["branch"] == "then"
    assert [b["name"] for b in record["branches"]] == ["then", "else"]
    then, other = record["branches"]
    assert (then["kind"], then["layers"], then["input_size"], then["hidden_size"]) == \
        ("lstm", 1, SAMPLE_RATE_INPUTS, 5)
    assert (other["kind"], other["layers"], other["input_size"], other["hidden_size"]) == \
        ("gru", 1, SAMPLE_RATE_INPUTS, 3)
    assert then["condition"] == "'then' when 'sr' == 16000, else 'else'"
    assert then["node"] == "by_rate" and then["directions"] == ["forward"]
    assert then["head_outputs"] is None
    assert (record["cell"], record["hidden_size"]) == ("lstm", 5)
    assert any("If node 'by_rate' chooses its branch by the model's inputs" in notice
               and "branch 'then' is shown" in notice for notice in record["notices"])
    again = client.get(f"/api/weights/{record['weights_id']}").json()
    assert again["branches"] == record["branches"] and again["branch"] == "then"


@pytest.mark.parametrize(("branch", "rate", "kind", "hidden"),
                         [("then", 16000, "lstm", 5), ("else", 8000, "gru", 3)])
def test_a_session_runs_the_chosen_branch(client, model_path, branch, rate, kind, hidden):
    response = upload(client, model_path, branch=branch)
    assert response.status_code == 201, response.text
    record = response.json()
    assert record["branch"] == branch
    assert (record["cell"], record["hidden_size"]) == (kind, hidden)
    assert not any("is shown" in notice for notice in record["notices"])  # chosen, not given
    session = create_session(client, weights_id=record["weights_id"],
                             sequence={"values": ROWS[:, 0].tolist()}, dtype="float32")
    assert (session["cell"], session["hidden_size"]) == (kind, hidden)
    assert session["weights"]["branch"] == branch
    got = client.get(f"/api/sessions/{session['id']}/trace", params={"names": "h"})
    assert got.status_code == 200, got.text
    expected = sample_rate_runtime(model_path, ROWS, rate)[:, 0, 0]
    close(np.asarray(got.json()["signals"]["h"], np.float32), expected, "float32")


def test_each_branch_is_its_own_upload(client, model_path):
    first = upload(client, model_path, branch="then").json()
    other = upload(client, model_path, branch="else").json()
    assert first["weights_id"] != other["weights_id"]
    assert upload(client, model_path).json()["weights_id"] == first["weights_id"]
    # the first upload still says (and its sessions still run) the branch it was read by
    assert client.get(f"/api/weights/{first['weights_id']}").json()["cell"] == "lstm"


def test_branch_choices_that_do_not_apply_are_refused(client, model_path, tmp_path):
    assert_error(upload(client, model_path, branch="both"), 422, "branch",
                 "'both' is not one of then, else")
    assert_error(upload(client, model_path, cell="lstm"), 422, "cell",
                 "chooses between branches by its inputs", "leave cell out")
    twice = sample_rate_onnx(tmp_path / "twice.onnx", second_if=True)
    assert_error(upload(client, twice, branch="then"), 422, "branch",
                 "twice.onnx: If node 'again' also chooses its branch by the model's inputs")
    fixed = onnx.load(str(model_path))
    fixed.graph.node[0].CopyFrom(helper.make_node(
        "Constant", [], ["cond"], value=numpy_helper.from_array(np.array(True))))
    onnx.save(fixed, str(tmp_path / "fixed.onnx"))
    assert_error(upload(client, tmp_path / "fixed.onnx", branch="else"), 422, "branch",
                 "'fixed.onnx' has no If node chosen by the model's inputs", "leave branch out")
