"""The engine against PyTorch's own cells on random weights and sequences.

torch.nn.RNN/LSTM/GRU give the outputs and final states; their *Cell classes, stepped by
hand, give the state at every step; the gates are checked against PyTorch's documented
equations written with torch ops.
"""

import numpy as np
import pytest
import torch

import cells
from tests.support import close

TORCH_DTYPE = {"float64": torch.float64, "float32": torch.float32}
torch.set_num_threads(1)


def random_module(cls, I, H, dtype, seed, **kw):
    torch.manual_seed(seed)
    m = cls(I, H, dtype=TORCH_DTYPE[dtype], **kw)
    with torch.no_grad():  # wider than the default init, so gates saturate sometimes
        for p in m.parameters():
            p.uniform_(-1.5, 1.5)
    return m


def params_of(module) -> dict:
    sd = {k.removesuffix("_l0"): v.detach().numpy() for k, v in module.state_dict().items()}
    return sd


def inputs(T, I, H, dtype, seed):
    rng = np.random.default_rng(seed)
    return (rng.normal(0, 1.5, (T, I)).astype(dtype), rng.normal(0, 0.5, H).astype(dtype),
            rng.normal(0, 0.5, H).astype(dtype))


def as_t(a):
    return torch.from_numpy(np.ascontiguousarray(a))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("seed,T,I,H", [(0, 30, 3, 5), (1, 17, 8, 16), (2, 5, 1, 1)])
def test_lstm_matches_torch(dtype, seed, T, I, H):
    m = random_module(torch.nn.LSTM, I, H, dtype, seed)
    xs, h0, c0 = inputs(T, I, H, dtype, seed)
    cell = cells.create("lstm", params=params_of(m), dtype=dtype)
    trace = cell.run(xs, h0=h0, c0=c0)
    with torch.no_grad():
        out, (h_n, c_n) = m(as_t(xs)[:, None], (as_t(h0)[None, None], as_t(c0)[None, None]))
    close(trace["h"], out[:, 0].numpy(), dtype)
    close(trace["c"][-1], c_n[0, 0].numpy(), dtype)

    torch_cell = torch.nn.LSTMCell(I, H, dtype=TORCH_DTYPE[dtype])
    torch_cell.load_state_dict({k.removesuffix("_l0"): v for k, v in m.state_dict().items()})
    h, c = as_t(h0)[None], as_t(c0)[None]
    W_ih, W_hh = m.weight_ih_l0.detach(), m.weight_hh_l0.detach()
    b = (m.bias_ih_l0 + m.bias_hh_l0).detach()
    with torch.no_grad():
        for t in range(T):
            x = as_t(xs[t])[None]
            gates = x @ W_ih.T + h @ W_hh.T + b
            i, f, g, o = gates.chunk(4, dim=1)
            expected = {"i": torch.sigmoid(i), "f": torch.sigmoid(f), "g": torch.tanh(g),
                        "o": torch.sigmoid(o), "c_prev": c, "h_prev": h}
            h, c = torch_cell(x, (h, c))
            expected.update(c=c, h=h, tanh_c=torch.tanh(c), kept=expected["f"] * expected["c_prev"],
                            written=expected["i"] * expected["g"])
            for name, value in expected.items():
                close(trace[name][t], value[0].numpy(), dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("seed,T,I,H", [(3, 25, 4, 6), (4, 12, 9, 32), (5, 3, 2, 1)])
def test_gru_matches_torch(dtype, seed, T, I, H):
    m = random_module(torch.nn.GRU, I, H, dtype, seed)
    xs, h0, _ = inputs(T, I, H, dtype, seed)
    cell = cells.create("gru", params=params_of(m), dtype=dtype)
    assert cell.options == {"reset_after": True}
    trace = cell.run(xs, h0=h0)
    with torch.no_grad():
        out, h_n = m(as_t(xs)[:, None], as_t(h0)[None, None])
    close(trace["h"], out[:, 0].numpy(), dtype)

    torch_cell = torch.nn.GRUCell(I, H, dtype=TORCH_DTYPE[dtype])
    torch_cell.load_state_dict({k.removesuffix("_l0"): v for k, v in m.state_dict().items()})
    W_ih, W_hh = m.weight_ih_l0.detach(), m.weight_hh_l0.detach()
    b_ih, b_hh = m.bias_ih_l0.detach(), m.bias_hh_l0.detach()
    h = as_t(h0)[None]
    with torch.no_grad():
        for t in range(T):
            x = as_t(xs[t])[None]
            gi, gh = x @ W_ih.T + b_ih, h @ W_hh.T + b_hh
            r = torch.sigmoid(gi[:, :H] + gh[:, :H])
            z = torch.sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
            n = torch.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
            expected = {"r": r, "z": z, "n": n, "n_rec": gh[:, 2 * H:], "kept": z * h,
                        "written": (1 - z) * n, "h_prev": h}
            h = torch_cell(x, h)
            expected["h"] = h
            for name, value in expected.items():
                close(trace[name][t], value[0].numpy(), dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_matches_torch(dtype, nonlinearity):
    I, H, T = 5, 7, 40
    m = random_module(torch.nn.RNN, I, H, dtype, 6, nonlinearity=nonlinearity)
    with torch.no_grad():  # keep relu from exploding over 40 steps
        m.weight_hh_l0.mul_(0.3)
    xs, h0, _ = inputs(T, I, H, dtype, 6)
    cell = cells.create("rnn", params=params_of(m), dtype=dtype, nonlinearity=nonlinearity)
    trace = cell.run(xs, h0=h0)
    with torch.no_grad():
        out, _ = m(as_t(xs)[:, None], as_t(h0)[None, None])
    close(trace["h"], out[:, 0].numpy(), dtype)
    torch_cell = torch.nn.RNNCell(I, H, nonlinearity=nonlinearity, dtype=TORCH_DTYPE[dtype])
    torch_cell.load_state_dict({k.removesuffix("_l0"): v for k, v in m.state_dict().items()})
    h = as_t(h0)[None]
    with torch.no_grad():
        for t in range(T):
            close(trace["h_prev"][t], h[0].numpy(), dtype)
            h = torch_cell(as_t(xs[t])[None], h)
            close(trace["h"][t], h[0].numpy(), dtype)


def test_long_sequence_crossing_chunks_matches_torch():
    """2,500 steps span three engine chunks; torch runs them in one call."""
    m = random_module(torch.nn.LSTM, 4, 8, "float64", 7)
    with torch.no_grad():
        m.weight_hh_l0.mul_(0.5)
    xs, h0, c0 = inputs(2500, 4, 8, "float64", 7)
    trace = cells.create("lstm", params=params_of(m), dtype="float64").run(xs, h0=h0, c0=c0)
    with torch.no_grad():
        out, _ = m(as_t(xs)[:, None], (as_t(h0)[None, None], as_t(c0)[None, None]))
    close(trace["h"], out[:, 0].numpy(), "float64")
