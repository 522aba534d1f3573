"""trace.backward against torch autograd (lstm, gru, rnn) and central finite differences
(every kind and option, with and without held signals), over chunk boundaries and long
traces."""

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cells
from cells.kinds import holdable
from cells.trace import Trace
from tests.cells.kind_cases import (
    NOT_IN_TORCH,
    TORCH_VARIANT_IDS,
    TORCH_VARIANTS,
    VARIANT_IDS,
    VARIANTS,
    random_cell,
    random_inputs,
)
from tests.support import close

torch.set_num_threads(1)
TORCH_DTYPE = {"float64": torch.float64, "float32": torch.float32}
TORCH_CELLS = {"lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell, "rnn": torch.nn.RNNCell}


def torch_gradients(cell, xs, state, dh, dc):
    """Step torch's own cell class with our parameters; autograd of Σ h·dh + Σ c·dc."""
    dtype = TORCH_DTYPE[cell.dtype.name]
    kw = {"nonlinearity": cell.options["nonlinearity"]} if cell.kind == "rnn" else {}
    m = TORCH_CELLS[cell.kind](cell.input_size, cell.hidden_size, dtype=dtype, **kw)
    m.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in cell.params.items()})
    x = torch.from_numpy(xs.copy()).requires_grad_()
    s0 = {k: torch.from_numpy(v.copy()).requires_grad_() for k, v in state.items()}
    h, c = s0["h"][None], s0["c"][None] if "c" in s0 else None
    loss = 0
    for t in range(len(xs)):
        if cell.kind == "lstm":
            h, c = m(x[t][None], (h, c))
            loss = loss + (c[0] * torch.from_numpy(dc[t])).sum()
        else:
            h = m(x[t][None], h)
        loss = loss + (h[0] * torch.from_numpy(dh[t])).sum()
    loss.backward()
    return ({k: p.grad.numpy() for k, p in m.named_parameters()}, x.grad.numpy(),
            {k: v.grad.numpy() for k, v in s0.items()})


def test_every_kind_meets_torch_or_names_its_other_reference():
    """A new kind is either one PyTorch computes or says what checks it instead."""
    in_torch = {kind for kind, _ in TORCH_VARIANTS}
    assert in_torch.isdisjoint(NOT_IN_TORCH)
    assert in_torch | set(NOT_IN_TORCH) == set(cells.KINDS)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kind,options", TORCH_VARIANTS, ids=TORCH_VARIANT_IDS)
@pytest.mark.parametrize("T,I,H", [(25, 3, 5), (9, 7, 16)])
def test_backward_matches_torch_autograd(kind, options, dtype, T, I, H):
    cell = random_cell(kind, options, I, H, dtype=dtype, seed=T + H)
    xs, state = random_inputs(cell, T, seed=T + H)
    rng = np.random.default_rng(7)
    dh = rng.normal(0, 1, (T, H)).astype(dtype)
    dc = rng.normal(0, 1, (T, H)).astype(dtype)
    trace = cell.run(xs, h0=state["h"], c0=state.get("c"))
    g = trace.backward({"h": dh, "c": dc} if "c" in state else {"h": dh})
    params, dxs, dstate = torch_gradients(cell, xs, state, dh, dc)
    assert set(g.params) == set(cell.params)
    for name, expected in params.items():
        assert g.params[name].shape == cell.params[name].shape
        close(g.params[name], expected, dtype, err_msg=name)
    close(g.xs, dxs, dtype)
    close(g.h0, dstate["h"], dtype)
    if "c" in state:
        close(g.c0, dstate["c"], dtype)
    else:
        assert g.c0 is None


@pytest.mark.parametrize("kind,options", [("lstm", {}), ("gru", {"reset_after": True})])
def test_backward_across_chunks_matches_torch(kind, options):
    """2,300 steps: three chunks, each recomputed from its checkpoint, walked backwards."""
    T, I, H = 2300, 3, 4
    cell = random_cell(kind, options, I, H, seed=5, scale=0.5)
    xs, state = random_inputs(cell, T, seed=5)
    rng = np.random.default_rng(8)
    dh, dc = rng.normal(0, 1, (T, H)), rng.normal(0, 1, (T, H))
    trace = Trace(cell, xs, cell._state_tuple({"h": state["h"], "c": state.get("c")}),
                  full_bytes=0, cache_chunks=1)
    g = trace.backward({"h": dh, "c": dc} if "c" in state else {"h": dh})
    params, dxs, dstate = torch_gradients(cell, xs, state, dh, dc)
    for name, expected in params.items():
        close(g.params[name], expected, "float64")
    close(g.xs, dxs, "float64")
    close(g.h0, dstate["h"], "float64")


def central_differences(f, a: np.ndarray, eps=1e-6) -> np.ndarray:
    """∂f/∂a by (f(a + ε) − f(a − ε)) / 2ε, one entry at a time, a changed in place."""
    out = np.zeros_like(a)
    for idx in np.ndindex(a.shape):
        orig = a[idx]
        a[idx] = orig + eps
        up = f()
        a[idx] = orig - eps
        down = f()
        a[idx] = orig
        out[idx] = (up - down) / (2 * eps)
    return out


def assert_close_to_differences(analytic, numeric, what):
    scale = 1 + np.abs(numeric).max()
    err = np.abs(analytic - numeric).max() / scale
    assert err < 1e-7, f"{what}: relative error {err:.2e}"


@pytest.mark.parametrize("kind,options", VARIANTS, ids=VARIANT_IDS)
def test_backward_matches_central_differences(kind, options):
    """Every parameter, input and initial state, plain and with each holdable signal held
    (a held signal is a constant: the differences see it so too)."""
    T, I, H = 7, 3, 4
    cell = random_cell(kind, options, I, H, seed=3)
    xs, state = random_inputs(cell, T, seed=3)
    rng = np.random.default_rng(5)
    grad = {name: rng.normal(size=(T, H)) for name in ("h", "c") if name in cell.names}
    holds = [None] + [[{"signal": s.name, "start": 2, "stop": 5, "units": [0, 2],
                        "value": 0.3}] for s in holdable(cell.spec, cell.options)]
    for held in holds:
        check_against_differences(cell, xs, state, grad, held)


def check_against_differences(cell, xs, state, grad, held):
    kind, options = cell.kind, cell.options
    params = {k: v.copy() for k, v in cell.params.items()}
    xs, state = xs.copy(), {k: v.copy() for k, v in state.items()}

    def loss():  # reads params, xs and state as central_differences changes them
        c = cells.create(kind, params=params, dtype="float64", **options)
        trace = c.run(xs, h0=state.get("h"), c0=state.get("c"), interventions=held)
        return sum((trace[name] * g).sum() for name, g in grad.items())

    g = cell.run(xs, h0=state.get("h"), c0=state.get("c"), interventions=held).backward(grad)
    label = f"{kind} {held[0]['signal'] if held else 'no hold'}"
    for name in params:
        assert_close_to_differences(g.params[name], central_differences(loss, params[name]),
                                    f"{label}: {name}")
    assert_close_to_differences(g.xs, central_differences(loss, xs), f"{label}: xs")
    for name in state:
        assert_close_to_differences(getattr(g, f"{name}0"), central_differences(loss, state[name]),
                                    f"{label}: {name}0")
    for name in ("h", "c"):
        if name not in cell.state_names:
            assert getattr(g, f"{name}0") is None


@st.composite
def traces_and_cuts(draw):
    kind, options = draw(st.sampled_from(VARIANTS))
    T = draw(st.integers(1, 2600))
    cell = random_cell(kind, options, I=2, H=draw(st.integers(1, 5)),
                       seed=draw(st.integers(0, 999)), scale=0.5)
    cuts = sorted(draw(st.lists(st.integers(0, T), max_size=4)))
    return cell, T, [0, *cuts, T]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(traces_and_cuts())
def test_backward_of_a_window_sum_equals_the_sum_over_windows(case):
    """L = Σ_k L_k, L_k a weighted sum of h and c over window k: the gradient of L equals the
    sum of the gradients of the L_k, and a trace that keeps no chunk (recomputing each one
    from its checkpoint) gives exactly the gradient of one that keeps them all."""
    cell, T, bounds = case
    xs, state = random_inputs(cell, T, seed=T)
    rng = np.random.default_rng(T)
    names = [n for n in ("h", "c") if n in cell.names]
    weights = {n: rng.normal(size=(T, cell.hidden_size)) for n in names}
    trace = cell.run(xs, h0=state.get("h"), c0=state.get("c"))
    whole = trace.backward(weights)
    parts = []
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        piece = {n: np.zeros_like(w) for n, w in weights.items()}
        for n in names:
            piece[n][a:b] = weights[n][a:b]
        parts.append(trace.backward(piece))
    for name, g in whole.params.items():
        total = sum(p.params[name] for p in parts)
        np.testing.assert_allclose(total, g, rtol=1e-8, atol=1e-8 * (1 + np.abs(g).max()))
    np.testing.assert_allclose(sum(p.xs for p in parts), whole.xs, rtol=1e-8, atol=1e-8)
    lean = Trace(cell, xs, trace.state0, full_bytes=0, cache_chunks=1)
    again = lean.backward(weights)
    for name, g in whole.params.items():
        assert np.array_equal(again.params[name], g), name
    assert np.array_equal(again.xs, whole.xs)


def test_bad_gradients_are_refused():
    trace = cells.create("gru", input_size=2, hidden_size=3).run(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="has no signal"):
        trace.backward({"c": np.zeros((4, 3))})
    with pytest.raises(ValueError, match=r"gradient h has shape \(4, 2\)"):
        trace.backward({"h": np.zeros((4, 2))})
    with pytest.raises(ValueError, match="contains NaN"):
        trace.backward({"h": np.full((4, 3), np.nan)})
    with pytest.raises(ValueError, match="dict"):
        trace.backward(np.zeros((4, 3)))


LONG = textwrap.dedent("""
    import numpy as np, cells
    T, H = 100_000, 128
    cell = cells.create("lstm", input_size=8, hidden_size=H, seed=0)
    rng = np.random.default_rng(0)
    trace = cell.run(rng.standard_normal((T, 8), dtype=np.float32))
    g = trace.backward({"h": rng.standard_normal((T, H), dtype=np.float32)})
    assert g.xs.shape == (T, 8) and all(np.isfinite(v).all() for v in g.params.values())
    # VmHWM is this process image's own peak (ru_maxrss would carry the parent's).
    print(int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) // 1024)
""")


def test_hundred_thousand_step_backward_stays_under_400_mb():
    root = Path(__file__).resolve().parents[3]
    out = subprocess.run([sys.executable, "-c", LONG], capture_output=True, text=True,
                         timeout=600, cwd=root,
                         env={"OPENBLAS_NUM_THREADS": "1", "PATH": "", "PYTHONPATH": str(root)})
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) < 400, f"peak RSS {out.stdout.strip()} MB"
