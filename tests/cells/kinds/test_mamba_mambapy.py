"""The mamba kind against mambapy (Gu and Dao 2023's selective-SSM mixer in pure PyTorch):
a MambaBlock's tensors under our flat names give its output and its gradients at 1e-5
(float32), by its parallel scan and its step-by-step cache form, from a zero start and from
a cache it carried."""

import math

import numpy as np
import pytest
import torch
from mambapy.mamba import MambaBlock, MambaConfig

import cells
from tests.support import TOLERANCE as TOL

torch.set_num_threads(1)


def mambapy_block(D, d_state=4, d_conv=4, expand=2, dt_rank="auto", bias=False, seed=0,
                  pscan=True):
    torch.manual_seed(seed)
    config = MambaConfig(d_model=D, n_layers=1, d_state=d_state, d_conv=d_conv,
                         expand_factor=expand, dt_rank=dt_rank, bias=bias, pscan=pscan)
    block = MambaBlock(config)
    with torch.no_grad():  # A and D away from their neat initial values, Δ in all regimes
        block.A_log.add_(torch.rand_like(block.A_log) * 0.5)
        block.D.uniform_(-1, 1)
        block.dt_proj.bias.uniform_(-3, 2)
    return block


def our_params(block) -> dict:
    """The module's tensors under the engine's flat names (conv1d.weight without its
    singleton axis)."""
    out = {}
    for name, value in block.state_dict().items():
        a = value.detach().numpy().copy()
        if name == "conv1d.weight":
            a = a[:, 0, :]
        out[name.replace("conv1d.", "conv_").replace(".", "_")] = a
    return out


def assert_gradient_close(ours, theirs, dtype="float32"):
    """Gradients are sums over every step: at 1e-5 of their largest magnitude."""
    scale = 1 + np.abs(theirs).max()
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=TOL[dtype] * scale)


@pytest.mark.parametrize("pscan", [True, False])
@pytest.mark.parametrize("parallel", [False, True, "log"])
@pytest.mark.parametrize("shape", [dict(D=6, d_state=4, d_conv=4, expand=2),
                                   dict(D=20, d_state=16, d_conv=3, expand=1, dt_rank=4,
                                        bias=True)])
def test_forward_and_gradients_equal_mambapys_block(shape, parallel, pscan):
    block = mambapy_block(**shape, pscan=pscan)
    cell = cells.create("mamba", params=our_params(block))
    assert cell.options["d_state"] == shape["d_state"]
    assert cell.channels == shape["expand"] * shape["D"]
    rng = np.random.default_rng(1)
    T = 150  # more than two blocks of the recurrence
    xs = rng.normal(0, 1, (T, shape["D"])).astype(np.float32)
    d_out = rng.normal(0, 1, (T, shape["D"])).astype(np.float32)
    x = torch.from_numpy(xs.copy())[None].requires_grad_()
    out_ref = block(x)[0]
    (out_ref * torch.from_numpy(d_out)).sum().backward()
    trace = cell.run(xs, parallel=parallel)
    assert trace["out"].dtype == np.float32
    np.testing.assert_allclose(trace["out"], out_ref.detach().numpy(), rtol=TOL["float32"],
                               atol=TOL["float32"])
    g = trace.backward({"out": d_out})
    assert_gradient_close(g.xs, x.grad[0].numpy())
    for name, p in block.named_parameters():
        ours = g.params[name.replace("conv1d.", "conv_").replace(".", "_")]
        theirs = p.grad.numpy()
        assert_gradient_close(ours, theirs[:, 0, :] if name == "conv1d.weight" else theirs)


def test_a_carried_cache_equals_mambapys_step():
    """mambapy's step(x, (h, inputs)) from a cache it carried: our run from the same state
    (its inputs are our conv delay line, oldest first; its h is ours)."""
    D = 5
    block = mambapy_block(D, d_state=4, d_conv=4, expand=2, seed=3)
    cell = cells.create("mamba", params=our_params(block))
    rng = np.random.default_rng(4)
    xs = rng.normal(0, 1, (30, D)).astype(np.float32)
    E, N = cell.channels, 4
    h = torch.from_numpy(rng.normal(0, 1, (1, E, N)).astype(np.float32))
    inputs = torch.from_numpy(rng.normal(0, 1, (1, E, 3)).astype(np.float32))
    state = {"h": h[0].numpy().copy(), "conv": inputs[0].numpy().T.copy()}
    outs = []
    with torch.no_grad():
        cache = (h, inputs)
        for x in xs:
            out, cache = block.step(torch.from_numpy(x)[None], cache)
            outs.append(out[0].numpy())
    trace = cell.run(xs, state=state)
    np.testing.assert_allclose(trace["out"], np.stack(outs), rtol=TOL["float32"],
                               atol=TOL["float32"])
    end = trace.final_state
    np.testing.assert_allclose(end["h"], cache[0][0].numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(end["conv"], cache[1][0].numpy().T, rtol=1e-5, atol=1e-5)


def test_options_follow_the_weights_and_auto_rank_is_mambapys():
    block = mambapy_block(40, d_state=8, d_conv=2, expand=2)
    cell = cells.create("mamba", params=our_params(block))
    assert cell.options == {"d_state": 8, "d_conv": 2, "expand": 2, "dt_rank": "auto"}
    assert cell.dims["R"] == math.ceil(40 / 16) == block.config.dt_rank
    with pytest.raises(ValueError, match="d_state"):
        cells.create("mamba", params=our_params(block), d_state=16)
