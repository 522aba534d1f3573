"""mlstm against the xlstm package's own mLSTM (Beck et al. 2024) on CPU: its recurrent step
and its parallel (stabilized, quadratic) form, forward values of h̃, C, n, m and every
gradient by autograd; then our closed form against our recurrence, the fast loop against
the plain reference step, and the backward pass against finite differences."""

import numpy as np
import pytest
import torch
from xlstm.blocks.mlstm.backends import (
    parallel_stabilized_simple,
    recurrent_step_stabilized_simple,
)

import cells
from cells import mlstm_cell, reference
from cells.kinds import mlstm
from tests.support import TOLERANCE as TOL

torch.set_num_threads(1)
TORCH = {"float32": torch.float32, "float64": torch.float64}


def random_mlstm(I, H, heads, dtype, seed, **options):
    """Every weight and bias drawn (the input gates' biases spread so that m takes both
    branches of its max over a run)."""
    rng = np.random.default_rng(seed)
    gate = options.get("output_gate", True)
    R = mlstm.rows_for(H, heads, gate)
    params = {"weight_ih": rng.normal(0, 0.6, (R, I)), "bias_ih": rng.normal(0, 0.5, R)}
    rows = mlstm.block_rows(H, heads, gate)
    params["bias_ih"][rows["f"]] += 1.5
    return mlstm_cell.create(params=params, dtype=dtype, heads=heads, **options)


def torch_projections(cell, x):
    """q, k (unscaled: xlstm scales it), v (B=1, NH, S, DH) and the gate pre-activations
    (1, NH, S, 1), from weights that require grad."""
    H, heads = cell.hidden_size, cell.heads
    d = H // heads
    w = torch.from_numpy(cell.params["weight_ih"].copy()).requires_grad_()
    b = torch.from_numpy(cell.params["bias_ih"].copy()).requires_grad_()
    pre = x @ w.T + b  # (S, R)
    rows = mlstm.block_rows(H, heads, cell.options["output_gate"])
    S = len(x)

    def heads_of(name):
        return pre[:, rows[name]].reshape(S, heads, d).transpose(0, 1)[None]

    gates = {name: pre[:, rows[name]].T[None, :, :, None] for name in "if"}
    return w, b, heads_of("q"), heads_of("k"), heads_of("v"), gates["i"], gates["f"]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("heads", [1, 2, 4])
def test_recurrent_step_matches_xlstm(heads, dtype):
    T, I, H = 12, 3, 8
    cell = random_mlstm(I, H, heads, dtype, seed=heads, output_gate=False)
    rng = np.random.default_rng(10 + heads)
    xs = rng.normal(0, 1, (T, I)).astype(dtype)
    dh = rng.normal(0, 1, (T, H)).astype(dtype)
    d = H // heads

    x = torch.from_numpy(xs.copy()).requires_grad_()
    w, b, q, k, v, ig, fg = torch_projections(cell, x)
    state = (torch.zeros(1, heads, d, d, dtype=TORCH[dtype]),
             torch.zeros(1, heads, d, 1, dtype=TORCH[dtype]),
             torch.zeros(1, heads, 1, 1, dtype=TORCH[dtype]))
    hs, states = [], []
    for t in range(T):
        h, state = recurrent_step_stabilized_simple(
            *state, q[:, :, t:t + 1].clone(), k[:, :, t:t + 1].clone(), v[:, :, t:t + 1].clone(),
            ig[:, :, t:t + 1], fg[:, :, t:t + 1])
        hs.append(h[0, :, 0].reshape(H))
        states.append(state)
    h = torch.stack(hs)
    (h * torch.from_numpy(dh)).sum().backward()

    trace = cell.run(xs)
    tol = TOL[dtype]
    np.testing.assert_allclose(trace["h"], h.detach().numpy(), rtol=tol, atol=tol)
    # xlstm's memory is k vᵀ (key rows), ours v kᵀ (value rows, as the paper writes it)
    theirs_C = np.stack([s[0][0].detach().numpy() for s in states]).swapaxes(-1, -2)
    np.testing.assert_allclose(trace["C"], theirs_C, rtol=tol, atol=tol)
    np.testing.assert_allclose(trace["n"], np.stack([s[1][0, :, :, 0].detach().numpy()
                                                     for s in states]), rtol=tol, atol=tol)
    np.testing.assert_allclose(trace["m"], np.stack([s[2][0, :, 0, 0].detach().numpy()
                                                     for s in states]), rtol=tol, atol=tol)
    g = trace.backward({"h": dh})
    np.testing.assert_allclose(g.params["weight_ih"], w.grad.numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(g.params["bias_ih"], b.grad.numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(g.xs, x.grad.numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("heads", [1, 4])
def test_parallel_form_matches_xlstm(heads, dtype):
    """xlstm's parallel form starts its stabilizer at the first write, ours (as its own
    recurrence) at m₀ = 0: the two differ only in ε·exp(m) of the read-out's denominator,
    far below the float32 tolerance with gates of this size."""
    T, I, H = 16, 3, 8
    cell = random_mlstm(I, H, heads, dtype, seed=20 + heads, output_gate=False)
    rng = np.random.default_rng(30 + heads)
    xs = rng.normal(0, 1, (T, I)).astype(dtype)
    dh = rng.normal(0, 1, (T, H)).astype(dtype)
    x = torch.from_numpy(xs.copy()).requires_grad_()
    w, b, q, k, v, ig, fg = torch_projections(cell, x)
    h = parallel_stabilized_simple(q, k, v, ig, fg)[0].transpose(0, 1).reshape(T, H)
    (h * torch.from_numpy(dh)).sum().backward()

    trace = cell.run(xs, parallel=True)
    tol = TOL["float32"]
    np.testing.assert_allclose(trace["h"], h.detach().numpy(), rtol=tol, atol=tol)
    g = trace.backward({"h": dh})
    np.testing.assert_allclose(g.params["weight_ih"], w.grad.numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(g.xs, x.grad.numpy(), rtol=tol, atol=tol)


def some_state(cell, rng):
    heads, d = cell.heads, cell.head_size
    return {"C": rng.normal(0, 1, (heads, d, d)), "n": rng.normal(0, 1, (heads, d)),
            "m": rng.normal(0, 1, heads)}


@pytest.mark.parametrize("forget", ["sigmoid", "exp"])
@pytest.mark.parametrize("heads", [1, 2, 4])
def test_parallel_equals_recurrence_in_float64(heads, forget):
    T, I, H = 40, 3, 8
    cell = random_mlstm(I, H, heads, "float64", seed=40 + heads, forget=forget)
    rng = np.random.default_rng(heads)
    xs = rng.normal(0, 1, (T, I))
    for state in (None, some_state(cell, rng)):
        steps, closed = cell.run(xs, state=state), cell.run(xs, state=state, parallel=True)
        for name in cell.shapes:
            np.testing.assert_allclose(closed[name], steps[name], rtol=1e-10, atol=1e-10,
                                       err_msg=name)
        assert cell.parallel_max_abs_diff(xs, state) <= 1e-10


@pytest.mark.parametrize("output_gate", [True, False])
@pytest.mark.parametrize("forget", ["sigmoid", "exp"])
def test_fast_loop_equals_reference_step(forget, output_gate):
    T, I, H, heads = 9, 3, 8, 2
    cell = random_mlstm(I, H, heads, "float64", seed=5, forget=forget, output_gate=output_gate)
    rng = np.random.default_rng(7)
    xs = rng.normal(0, 1, (T, I))
    state = some_state(cell, rng)
    trace = cell.run(xs, state=state)
    for t, x in enumerate(xs):
        frame, state = reference.mlstm_step(dict(cell.params), x, state, heads, forget,
                                            output_gate)
        for name, value in frame.items():
            np.testing.assert_allclose(trace[name][t], value, rtol=1e-12, atol=1e-12,
                                       err_msg=f"{name} at step {t}")


def loss_of(cell, xs, state, dh, holds=None):
    return float(np.sum(cell.run(xs, state=state, interventions=holds)["h"] * dh))


@pytest.mark.parametrize(("forget", "output_gate", "held"), [
    ("sigmoid", True, False), ("exp", False, False), ("sigmoid", True, True)])
def test_backward_matches_finite_differences(forget, output_gate, held):
    T, I, H, heads = 6, 3, 4, 2
    cell = random_mlstm(I, H, heads, "float64", seed=11, forget=forget, output_gate=output_gate)
    rng = np.random.default_rng(12)
    xs = rng.normal(0, 1, (T, I))
    state = some_state(cell, rng)
    dh = rng.normal(0, 1, (T, H))
    holds = None
    if held:  # a key entry, a head's input gate, a unit of h̃, then of h
        holds = [{"signal": name, "start": t, "stop": t + 1, "units": [unit], "value": value}
                 for t, name, unit, value in ((1, "k", 0, 0.3), (1, "i", 1, 0.5),
                                              (3, "h_tilde", 2, -0.2), (3, "f", 0, 0.9),
                                              (3, "q", 3, 0.1), (4, "h", 1, 0.4),
                                              (4, "o", 0, 0.7), (4, "v", 2, 1.0))]
        holds.append({"signal": "i", "start": 2, "stop": 4, "units": None, "value": 0.25})
    g = cell.run(xs, state=state, interventions=holds).backward({"h": dh})
    eps = 1e-6

    def numeric(perturb):
        return (perturb(eps) - perturb(-eps)) / (2 * eps)

    for name in ("weight_ih", "bias_ih"):
        flat = cell.params[name].reshape(-1)
        for j in rng.choice(len(flat), min(25, len(flat)), replace=False):
            def perturb(e, name=name, j=j):
                p = {k: v.copy() for k, v in cell.params.items()}
                p[name].reshape(-1)[j] += e
                other = mlstm_cell.create(params=p, dtype="float64", **cell.options)
                return loss_of(other, xs, state, dh, holds)
            np.testing.assert_allclose(g.params[name].reshape(-1)[j], numeric(perturb),
                                       rtol=1e-6, atol=1e-7, err_msg=f"{name}[{j}]")
    for s, t in ((0, 0), (2, 1), (5, 2)):
        def perturb(e, s=s, t=t):
            moved = xs.copy()
            moved[s, t] += e
            return loss_of(cell, moved, state, dh, holds)
        np.testing.assert_allclose(g.xs[s, t], numeric(perturb), rtol=1e-6, atol=1e-7)
    for name in ("C", "n", "m"):
        flat = state[name].reshape(-1)
        for j in range(min(3, len(flat))):
            def perturb(e, name=name, j=j):
                moved = {k: v.copy() for k, v in state.items()}
                moved[name].reshape(-1)[j] += e
                return loss_of(cell, xs, moved, dh, holds)
            np.testing.assert_allclose(g.state0[name].reshape(-1)[j], numeric(perturb),
                                       rtol=1e-6, atol=1e-7, err_msg=f"d{name}0[{j}]")


def test_holds_replace_the_signal_before_it_is_read():
    cell = random_mlstm(3, 4, 2, "float64", seed=3)
    xs = np.random.default_rng(0).normal(0, 1, (5, 3))
    holds = [{"signal": "i", "start": 1, "stop": 2, "units": [0], "value": 0.0}]
    trace = cell.run(xs, interventions=holds)
    assert trace["i"][1, 0] == 0
    # a closed input valve writes nothing: head 0's memory only decays at step 1
    np.testing.assert_allclose(trace["C"][1, 0], trace["f"][1, 0] * trace["C"][0, 0])
    with pytest.raises(ValueError, match="step-by-step"):
        cell.run(xs, interventions=holds, parallel=True)
    with pytest.raises(ValueError, match="units: \\[2\\] outside 0 … 1"):  # two heads
        cell.run(xs, interventions=[{**holds[0], "units": [2]}])
    with pytest.raises(ValueError, match="cannot be held"):
        cell.run(xs, interventions=[{**holds[0], "signal": "C"}])


def test_weight_edits_change_the_cell_not_the_original():
    cell = random_mlstm(3, 4, 2, "float64", seed=3)
    rows = mlstm.block_rows(4, 2, True)
    edited = cell.with_weights([{"param": "bias_ih", "row": rows["i"].start, "col": None,
                                 "value": -50.0}])
    assert cell.params["bias_ih"][rows["i"].start] != -50.0
    xs = np.random.default_rng(1).normal(0, 1, (4, 3))
    # head 0's input gate all but shut from the start (exp(−50)): next to nothing is
    # written into its memory
    assert np.abs(edited.run(xs)["C"][:, 0]).max() < 1e-18
    assert np.abs(cell.run(xs)["C"][:, 0]).max() > 1e-3
    with pytest.raises(ValueError, match="row: 99"):
        cell.with_weights([{"param": "weight_ih", "row": 99, "col": 0, "value": 1.0}])


def test_info_lists_every_signal_with_its_shape():
    cell = random_mlstm(3, 8, 2, "float32", seed=0)
    info = cell.info()
    shapes = {s["name"]: s["shape"] for s in info["signals"]}
    assert shapes["C"] == ["heads", "d", "d"] and shapes["C_prev"] == ["heads", "d", "d"]
    assert info["state"] == ["C", "n", "m"]
    assert set(cell.shapes) <= set(shapes)


def test_signal_shapes_per_step():
    cell = random_mlstm(3, 8, 2, "float32", seed=0)
    trace = cell.run(np.ones((4, 3), np.float32))
    assert cell.signal_axes["C"] == ["heads", "d", "d"]
    assert cell.signal_axes["n"] == ["heads", "d"]
    assert cell.signal_axes["i"] == ["heads"]
    assert cell.signal_axes["h"] == ["H"]
    assert cells.kind_info("mlstm")["signals"][1]["shape"] == ["heads", "d", "d"]  # C_prev
    assert isinstance(cells.create("mlstm", input_size=3, hidden_size=8, heads=2),
                      mlstm_cell.MLSTMCell)
    for name, shape in cell.shapes.items():
        assert trace[name].shape == (4, *shape), name
        assert trace[name].dtype == np.float32, name


def test_sensitivity_is_the_gradient_of_one_output():
    """‖∂h_t[u]/∂x_s‖ from sensitivity equals the row norms of a full backward seeded at
    (t, u); the window starts from the state the trace held there."""
    cell = random_mlstm(3, 8, 2, "float64", seed=21)
    xs = np.random.default_rng(22).normal(0, 1, (12, 3))
    trace = cell.run(xs, interventions=[{"signal": "f", "start": 2, "stop": 5, "units": [1],
                                         "value": 0.5}])
    seed = np.zeros((12, 8))
    seed[9, 3] = 1
    full = trace.backward({"h": seed})
    for window in (12, 4):
        sens = trace.sensitivity(9, 3, window=window)
        start = sens["start"]
        if start == 0:
            np.testing.assert_allclose(sens["x"], np.linalg.norm(full.xs[:10], axis=-1),
                                       rtol=1e-12, atol=1e-14)
        else:  # the window's start state is a constant: the steps inside it agree
            np.testing.assert_allclose(sens["x"], np.linalg.norm(full.xs[start:10], axis=-1),
                                       rtol=1e-12, atol=1e-14)
        assert sens["C"].shape == (10 - start,) and sens["C"][-1] > 0


def test_extend_equals_a_fresh_run():
    cell = random_mlstm(3, 4, 2, "float64", seed=23)
    xs = np.random.default_rng(24).normal(0, 1, (9, 3))
    extended = cell.run(xs[:5]).extend(xs[5:])
    whole = cell.run(xs)
    for name in cell.shapes:
        np.testing.assert_array_equal(extended[name], whole[name])
    with pytest.raises(ValueError, match="no h0 or c0"):
        cell.run(xs, h0=np.zeros(4))


@pytest.mark.parametrize("parallel", [False, True])
def test_blocks_and_checkpoints_change_nothing(monkeypatch, parallel):
    """The trace keeps C only at the start of each block and recomputes it: with blocks of 4
    steps every signal, window, gradient and sensitivity equals the one-block run's (the
    closed form per block of steps carries the state as the recurrence does)."""
    cell = random_mlstm(3, 8, 2, "float64", seed=25)
    xs = np.random.default_rng(26).normal(0, 1, (18, 3))
    holds = None if parallel else [{"signal": "i", "start": 3, "stop": 9, "units": [1],
                                    "value": 0.2}]
    dh = np.random.default_rng(27).normal(0, 1, (18, 8))
    whole = cell.run(xs, interventions=holds, parallel=parallel)
    g_whole = whole.backward({"h": dh})
    monkeypatch.setattr(mlstm_cell, "BLOCK", 4)
    blocks = cell.run(xs, interventions=holds, parallel=parallel)
    assert len(blocks._checkpoints) == 6
    for name in cell.shapes:
        np.testing.assert_allclose(blocks[name], whole[name], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(blocks.window(5, 11, ["C"])["C"], whole["C"][5:11],
                               rtol=1e-12, atol=1e-12)
    g = blocks.backward({"h": dh})
    np.testing.assert_allclose(g.params["weight_ih"], g_whole.params["weight_ih"], rtol=1e-10,
                               atol=1e-12)
    np.testing.assert_allclose(g.xs, g_whole.xs, rtol=1e-10, atol=1e-12)
    for a, b in ((blocks.sensitivity(14, 2, window=7), whole.sensitivity(14, 2, window=7)),
                 (blocks.sensitivity(9, 0), whole.sensitivity(9, 0))):
        np.testing.assert_allclose(a["x"], b["x"], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(a["C"], b["C"], rtol=1e-10, atol=1e-12)
    # C kept at the 6 checkpoints only: 4 more than the one-block run keeps
    per_state = sum(int(np.prod(cell.shapes[n])) for n in ("C", "n", "m")) * 8
    assert blocks.nbytes - whole.nbytes == 4 * per_state
    assert "C" not in blocks.records


@pytest.mark.parametrize("window", [64, 5])
def test_read_weights_rebuild_the_read(window):
    """The values written, weighted by read_weights, plus what the memory held before the
    window, give h̃_t (holds on the gates included)."""
    cell = random_mlstm(3, 8, 2, "float64", seed=28)
    xs = np.random.default_rng(29).normal(0, 1, (14, 3))
    trace = cell.run(xs, state=some_state(cell, np.random.default_rng(30)),
                     interventions=[{"signal": "f", "start": 4, "stop": 7, "units": [1],
                                     "value": 0.3}, {"signal": "k", "start": 9, "stop": 10,
                                                     "units": [5], "value": 1.5}])
    for t in (3, 11):
        for head in (0, 1):
            read = trace.read_weights(t, head, window=window)
            v = trace["v"][read["start"]:t + 1, head * 4:(head + 1) * 4]
            rebuilt = read["weights"] @ v + read["from_state"]
            np.testing.assert_allclose(rebuilt, trace["h_tilde"][t, head * 4:(head + 1) * 4],
                                       rtol=1e-11, atol=1e-12)


def test_read_weights_are_xlstms_attention_matrix():
    """xlstm's parallel form computes h̃ = C̃·V with C̃ its normalized combination matrix;
    given the identity as the values it returns C̃ itself, whose row t is our read_weights
    (float32; the stabilizers' different starts change only ε·exp(m))."""
    T, I, H, heads = 10, 3, 8, 2
    cell = random_mlstm(I, H, heads, "float32", seed=31, output_gate=False)
    xs = np.random.default_rng(32).normal(0, 1, (T, I)).astype(np.float32)
    with torch.no_grad():
        _, _, q, k, _, ig, fg = torch_projections(cell, torch.from_numpy(xs))
        eye = torch.eye(T).expand(1, heads, T, T)
        theirs = parallel_stabilized_simple(q, k, eye, ig, fg)[0].numpy()  # (heads, t, s)
    trace = cell.run(xs)
    for head in range(heads):
        for t in range(T):
            np.testing.assert_allclose(trace.read_weights(t, head)["weights"],
                                       theirs[head, t, :t + 1], rtol=1e-5, atol=1e-5)


def test_extend_in_place_and_windows_of_the_state_before(monkeypatch):
    """extend grows the trace itself (a session's segment does), recomputing only the last
    partial block; C_prev, n_prev and m_prev are the state before each step."""
    monkeypatch.setattr(mlstm_cell, "BLOCK", 4)
    cell = random_mlstm(3, 4, 2, "float64", seed=33)
    xs = np.random.default_rng(34).normal(0, 1, (11, 3))
    trace = cell.run(xs[:6])
    assert trace.extend(xs[6:]) is trace and len(trace) == 11
    whole = cell.run(xs)
    for name in cell.names:
        np.testing.assert_array_equal(trace.window(0, 11, [name])[name],
                                      whole.window(0, 11, [name])[name], err_msg=name)
    prev = whole.window(3, 9, ["C_prev", "m_prev"])
    np.testing.assert_array_equal(prev["C_prev"], whole["C"][2:8])
    np.testing.assert_array_equal(whole.window(0, 2, ["m_prev"])["m_prev"][0], np.zeros(2))
    np.testing.assert_array_equal(prev["m_prev"], whole["m"][2:8])
