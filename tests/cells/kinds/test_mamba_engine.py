"""The mamba kind's engine in float64: every signal against the plain reference step (with
held signals), the parallel scans and the closed form against the step-by-step run at
1e-10, gradients against central differences, the hidden attention reproducing y exactly,
windows and extensions bit-for-bit, and what it refuses."""

import numpy as np
import pytest

import cells
from cells import reference
from cells.kinds import holdable
from tests.support import close

E, N, H, I = 8, 4, 4, 3


def random_mamba(dtype="float64", seed=0, **options):
    """A mamba whose parameters are spread wider than its init (Δ small and large)."""
    rng = np.random.default_rng(seed)
    base = cells.create("mamba", input_size=I, hidden_size=H, dtype="float64",
                        **{"d_state": N, **options})
    params = {k: v + rng.uniform(-0.5, 0.5, v.shape) for k, v in base.params.items()}
    params["dt_proj_bias"] = rng.uniform(-4, 2, params["dt_proj_bias"].shape)
    return cells.create("mamba", params={k: v.astype(dtype) for k, v in params.items()},
                        dtype=dtype)


def random_state(cell, seed=0):
    rng = np.random.default_rng(seed + 1)
    return {k: rng.normal(0, 0.5, v.shape) for k, v in cell.zero_state().items()}


@pytest.mark.parametrize("d_conv", [4, 1])
def test_every_signal_matches_the_reference_step(d_conv):
    cell = random_mamba(d_conv=d_conv)
    xs = np.random.default_rng(2).normal(0, 1, (150, I))
    state = random_state(cell)
    trace = cell.run(xs, state=state)
    expected = reference.run("mamba", cell.params, xs, state)
    for name, value in expected.items():
        close(trace[name], value, "float64", err_msg=name)
    close(trace["h_prev"][1:], expected["h"][:-1], "float64")
    assert trace["conv_prev"].shape == (150, d_conv - 1, E)
    f32 = random_mamba("float32").run(xs)
    assert all(f32[n].dtype == np.float32 for n in cell.names)


def test_held_signals_match_the_reference_and_cut_the_gradient():
    cell = random_mamba(seed=3)
    xs = np.random.default_rng(3).normal(0, 1, (90, I))
    names = [s.name for s in holdable(cell.spec, cell.options)]
    assert set(names) == {"x_conv", "delta", "decay", "h", "gate"}
    for k, name in enumerate(names):
        value = 0.5 if name == "decay" else 0.3
        held = [{"signal": name, "start": 4 + k, "stop": 70, "units": [1, 6], "value": value}]
        trace = cell.run(xs, interventions=held)
        expected = reference.run("mamba", cell.params, xs, cell.zero_state(),
                                 interventions=cell.check_interventions(held, 90))
        for other in expected:
            close(trace[other], expected[other], "float64", err_msg=f"{name} held: {other}")
        assert np.all(trace[name][4 + k:70, [1, 6]] == value)
        # gradients with the hold: central differences of the held run
        check_gradients(cell, xs[:20] if name != "h" else xs[:30], held=[
            {**held[0], "start": 3, "stop": 15}])


@pytest.mark.parametrize("method", [True, "doubling", "log"])
def test_parallel_scans_equal_the_step_by_step_run(method):
    cell = random_mamba(seed=5)
    xs = np.random.default_rng(5).normal(0, 1, (200, I))
    state = random_state(cell, 5)
    step, par = cell.run(xs, state=state), cell.run(xs, state=state, parallel=method)
    for name in cell.names:
        close(par[name], step[name], "float64", err_msg=name)
    assert par.window(60, 140)["h"].tobytes() == par["h"][60:140].tobytes()


def test_the_state_is_the_closed_form_of_the_recurrence():
    """h_t = Σ_s (Π_{r=s+1..t} exp(Δ_r A)) Δ_s B_s u_s + (Π_{r≤t} exp(Δ_r A)) h_0, written as
    products (not the engine's scans)."""
    cell = random_mamba(seed=6)
    xs = np.random.default_rng(6).normal(0, 1, (40, I))
    state = random_state(cell, 6)
    trace = cell.run(xs, state=state)
    A = -np.exp(cell.params["A_log"])
    delta, u, B = trace["delta"], trace["x_conv"], trace["B"]
    for t in (0, 17, 39):
        h = np.prod([np.exp(delta[r][:, None] * A) for r in range(t + 1)], axis=0) * state["h"]
        for s in range(t + 1):
            keep = np.prod([np.exp(delta[r][:, None] * A) for r in range(s + 1, t + 1)],
                           axis=0) if s < t else 1
            h = h + keep * np.outer(delta[s] * u[s], B[s])
        close(trace["h"][t], h, "float64")


def check_gradients(cell, xs, held=None, state=None, eps=1e-6):
    """trace.backward against central differences of a random linear loss of out, y and h,
    for every parameter entry sampled, the inputs and the starting state."""
    rng = np.random.default_rng(7)
    state = state or cell.zero_state()
    T = len(xs)
    seeds = {"out": rng.normal(0, 1, (T, H)), "y": rng.normal(0, 1, (T, E)),
             "h": rng.normal(0, 1, (T, E, N))}

    def loss(params=None, xs_=xs, state_=state):
        c = cell if params is None else cells.create("mamba", params=params, dtype="float64")
        tr = c.run(xs_, state=state_, interventions=held)
        return sum(float((tr[k] * v).sum()) for k, v in seeds.items())

    g = cell.run(xs, state=state, interventions=held).backward(seeds)
    for name, value in cell.params.items():
        flat = value.reshape(-1)
        for j in rng.choice(flat.size, min(4, flat.size), replace=False):
            plus, minus = flat.copy(), flat.copy()
            plus[j] += eps
            minus[j] -= eps
            numeric = (loss({**cell.params, name: plus.reshape(value.shape)})
                       - loss({**cell.params, name: minus.reshape(value.shape)})) / (2 * eps)
            np.testing.assert_allclose(g.params[name].reshape(-1)[j], numeric, rtol=1e-6,
                                       atol=1e-6, err_msg=f"{name}[{j}]")
    for t, k in ((0, 1), (T - 1, 2), (T // 2, 0)):
        plus, minus = xs.copy(), xs.copy()
        plus[t, k] += eps
        minus[t, k] -= eps
        numeric = (loss(xs_=plus) - loss(xs_=minus)) / (2 * eps)
        np.testing.assert_allclose(g.xs[t, k], numeric, rtol=1e-6, atol=1e-6)
    for name, index in (("h", (2, 1)), ("conv", (0, 3))):
        if name == "conv" and state[name].size == 0:
            continue
        plus, minus = ({**state, name: state[name].copy()} for _ in range(2))
        plus[name][index] += eps
        minus[name][index] -= eps
        numeric = (loss(state_=plus) - loss(state_=minus)) / (2 * eps)
        np.testing.assert_allclose(g.state0[name][index], numeric, rtol=1e-6, atol=1e-6)


def test_gradients_match_central_differences():
    cell = random_mamba(seed=8)
    xs = np.random.default_rng(8).normal(0, 1, (140, I))  # three blocks of the recurrence
    check_gradients(cell, xs, state=random_state(cell, 8))


def test_hidden_attention_reproduces_y_exactly():
    cell = random_mamba(seed=9)
    xs = np.random.default_rng(9).normal(0, 1, (160, I))
    trace = cell.run(xs, state=random_state(cell, 9))
    y, u = trace["y"], trace["x_conv"]
    for channel, t, window in ((0, 159, 200), (5, 120, 50), (7, 0, 10), (3, 100, 1)):
        att = trace.hidden_attention(channel, t, window)
        start = max(0, t - window + 1)
        assert att["start"] == start and att["weights"].shape == (t - start + 1,) * 2
        assert np.all(np.triu(att["weights"], 1) == 0)
        close(att["weights"] @ u[start:t + 1, channel] + att["from_state"],
              y[start:t + 1, channel], "float64")
    att = trace.hidden_attention(2, 159, 160)  # from the start of the run with h0 = 0
    zero = cell.run(xs).hidden_attention(2, 159, 160)
    assert np.all(zero["from_state"] == 0)
    close(zero["weights"] @ zero["x"], zero["y"], "float64")
    diag = np.diag(att["weights"]) - cell.params["D"][2]  # C_t·Δ_t B_t, the fresh write
    close(diag, np.einsum("tn,t,tn->t", trace["C"], trace["delta"][:, 2], trace["B"]),
          "float64")


def test_windows_steps_and_extensions_are_exact():
    cell = random_mamba(seed=10)
    xs = np.random.default_rng(10).normal(0, 1, (150, I))
    full = cell.run(xs)
    part = cell.run(xs[:70]).extend(xs[70:])
    for name in cell.names:
        assert part[name].tobytes() == full[name].tobytes(), name
        assert full.window(63, 131)[name].tobytes() == full[name][63:131].tobytes(), name
    state, frame = cell.step(xs[0])
    for name in cell.names:
        close(frame[name], full[name][0], "float64", err_msg=name)
    close(state["h"], full["h"][0], "float64")


def test_sensitivity_is_the_norm_of_the_jacobian():
    cell = random_mamba(seed=11)
    xs = np.random.default_rng(11).normal(0, 1, (80, I))
    trace = cell.run(xs)
    s = trace.sensitivity(70, 3, of="y", window=30)
    assert s["start"] == 41 and len(s["x"]) == len(s["h"]) == 30
    eps = 1e-6
    for step in (41, 60, 70):
        cols = []
        for k in range(I):
            plus, minus = xs.copy(), xs.copy()
            plus[step, k] += eps
            minus[step, k] -= eps
            cols.append((cell.run(plus)["y"][70, 3] - cell.run(minus)["y"][70, 3]) / (2 * eps))
        np.testing.assert_allclose(s["x"][step - 41], np.linalg.norm(cols), rtol=1e-6,
                                   atol=1e-8)
    assert s["h"][-1] == pytest.approx(np.linalg.norm(trace["C"][70]))  # ∂y_t/∂h_t = C_t
    assert trace.sensitivity(70, 1, of="out")["of"] == "out"


@pytest.mark.parametrize("call,message", [
    (lambda c, tr: c.run(np.zeros((3, I)), parallel=True,
                         interventions=[{"signal": "delta", "start": 0, "stop": 1,
                                         "value": 1.0}]), "step-by-step"),
    (lambda c, tr: c.run(np.zeros((3, I)), state={"h": np.zeros(E)}), "initial state h"),
    (lambda c, tr: c.run(np.zeros((3, I)), c0=np.zeros(4)), "no state c"),
    (lambda c, tr: c.run(np.zeros((3, I)), interventions=[
        {"signal": "B", "start": 0, "stop": 1, "value": 1.0}]), "cannot be held"),
    (lambda c, tr: c.run(np.zeros((3, I)), interventions=[
        {"signal": "h", "start": 0, "stop": 1, "units": [E], "value": 1.0}]), "outside"),
    (lambda c, tr: tr.hidden_attention(E, 1, 4), "channel"),
    (lambda c, tr: tr.hidden_attention(0, 9, 4), "outside the trace"),
    (lambda c, tr: tr.hidden_attention(0, 1, 0), "window"),
    (lambda c, tr: tr.backward({"c": np.zeros((9, H))}), "no signal"),
    (lambda c, tr: tr.sensitivity(1, 0, of="c"), "of must be"),
    (lambda c, tr: cells.create("mamba", input_size=2, hidden_size=2, d_state=3), "d_state"),
    (lambda c, tr: cells.create("mamba", params={**c.params, "A_log": np.zeros((E, 8))}),
     "disagree|shape"),
])
def test_bad_requests_are_refused_naming_the_problem(call, message):
    cell = random_mamba()
    trace = cell.run(np.zeros((9, I)))
    with pytest.raises(ValueError, match=message):
        call(cell, trace)


def test_weight_edits_change_the_cell_and_kind_info_gives_shapes():
    cell = random_mamba()
    edited = cell.with_weights([{"param": "A_log", "row": 2, "col": 1, "value": 0.25},
                                {"param": "D", "row": 3, "value": -1.0}])
    assert edited.params["A_log"][2, 1] == 0.25 and edited.params["D"][3] == -1
    assert cell.params["D"][3] != -1
    xs = np.random.default_rng(12).normal(0, 1, (20, I))
    close(edited.run(xs)["out"], reference.run("mamba", edited.params, xs,
                                               edited.zero_state())["out"], "float64")
    info = cells.kind_info("mamba")
    shapes = {s["name"]: s["shape"] for s in info["signals"]}
    assert shapes["h"] == ["E", "N"] and shapes["B"] == ["N"] and shapes["out"] == ["H"]
    assert info["state"] == ["conv", "h"]
    assert set(info["options"]) == {"d_state", "d_conv", "expand", "dt_rank"}


def test_a_char_model_of_mambas_trains_with_exact_gradients():
    """Training's batched path (each sequence of the batch on its own, the state carried
    between windows): a 2-layer char model's gradient against central differences, float64,
    from a random carried state."""
    from cells.training import Network, loss_and_gradients
    from cells.training.model_backward import zero_state

    model = cells.char_model("mamba", "abcde", 4, layers=2, seed=6, dtype="float64",
                             d_state=2)
    net = Network(model)
    rng = np.random.default_rng(9)
    ids, targets = rng.integers(0, 5, (6, 3)), rng.integers(0, 5, (6, 3))
    state = {key: tuple(rng.normal(0, 0.3, s.shape) for s in value)
             for key, value in zero_state(net, 3).items()}
    _, grads, end = loss_and_gradients(net, ids, targets, state)
    assert end[(0, "forward")][1].shape == (3, 8, 2)  # h of each sequence: E × N
    eps = 1e-6
    for name, array in net.named().items():
        for flat in rng.choice(array.size, size=min(3, array.size), replace=False):
            index = np.unravel_index(flat, array.shape)
            keep = array[index]
            values = []
            for shift in (eps, -eps):
                array[index] = keep + shift
                net.refresh()
                values.append(loss_and_gradients(net, ids, targets, state)[0])
            array[index] = keep
            net.refresh()
            numeric = (values[0] - values[1]) / (2 * eps)
            assert abs(grads[name][index] - numeric) < 1e-7, (name, index)
    trained = cells.train(model, "abcde" * 40, steps=30, seq_len=16, batch=4, lr=1e-2, seed=0)
    assert trained.losses[-1][1] < trained.losses[0][1]
    assert trained.model.cell(0).kind == "mamba"
