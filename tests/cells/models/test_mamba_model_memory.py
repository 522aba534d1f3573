"""What a loaded Mamba language model holds: each tensor of the file once (read into its own
array, frozen, and shared by the cell, its computation's transposed views, the blocks and
the head; a tied head is the embedding's array), and a trace that keeps B, C and out per
step and computes every other signal of any window again, bit for bit the first
computation. Checked on work and bytes, never on time."""

import tracemalloc

import numpy as np
import pytest
from safetensors.torch import save_file

import cells
from cells.kinds import mamba_math
from cells.presets.recipes.selective_copy import language_model

SIZES = {"d_model": 64, "n_layers": 2, "d_state": 8, "expand_factor": 2, "d_conv": 4}
V = 3000  # the embedding (and head) is most of the file, as in a published Mamba


def _write(folder, tied: bool):
    import torch

    torch.manual_seed(30)
    module = language_model(V, **SIZES, pscan=False)
    state = {k: v.detach().contiguous().clone() for k, v in module.state_dict().items()}
    if tied:  # mamba_ssm's layout writes no lm_head when the head is the embedding
        del state["lm_head.weight"]
        state = {("backbone." + k[len("mamba."):] if k.startswith("mamba.") else
                  "backbone." + k): v for k, v in state.items()}
    save_file(state, str(folder / "model.safetensors"))
    return sum(v.numel() * v.element_size() for v in state.values())


def _arrays(model) -> list[np.ndarray]:
    out = [model.encoder.embedding, model.head.weight, model.head.bias]
    out += [model.final_norm.weight]
    for layer in model.stack:
        out += list(layer.cells["forward"].params.values())
        out += list(layer.block.params.values())
    return out


@pytest.mark.parametrize("tied", [False, True])
def test_loading_holds_each_tensor_once(tmp_path, tied):
    file_bytes = _write(tmp_path, tied)
    cells.load_model(tmp_path)  # the modules a load imports are not what is measured
    tracemalloc.start()
    try:
        model = cells.load_model(tmp_path)
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    arrays = _arrays(model)
    assert all(not a.flags.writeable for a in arrays)
    if tied:
        assert model.head.weight is model.encoder.embedding
    # no tensor read twice, no copy beside the file's arrays: a load that copied the
    # weights once more would peak at twice the file
    assert peak < 1.5 * file_bytes, (peak, file_bytes)
    assert held < 1.15 * file_bytes, (held, file_bytes)
    cell = model.cell(0)
    for view, name in ((cell.weights.w_in_T, "in_proj_weight"),
                       (cell.weights.w_x_T, "x_proj_weight"),
                       (cell.weights.w_dt_T, "dt_proj_weight"),
                       (cell.weights.w_out_T, "out_proj_weight")):
        assert np.shares_memory(view, cell.params[name]), name


def test_a_loaded_model_s_trace_keeps_three_signals_and_recomputes_any_window(tmp_path):
    _write(tmp_path, tied=False)
    model = cells.load_model(tmp_path)
    ids = np.random.default_rng(31).integers(0, V, 2 * mamba_math.BLOCK + 9)
    trace = model.run(ids)
    cell, layer = model.cell(1), trace.layer(1)
    T, (E, N, H, I) = len(ids), (cell.channels, cell.dims["N"], cell.hidden_size,
                                 cell.input_size)
    blocks = -(-T // mamba_math.BLOCK)
    kept = T * (2 * N + H + I) + blocks * (E * N + (cell.dims["K"] - 1) * E)
    assert layer.nbytes == kept * 4  # float32: B, C, out, its input, and the checkpoints
    whole = {name: layer[name] for name in cell.names}
    for start, stop in ((0, 1), (63, 65), (64, 128), (100, T), (T - 1, T)):
        window = layer.window(start, stop)
        for name in cell.names:
            assert window[name].tobytes() == whole[name][start:stop].tobytes(), name
    fresh = cell.run(trace.reads[1])
    for name in cell.names:
        assert fresh[name].tobytes() == whole[name].tobytes(), name


@pytest.mark.parametrize("first", [mamba_math.BLOCK, 70])
def test_an_extension_computes_only_the_blocks_it_changes_and_equals_a_fresh_run(first):
    cell = cells.create("mamba", input_size=3, hidden_size=4, seed=5, d_state=4)
    xs = np.random.default_rng(32).normal(0, 1, (200, 3))
    holds = [{"signal": "delta", "units": [1], "value": 0.5, "start": 10, "stop": 50}]
    full = cell.run(xs, interventions=holds)
    part = cell.run(xs[:first], interventions=holds)
    kept = [a for a in part._checkpoints[:first // mamba_math.BLOCK]]
    part.extend(xs[first:])
    assert all(a is b for a, b in zip(kept, part._checkpoints, strict=False))
    for name in cell.names:
        assert part[name].tobytes() == full[name].tobytes(), name
    assert part.final_state["h"].tobytes() == full.final_state["h"].tobytes()
