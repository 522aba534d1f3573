"""slstm against the xlstm package's own sLSTM (Beck et al. 2024), vanilla backend on CPU:
its cell (forward values of h, c, n, m and every gradient) and its layer's state dict,
loaded by its own names with the gate modules mapped by position."""

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from xlstm.blocks.slstm.cell import sLSTMCell, sLSTMCellConfig
from xlstm.blocks.slstm.layer import sLSTMLayer, sLSTMLayerConfig

import cells
from cells.formats.after_lstm import ReferenceModuleNotice, recurrent_from_heads
from cells.kinds.slstm import HEADS_MATMUL_FROM, recurrent_mask
from tests.cells.kind_cases import random_cell
from tests.support import TOLERANCE as TOL

torch.set_num_threads(1)
TORCH = {"float32": torch.float32, "float64": torch.float64}


def kernel_of(weight_hh: np.ndarray, heads: int) -> np.ndarray:
    """Our (4H, H) weight_hh as xlstm's internal recurrent kernel (NH, 4·DH, DH)."""
    H = weight_hh.shape[1]
    d = H // heads
    return np.stack([np.concatenate([weight_hh[g * H + k * d:g * H + (k + 1) * d,
                                               k * d:(k + 1) * d] for g in range(4)])
                     for k in range(heads)])


def xlstm_cell(cell, dtype):
    H, heads = cell.hidden_size, cell.options["heads"]
    module = sLSTMCell(sLSTMCellConfig(hidden_size=H, num_heads=heads, backend="vanilla",
                                       dtype="float32"))
    module = module.to(TORCH[dtype])
    kernel = kernel_of(cell.params["weight_hh"], heads)
    # random_cell draws every entry; those between heads are not wires (masked to zero)
    wires = cell.params["weight_hh"] * recurrent_mask(cell.options, H)
    np.testing.assert_array_equal(recurrent_from_heads(kernel, "", ""), wires)
    with torch.no_grad():
        module._recurrent_kernel_.copy_(torch.from_numpy(kernel))
        module._bias_.copy_(torch.from_numpy(cell.params["bias_ih"] + cell.params["bias_hh"]))
    return module


@pytest.mark.parametrize("dtype", ["float32", "float64"])
# the last: equal heads large enough to be multiplied head by head (a batched matmul)
@pytest.mark.parametrize(("heads", "H"), [(1, 4), (2, 4), (4, HEADS_MATMUL_FROM)])
def test_cell_forward_and_gradients_match_xlstm(heads, H, dtype):
    T, I = 20, 3
    cell = random_cell("slstm", {"heads": heads}, I, H, dtype=dtype, seed=heads)
    module = xlstm_cell(cell, dtype)
    rng = np.random.default_rng(heads)
    xs = rng.normal(0, 1, (T, I)).astype(dtype)
    # n0 > 0: xlstm starts m at ĩ when n is all zero (h is the same, m and the scale not)
    state = {"h": rng.normal(0, 0.5, H), "c": rng.normal(0, 0.5, H),
             "n": rng.uniform(0.5, 1.5, H), "m": rng.normal(0, 0.5, H)}
    state = {k: v.astype(dtype) for k, v in state.items()}
    dh = rng.normal(0, 1, (T, H)).astype(dtype)
    dc = rng.normal(0, 1, (T, H)).astype(dtype)

    x = torch.from_numpy(xs.copy()).requires_grad_()
    w = torch.from_numpy(cell.params["weight_ih"].copy()).requires_grad_()
    s0 = {k: torch.from_numpy(v.copy()).requires_grad_() for k, v in state.items()}
    wx = (x @ w.T)[None]  # (B=1, S, 4H), gate-major as the cell reads it
    start = torch.stack([s0["h"], s0["c"], s0["n"], s0["m"]])[:, None]  # (4, B, H)
    out, _ = module(wx, start)
    h = out[0].permute(1, 0, 2).reshape(T, H)  # (B, NH, S, DH) -> (S, H)
    states = module._impl(module.training, module._permute_input(wx), start)  # (4, S+1, B, H)
    c = states[1, 1:, 0]
    (h * torch.from_numpy(dh)).sum().add((c * torch.from_numpy(dc)).sum()).backward()

    trace = cell.run(xs, state=state)
    tol = TOL[dtype]
    for k, name in enumerate(("h", "c", "n", "m")):
        np.testing.assert_allclose(trace[name], states[k, 1:, 0].detach().numpy(), rtol=tol,
                                   atol=tol, err_msg=name)
    g = trace.backward({"h": dh, "c": dc})

    def close(ours, theirs, what):
        scale = 1 + np.abs(theirs).max()
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=tol * scale, err_msg=what)

    close(g.params["weight_ih"], w.grad.numpy(), "weight_ih")
    close(g.xs, x.grad.numpy(), "xs")
    close(kernel_of(g.params["weight_hh"], heads), module._recurrent_kernel_.grad.numpy(),
          "weight_hh")
    close(g.params["bias_ih"], module._bias_.grad.numpy(), "bias")
    for name in ("h", "c", "n", "m"):
        close(g.state0[name], s0[name].grad.numpy(), f"{name}0")


def test_stabilizer_changes_nothing_in_h():
    """From the zero state xlstm starts m at ĩ and we at max(ĩ, log σ(f̃)): the scale of c
    and n differs, h does not."""
    cell = random_cell("slstm", {"heads": 1}, 3, 4, seed=9)
    module = xlstm_cell(cell, "float64")
    xs = np.random.default_rng(9).normal(0, 1, (15, 3))
    wx = torch.from_numpy(xs @ cell.params["weight_ih"].T)[None]
    states = module._impl(False, module._permute_input(wx), torch.zeros(4, 1, 4,
                                                                      dtype=torch.float64))
    trace = cell.run(xs)
    np.testing.assert_allclose(trace["h"], states[0, 1:, 0].detach().numpy(), rtol=1e-10,
                               atol=1e-10)
    assert not np.allclose(trace["m"], states[3, 1:, 0].detach().numpy())


@pytest.mark.parametrize("heads", [1, 2, 4])
def test_layer_state_dict_loads_with_gates_by_position(heads, tmp_path):
    H = 8
    torch.manual_seed(heads)
    layer = sLSTMLayer(sLSTMLayerConfig(embedding_dim=H, num_heads=heads, conv1d_kernel_size=0,
                                        backend="vanilla", dtype="float32",
                                        recurrent_weight_init="standard"))
    with torch.no_grad():
        layer.slstm_cell._bias_.uniform_(-1, 1)
    path = tmp_path / "slstm_layer.safetensors"
    save_file({k: v.contiguous() for k, v in layer.state_dict().items()}, str(path))
    with pytest.warns(ReferenceModuleNotice) as notices:
        cell = cells.load(path)
    text = " ".join(str(n.message) for n in notices)
    assert "fgate into the input gate" in text and "group_norm" in text
    assert cell.kind == "slstm" and cell.hidden_size == H
    assert cell.options == {"heads": heads, "stabilized": True}
    seen = {}
    layer.slstm_cell.register_forward_hook(lambda m, args, out: seen.update(y=out[0]))
    x = torch.randn(1, 12, H)
    layer(x)
    y = seen["y"][0].permute(1, 0, 2).reshape(12, H)  # (NH, S, DH) -> (S, H)
    np.testing.assert_allclose(cell.run(x[0].numpy())["h"], y.detach().numpy(), rtol=1e-5,
                               atol=1e-5)


def test_layer_with_a_convolution_is_refused(tmp_path):
    layer = sLSTMLayer(sLSTMLayerConfig(embedding_dim=4, num_heads=1, conv1d_kernel_size=4,
                                        backend="vanilla", dtype="float32"))
    path = tmp_path / "conv.safetensors"
    save_file({k: v.contiguous() for k, v in layer.state_dict().items()}, str(path))
    with pytest.raises(ValueError, match="causal convolution"):
        cells.load(path)


def test_an_empty_memory_reads_zero():
    """Held i = 0 from the zero state writes nothing: n_t = 0, and h_t reads 0 (not 0/0),
    in the fast loop, the reference step and the gradients."""
    from cells import reference

    cell = random_cell("slstm", {"heads": 1}, 2, 3, seed=1)
    xs = np.random.default_rng(1).normal(0, 1, (6, 2))
    held = [{"signal": "i", "start": 0, "stop": 3, "units": None, "value": 0.0}]
    trace = cell.run(xs, interventions=held)
    assert np.all(trace["n"][:3] == 0) and np.all(trace["h"][:3] == 0)
    assert np.isfinite(trace["h"]).all()
    expected = reference.run("slstm", cell.params, xs, {},
                             interventions=cell.check_interventions(held, 6), heads=1)
    np.testing.assert_allclose(trace["h"], expected["h"], rtol=1e-12, atol=1e-12)
    g = trace.backward({"h": np.ones((6, 3))})
    assert all(np.isfinite(v).all() for v in g.params.values())


def test_a_unit_that_writes_nothing_at_first_reads_zero_without_a_hold():
    """From the zero state, an input gate that underflows (ĩ far below log σ(f̃)) writes
    nothing: n_t = 0 and h_t reads 0 until the unit first writes; the fast loop stops
    looking for n = 0 only after that, and matches the reference step throughout."""
    from cells import reference

    base = random_cell("slstm", {"heads": 1}, 2, 3, seed=1)
    params = {k: v.copy() for k, v in base.params.items()}
    params["weight_ih"][0, 0] = 500.0  # unit 0's ĩ follows x_0 steeply
    cell = cells.create("slstm", params=params, heads=1, dtype="float64")
    xs = np.random.default_rng(1).normal(0, 1, (8, 2))
    xs[:3, 0] = -3.0  # ĩ ≈ −1500 for three steps: exp underflows to 0
    xs[3:, 0] = 0.0
    trace = cell.run(xs)
    assert np.all(trace["n"][:3, 0] == 0) and np.all(trace["h"][:3, 0] == 0)
    assert np.all(trace["n"][3:] > 0) and np.isfinite(trace["h"]).all()
    expected = reference.run("slstm", cell.params, xs, {}, heads=1)
    np.testing.assert_allclose(trace["h"], expected["h"], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("heads", [1, 2])
def test_the_stabilizer_changes_nothing_but_the_scale(heads):
    """The plain exponential gates (stabilized=False, m stays 0) against the stabilized
    ones: the same h at 1e-10; c and n differ exactly by the factor exp(m_t); and the same
    gradients of a loss on h."""
    stable = random_cell("slstm", {"heads": heads}, 3, 4, seed=heads)
    plain = cells.create("slstm", params=stable.params, dtype="float64", heads=heads,
                         stabilized=False)
    xs = np.random.default_rng(heads).normal(0, 1, (40, 3))
    a, b = stable.run(xs), plain.run(xs)
    np.testing.assert_allclose(a["h"], b["h"], rtol=1e-10, atol=1e-10)
    assert np.all(b["m"] == 0) and not np.allclose(a["m"], 0)
    scale = np.exp(a["m"])
    np.testing.assert_allclose(a["c"] * scale, b["c"], rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(a["n"] * scale, b["n"], rtol=1e-10, atol=1e-10)
    dh = np.random.default_rng(0).normal(0, 1, (40, 4))
    ga, gb = a.backward({"h": dh}), b.backward({"h": dh})
    for name in ga.params:
        np.testing.assert_allclose(ga.params[name], gb.params[name], rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_forget_gate_far_below_zero_matches_xlstm(dtype):
    """Where f̃ is below −87 (float32) or −708 (float64), exp(−f̃) overflows and the
    engine's log σ(f̃) = −log(1 + exp(−f̃)) would read −inf: the chunk is computed again
    with logaddexp there, with and without holds. Units 0 and 1 have such an f̃ and an ĩ
    further below still, so that m_t = m_{t−1} + log σ(f̃) for some steps: with −inf, m_t
    would be ĩ instead, and c and n would be rescaled wrongly."""
    from cells import reference

    H, T = 4, 12
    deep = {"float32": 100.0, "float64": 800.0}[dtype]
    base = random_cell("slstm", {"heads": 1}, 3, H, dtype=dtype, seed=5)
    params = {k: v.copy() for k, v in base.params.items()}
    params["bias_ih"][:2] = -3 * deep  # ĩ
    params["bias_ih"][H:H + 2] = -deep  # f̃
    cell = cells.create("slstm", params=params, heads=1, dtype=dtype)
    module = xlstm_cell(cell, dtype)
    rng = np.random.default_rng(5)
    xs = rng.normal(0, 1, (T, 3)).astype(dtype)
    state = {"h": rng.normal(0, 0.5, H), "c": rng.normal(0, 0.5, H),
             "n": rng.uniform(0.5, 1.5, H), "m": rng.normal(0, 0.5, H)}
    state = {k: v.astype(dtype) for k, v in state.items()}
    wx = torch.from_numpy(xs @ cell.params["weight_ih"].T)[None]
    start = torch.stack([torch.from_numpy(state[k]) for k in "hcnm"])[:, None]
    with torch.no_grad():
        states = module._impl(False, module._permute_input(wx), start)
    trace = cell.run(xs, state=state)
    tol = TOL[dtype]
    for k, name in enumerate(("h", "c", "n", "m")):
        np.testing.assert_allclose(trace[name], states[k, 1:, 0].numpy(), rtol=tol, atol=tol,
                                   err_msg=name)
    assert np.any(trace["m"][:, :2] > trace["i_pre"][:, :2] + deep / 2)  # the case at stake
    held = [{"signal": "z", "start": 6, "stop": 9, "units": [3], "value": 0.25}]
    with_hold = cell.run(xs, state=state, interventions=held)
    for name in trace.names:
        np.testing.assert_array_equal(with_hold[name][:6], trace[name][:6], err_msg=name)
    expected = reference.run("slstm", cell.params, xs, state,
                             interventions=cell.check_interventions(held, T), heads=1)
    for name in ("h", "c", "n", "m"):
        np.testing.assert_allclose(with_hold[name], expected[name], rtol=tol, atol=tol,
                                   err_msg=name)
