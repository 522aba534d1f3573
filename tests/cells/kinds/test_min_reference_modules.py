"""min_gru and min_lstm against minGRU-pytorch (the reference implementation of Feng et al.
2024, "Were RNNs All We Needed?"): its state dicts load by their own names, and the engine's
forward values and gradients equal its modules' (its parallel log-space form and its
step-by-step form), float32 at 1e-5 and float64 at 1e-10."""

import numpy as np
import pytest
import torch
from minGRU_pytorch.minGRU import minGRU
from minGRU_pytorch.minLSTM import minLSTM
from safetensors.torch import save_file

import cells
from cells.formats.after_lstm import ReferenceModuleNotice
from tests.support import TOLERANCE as TOL

torch.set_num_threads(1)
TORCH = {"float32": torch.float32, "float64": torch.float64}
MODULES = {"min_gru": minGRU, "min_lstm": minLSTM}


def assert_gradient_close(ours, theirs, dtype):
    """Gradients are sums over every step: float32 at 1e-5 of their largest magnitude
    (float64 at 1e-10 of it), since both sides round each of the T terms."""
    scale = 1 + np.abs(theirs).max()
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=TOL[dtype] * scale)


def reference_module(kind, I, H, dtype, seed=0):
    torch.manual_seed(seed)
    m = MODULES[kind](I, expansion_factor=H / I, proj_out=False)
    with torch.no_grad():  # wider than the default init, so that g meets both branches
        for p in m.parameters():
            p.uniform_(-1.5, 1.5)
    return m.to(TORCH[dtype])


def loaded_cell(module, tmp_path, dtype):
    path = tmp_path / "module.safetensors"
    save_file({k: v.contiguous() for k, v in module.state_dict().items()}, str(path))
    return cells.load(path, dtype=dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", ["min_gru", "min_lstm"])
def test_parallel_form_of_the_module_from_zero(kind, dtype, tmp_path):
    T, I, H = 40, 3, 6
    module = reference_module(kind, I, H, dtype)
    cell = loaded_cell(module, tmp_path, dtype)
    assert cell.kind == kind and cell.hidden_size == H and cell.dtype.name == dtype
    rng = np.random.default_rng(1)
    xs = rng.normal(0, 1, (T, I)).astype(dtype)
    dh = rng.normal(0, 1, (T, H)).astype(dtype)
    x = torch.from_numpy(xs.copy())[None].requires_grad_()
    out = module(x)[0]  # seq_len > 1: the parallel log-space scan, from h0 = 0
    (out * torch.from_numpy(dh)).sum().backward()
    for parallel in (False, True, "log"):
        trace = cell.run(xs, parallel=parallel)
        tol = TOL[dtype]
        np.testing.assert_allclose(trace["h"], out.detach().numpy(), rtol=tol, atol=tol)
        g = trace.backward({"h": dh})
        weight = next(iter(module.parameters()))
        assert_gradient_close(g.params["weight_ih"], weight.grad.numpy(), dtype)
        assert_gradient_close(g.xs, x.grad[0].numpy(), dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", ["min_gru", "min_lstm"])
def test_step_form_of_the_module_from_any_state(kind, dtype, tmp_path):
    """The module's one-step form (seq_len 1, prev_hidden given), stepped: h0 of any sign,
    gradients of the weights, the inputs and h0."""
    T, I, H = 25, 4, 4
    module = reference_module(kind, I, H, dtype, seed=2)
    cell = loaded_cell(module, tmp_path, dtype)
    rng = np.random.default_rng(3)
    xs = rng.normal(0, 1, (T, I)).astype(dtype)
    h0 = rng.normal(0, 1, H).astype(dtype)
    dh = rng.normal(0, 1, (T, H)).astype(dtype)
    x = torch.from_numpy(xs.copy()).requires_grad_()
    h = h0_t = torch.from_numpy(h0.copy()).requires_grad_()
    outs = []
    for t in range(T):
        h = module(x[t][None, None], prev_hidden=h[None, None])[0, 0]
        outs.append(h)
    out = torch.stack(outs)
    (out * torch.from_numpy(dh)).sum().backward()
    trace = cell.run(xs, h0=h0)
    tol = TOL[dtype]
    np.testing.assert_allclose(trace["h"], out.detach().numpy(), rtol=tol, atol=tol)
    g = trace.backward({"h": dh})
    weight = next(iter(module.parameters()))
    assert_gradient_close(g.params["weight_ih"], weight.grad.numpy(), dtype)
    assert_gradient_close(g.xs, x.grad.numpy(), dtype)
    assert_gradient_close(g.h0, h0_t.grad.numpy(), dtype)


def test_min_gru_parallel_form_of_the_module_from_a_positive_state(tmp_path):
    """minGRU's parallel form takes log(h0): from a positive h0 it agrees with ours."""
    module = reference_module("min_gru", 3, 5, "float64", seed=4)
    cell = loaded_cell(module, tmp_path, "float64")
    rng = np.random.default_rng(5)
    xs, h0 = rng.normal(0, 1, (30, 3)), rng.uniform(0.1, 2, 5)
    out = module(torch.from_numpy(xs)[None], prev_hidden=torch.from_numpy(h0)[None, None])
    np.testing.assert_allclose(cell.run(xs, h0=h0, parallel=True)["h"],
                               out[0].detach().numpy(), rtol=1e-10, atol=1e-10)


def test_min_lstm_module_parallel_form_starts_from_g_of_the_state(tmp_path):
    """A finding, kept as a test: minGRU-pytorch's minLSTM parallel form reads a given
    prev_hidden through g (log_g(prev_hidden)), its step form reads it as is; so its
    parallel output from h0 is the step-by-step output from g(h0), not from h0."""
    module = reference_module("min_lstm", 3, 3, "float64", seed=6)
    cell = loaded_cell(module, tmp_path, "float64")
    rng = np.random.default_rng(7)
    xs, h0 = rng.normal(0, 1, (20, 3)), rng.uniform(0.1, 2, 3)
    out = module(torch.from_numpy(xs)[None], prev_hidden=torch.from_numpy(h0)[None, None])
    np.testing.assert_allclose(cell.run(xs, h0=h0 + 0.5)["h"], out[0].detach().numpy(),
                               rtol=1e-10, atol=1e-10)
    assert not np.allclose(cell.run(xs, h0=h0)["h"][0], out[0, 0].detach().numpy())


def test_output_projection_is_left_out_with_a_notice(tmp_path):
    torch.manual_seed(0)
    module = minGRU(4, expansion_factor=2.0)  # proj_out: a to_out Linear after the cell
    path = tmp_path / "projected.safetensors"
    save_file(module.state_dict(), str(path))
    with pytest.warns(ReferenceModuleNotice, match="to_out.weight"):
        cell = cells.load(path)
    assert cell.kind == "min_gru" and cell.hidden_size == 8 and cell.input_size == 4


def test_state_dict_layers_pick_by_layer(tmp_path):
    torch.manual_seed(0)
    stack = torch.nn.ModuleList([minGRU(3), minLSTM(3)])
    path = tmp_path / "stack.safetensors"
    save_file(stack.state_dict(), str(path))
    assert cells.load(path, layer=0).kind == "min_gru"
    assert cells.load(path, layer=1).kind == "min_lstm"
    with pytest.raises(ValueError, match="layer 2 not found"):
        cells.load(path, layer=2)


@pytest.mark.parametrize("kind", ["min_gru", "min_lstm"])
def test_from_torch_and_load_model_run_like_the_module(kind, tmp_path):
    module = reference_module(kind, 4, 4, "float32", seed=8)
    xs = np.random.default_rng(9).normal(0, 1, (15, 4)).astype(np.float32)
    expected = module(torch.from_numpy(xs)[None])[0].detach().numpy()
    path = tmp_path / "module.safetensors"
    save_file({k: v.contiguous() for k, v in module.state_dict().items()}, str(path))
    for model in (cells.from_torch(module), cells.load_model(path)):
        trace = model.run(xs).layer(0)
        np.testing.assert_allclose(trace["h"], expected, rtol=1e-5, atol=1e-5)


def test_load_model_refuses_a_stack_of_modules(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "stack.safetensors"
    save_file(torch.nn.ModuleList([minGRU(3), minGRU(3)]).state_dict(), str(path))
    with pytest.raises(ValueError, match="residual connections"):
        cells.load_model(path)
