"""Properties over random shapes: any nn.LSTM / nn.GRU / nn.RNN (layers, directions, bias,
proj_size, batch_first) runs as torch does, and survives save_model / load_model exactly."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import cells
from tests.cells.kind_cases import TORCH_VARIANTS

# The kinds torch has a module for (kind_cases.TORCH_VARIANTS) and those modules.
TORCH_MODULES = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}
NONLINEARITIES = [options["nonlinearity"] for kind, options in TORCH_VARIANTS if kind == "rnn"]


def test_every_kind_torch_has_a_module_for_is_drawn():
    assert set(TORCH_MODULES) == {kind for kind, _ in TORCH_VARIANTS}


@st.composite
def recurrent_modules(draw):
    kind = draw(st.sampled_from(sorted(TORCH_MODULES)))
    inputs, hidden = draw(st.integers(1, 4)), draw(st.integers(1, 5))
    options = {"num_layers": draw(st.integers(1, 3)), "bidirectional": draw(st.booleans()),
               "bias": draw(st.booleans()), "batch_first": draw(st.booleans())}
    if kind == "rnn":
        options["nonlinearity"] = draw(st.sampled_from(NONLINEARITIES))
    if kind == "lstm" and hidden > 1 and draw(st.booleans()):
        options["proj_size"] = draw(st.integers(1, hidden - 1))
    torch.manual_seed(draw(st.integers(0, 2**16)))
    module = TORCH_MODULES[kind](
        inputs, hidden, **options).double()
    steps = draw(st.integers(1, 12))
    xs = np.random.default_rng(draw(st.integers(0, 2**16))).normal(size=(steps, inputs))
    return module, xs


@settings(max_examples=40, deadline=None)
@given(recurrent_modules())
def test_any_recurrent_module_runs_as_torch(case):
    module, xs = case
    model = cells.from_torch(module)
    x = torch.from_numpy(xs)[None] if module.batch_first else torch.from_numpy(xs)[:, None]
    with torch.no_grad():
        y, state = module(x)
    expected = y[0] if module.batch_first else y[:, 0]
    mt = model.run(xs)
    np.testing.assert_allclose(mt.outputs[-1], expected.numpy(), rtol=1e-10, atol=1e-10)
    h_n = (state[0] if isinstance(state, tuple) else state)[:, 0].numpy()  # (L·D, H)
    directions = model.stack[0].directions
    finals = [mt.layer(k, d).final_state["h"] for k in range(model.layers) for d in directions]
    np.testing.assert_allclose(np.stack(finals), h_n, rtol=1e-10, atol=1e-10)


@settings(max_examples=15, deadline=None)
@given(recurrent_modules(), st.sampled_from([".safetensors", ".npz"]))
def test_save_model_round_trip_is_exact(tmp_path_factory, case, suffix):
    module, xs = case
    model = cells.from_torch(module)
    path = tmp_path_factory.mktemp("round") / f"model{suffix}"
    cells.save_model(model, path)
    again = cells.load_model(path)
    assert np.array_equal(again.run(xs).outputs[-1], model.run(xs).outputs[-1])
    assert [c.options for layer in again.stack for c in layer.cells.values()] == \
        [c.options for layer in model.stack for c in layer.cells.values()]
