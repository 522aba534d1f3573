"""A model run keeps the rows of every layer's block (what the trace route serves) and
counts them once each in its bytes, which bound the run cache."""

from __future__ import annotations

import pytest

import cells
from app.sessions.models import ModelRun, describe_model, rows_per_step
from tests.support import MIN_LM_TEXT, write_min_lm


@pytest.mark.parametrize("conv", [True, False])
def test_a_run_holds_and_counts_each_block_row_once(tmp_path, conv):
    write_min_lm(tmp_path, enable_conv=conv)
    model = cells.load_model(tmp_path / "model.safetensors",
                             vocabulary=tmp_path / "tokenizer.json")
    run = ModelRun.of(model, MIN_LM_TEXT)
    trace = model.run(MIN_LM_TEXT)
    arrays = {id(a): a for a in [*run.layer_inputs, run.logits, run.probs,
                                 *(a for rows in run.blocks for a in rows.values())]}
    assert run.nbytes == sum(a.nbytes for a in arrays.values())
    # the norm is what the cell read and the stream out the next block's in: held once
    for layer in range(model.layers):
        assert run.block(layer, "norm") is run.layer_inputs[layer]
        for name, rows in trace.blocks[layer].items():
            assert (run.block(layer, name) == rows).all()
    assert run.block(0, "block_out") is run.block(1, "block_in")
    # the numbers a run holds per step, as the limits count them before running
    steps = len(run.layer_inputs[0])
    assert rows_per_step(describe_model(model)) * steps * 4 == run.nbytes
