"""ONNX Ifs chosen by the model's inputs, one inside a branch of the other (built with
onnx.helper): each way through them read with cells.load_model(path, branch={If node name:
branch, ...}) and compared with onnxruntime and onnx's reference evaluator run on the inputs
that take it, at 1e-5 (float32); partial or wrong choices are refused by name."""

from __future__ import annotations

import numpy as np
import pytest

import cells
from cells.formats.whole_onnx import onnx_branches
from tests.support import (
    NESTED_IF_WAYS,
    SAMPLE_RATE_INPUTS,
    close,
    nested_if_onnx,
    nested_if_runtime,
)


def xs(T=7):
    return np.random.default_rng(5).normal(size=(T, 1, SAMPLE_RATE_INPUTS)).astype(np.float32)


@pytest.mark.parametrize(("choice", "op", "inputs"), NESTED_IF_WAYS,
                         ids=[", ".join(f"{k}={v}" for k, v in w[0].items())
                              for w in NESTED_IF_WAYS])
def test_each_way_matches_both_runtimes_on_the_inputs_that_take_it(tmp_path, choice, op,
                                                                   inputs):
    path = nested_if_onnx(tmp_path / "nested.onnx")
    model = cells.load_model(path, branch=choice)
    kind, _, hidden = op
    assert (model.cell(0).kind, model.cell(0).hidden_size, model.layers) == \
        (kind.lower(), hidden, 1)
    ours = model.run(xs()[:, 0]).outputs[-1]
    for reference in (False, True):
        expected = nested_if_runtime(path, xs(), *inputs, reference=reference)  # (T, 1, 1, H)
        assert expected.shape == (7, 1, 1, hidden)
        close(ours, expected[:, 0, 0], "float32")


def test_the_ways_are_listed_outer_to_inner(tmp_path):
    path = nested_if_onnx(tmp_path / "nested.onnx")
    ways = onnx_branches(path, path.name)
    assert [w["choice"] for w in ways] == [w[0] for w in NESTED_IF_WAYS]
    assert [w["name"] for w in ways] == ["by_rate: then, by_mode: then",
                                         "by_rate: then, by_mode: else", "by_rate: else"]
    assert [(w["kind"], w["hidden_size"]) for w in ways] == [("lstm", 5), ("gru", 3),
                                                              ("rnn", 4)]
    assert ways[0]["conditions"] == {"by_rate": "'then' when 'sr' == 16000, else 'else'",
                                     "by_mode": "'then' when 'mode' == 1, else 'else'"}
    assert (ways[2]["node"], ways[2]["condition"]) == (
        "by_rate", "'then' when 'sr' == 16000, else 'else'")


def test_without_a_choice_the_refusal_lists_every_way(tmp_path):
    path = nested_if_onnx(tmp_path / "nested.onnx")
    with pytest.raises(ValueError) as refusal:
        cells.load_model(path)
    message = str(refusal.value)
    assert message.startswith("nested.onnx: If node 'by_rate' chooses its branch by "
                              "'rate_cond', which is not known from the file")
    assert "with branch={'by_rate': 'then', 'by_mode': 'then'}" in message
    assert "'by_rate: then, by_mode: else' holds 1 gru layer (forward), input_size 4, " \
           "hidden_size 3, no head" in message
    assert "'by_rate: else' holds 1 rnn layer (forward), input_size 4, hidden_size 4" \
        in message


def test_choices_that_stop_short_or_go_astray_are_refused(tmp_path):
    path = nested_if_onnx(tmp_path / "nested.onnx")
    with pytest.raises(ValueError) as short:
        cells.load_model(path, branch={"by_rate": "then"})
    assert "If node 'by_mode' chooses its branch by 'mode_cond'" in str(short.value)
    assert "'then' when 'mode' == 1, else 'else'" in str(short.value)
    assert "branch= names no branch for it (chosen: {'by_rate': 'then'})" in str(short.value)
    assert "'by_rate: else'" not in str(short.value)  # only the ways under the choice made
    with pytest.raises(ValueError, match=r"If node 'by_mode' also chooses its branch .*name "
                                         r"each If's branch with branch=\{'by_rate': 'then', "
                                         r"'by_mode': \.\.\.\}"):
        cells.load_model(path, branch="then")
    with pytest.raises(ValueError, match=r"nested\.onnx: branch= names If node\(s\) 'by_mode', "
                                         r"which the branches taken do not reach"):
        cells.load_model(path, branch={"by_rate": "else", "by_mode": "then"})
    with pytest.raises(ValueError, match=r"nested\.onnx: branch \{'by_mode': 'both'\}: each If "
                                         r"node name takes one of then, else"):
        cells.load_model(path, branch={"by_rate": "then", "by_mode": "both"})
    with pytest.raises(ValueError, match=r"branch must be 'then', 'else' or a dict"):
        cells.load_model(path, branch=["then"])
