"""Interventions: a gate, candidate or state held at a value for chosen units and steps,
against torch with the same value substituted (forward and gradients), the "write it down"
of Written Memories (r2rt, 2016), bit-for-bit windows and extensions, and clear errors."""

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cells
from cells.kinds import holdable
from cells.trace import Trace
from tests.cells.kind_cases import (
    TORCH_VARIANT_IDS,
    TORCH_VARIANTS,
    VARIANTS,
    WRITE_DOWN_KINDS,
    random_cell,
    random_inputs,
)

torch.set_num_threads(1)


def hold(value: torch.Tensor, name: str, t: int, held: list) -> torch.Tensor:
    """value with the held units replaced by the held constant (no gradient flows from it)."""
    for iv in held:
        if iv["signal"] == name and iv["start"] <= t < iv["stop"]:
            value = value.clone()
            units = slice(None) if iv["units"] is None else iv["units"]
            value[units] = iv["value"]
    return value


def torch_run(cell, xs, state, held):
    """PyTorch's documented equations in torch ops, float64, each signal passed through
    hold() right after it is computed; returns the signals and autograd's gradients of
    Σ h·dh (+ Σ c·dc)."""
    p = {k: torch.from_numpy(v.copy()).requires_grad_() for k, v in cell.params.items()}
    x_all = torch.from_numpy(xs.copy()).requires_grad_()
    s0 = {k: torch.from_numpy(v.copy()).requires_grad_() for k, v in state.items()}
    h, c = s0["h"], s0.get("c")
    out = {}
    for t in range(len(xs)):
        x = x_all[t]
        pre = p["weight_ih"] @ x + p["bias_ih"]
        rec = p["weight_hh"] @ h + p["bias_hh"]
        if cell.kind == "lstm":
            i, f, g, o = (pre + rec).chunk(4)
            v = {"i": hold(torch.sigmoid(i), "i", t, held),
                 "f": hold(torch.sigmoid(f), "f", t, held),
                 "g": hold(torch.tanh(g), "g", t, held),
                 "o": hold(torch.sigmoid(o), "o", t, held)}
            c = hold(v["f"] * c + v["i"] * v["g"], "c", t, held)
            h = hold(v["o"] * torch.tanh(c), "h", t, held)
            v.update(c=c, h=h)
        elif cell.kind == "gru":
            (xr, xz, xn), (hr, hz, hn) = pre.chunk(3), rec.chunk(3)
            r = hold(torch.sigmoid(xr + hr), "r", t, held)
            z = hold(torch.sigmoid(xz + hz), "z", t, held)
            n = hold(torch.tanh(xn + r * hn), "n", t, held)
            h = hold((1 - z) * n + z * h, "h", t, held)
            v = {"r": r, "z": z, "n": n, "h": h}
        else:
            act = torch.tanh if cell.options["nonlinearity"] == "tanh" else torch.relu
            h = hold(act(pre + rec), "h", t, held)
            v = {"h": h}
        for k, val in v.items():
            out.setdefault(k, []).append(val)
    out = {k: torch.stack(vs) for k, vs in out.items()}
    rng = np.random.default_rng(3)
    grad = {k: rng.normal(size=out[k].shape) for k in ("h", "c") if k in out}
    loss = sum((out[k] * torch.from_numpy(g)).sum() for k, g in grad.items())
    loss.backward()
    return ({k: v.detach().numpy() for k, v in out.items()}, grad,
            {k: v.grad.numpy() for k, v in p.items()}, x_all.grad.numpy())


@pytest.mark.parametrize("kind,options", TORCH_VARIANTS, ids=TORCH_VARIANT_IDS)
def test_held_signal_matches_torch_with_the_value_substituted(kind, options):
    cell = random_cell(kind, options, I=3, H=5, seed=31)
    xs, state = random_inputs(cell, T=20, seed=31)
    for s in holdable(cell.spec, cell.options):
        value = 0.8 if s.range == (0.0, 1.0) else -0.6
        held = [{"signal": s.name, "start": 3, "stop": 11, "units": [0, 2], "value": value},
                {"signal": s.name, "start": 15, "stop": 17, "units": None, "value": value}]
        trace = cell.run(xs, h0=state["h"], c0=state.get("c"), interventions=held)
        signals, grad, dparams, dxs = torch_run(cell, xs, state, held)
        for name, expected in signals.items():
            np.testing.assert_allclose(trace[name], expected, rtol=1e-10, atol=1e-10,
                                       err_msg=f"{kind}: {s.name} held, {name}")
        g = trace.backward(grad)
        for name, expected in dparams.items():
            np.testing.assert_allclose(g.params[name], expected, rtol=1e-10, atol=1e-10,
                                       err_msg=f"{kind}: {s.name} held, d{name}")
        np.testing.assert_allclose(g.xs, dxs, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kind", WRITE_DOWN_KINDS)
def test_forget_open_and_input_shut_keep_c_bit_for_bit(kind):
    """Written Memories' "write it down": with f = 1 and i = 0 the state is kept exactly."""
    cell = random_cell(kind, {}, I=3, H=6, seed=32, scale=1.5)
    xs, state = random_inputs(cell, T=40, seed=32)
    whole = [{"signal": "f", "start": 0, "stop": 40, "units": None, "value": 1.0},
             {"signal": "i", "start": 0, "stop": 40, "units": None, "value": 0.0}]
    trace = cell.run(xs, h0=state.get("h"), c0=state["c"], interventions=whole)
    assert np.array_equal(trace["c"], np.tile(state["c"], (40, 1)))
    some = [{"signal": "f", "start": 10, "stop": 30, "units": [1, 4], "value": 1},
            {"signal": "i", "start": 10, "stop": 30, "units": [1, 4], "value": 0}]
    c = cell.run(xs, h0=state.get("h"), c0=state["c"], interventions=some)["c"]
    assert np.array_equal(c[10:30, [1, 4]], np.tile(c[9, [1, 4]], (20, 1)))
    assert not np.array_equal(c[10:30, 0], np.tile(c[9, 0], 20))  # the others still move


@st.composite
def held_runs(draw):
    kind, options = draw(st.sampled_from(VARIANTS))
    T = draw(st.integers(2, 2600))
    cell = random_cell(kind, options, I=2, H=draw(st.integers(1, 5)),
                       seed=draw(st.integers(0, 999)), scale=0.6)
    signals = holdable(cell.spec, cell.options)
    held = []
    for _ in range(draw(st.integers(1, 3))):
        s = draw(st.sampled_from(signals))
        start = draw(st.integers(0, T - 1))
        stop = draw(st.integers(start + 1, T))
        low, high = s.range if s.range is not None else (-2.0, 2.0)
        units = draw(st.none() | st.lists(st.integers(0, cell.hidden_size - 1), min_size=1,
                                          max_size=3))
        held.append({"signal": s.name, "start": start, "stop": stop, "units": units,
                     "value": draw(st.floats(low, high))})
    return cell, T, held


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(held_runs(), st.data())
def test_windows_and_extensions_equal_a_full_run_and_nothing_changes_before(case, data):
    cell, T, held = case
    xs, state = random_inputs(cell, T, seed=T)
    h0, c0 = state.get("h"), state.get("c")
    full = cell.run(xs, h0=h0, c0=c0, interventions=held)
    assert [iv.to_dict() for iv in full.interventions] == [
        {**iv, "value": float(iv["value"])} for iv in held]
    a = data.draw(st.integers(0, T - 1))
    b = data.draw(st.integers(a, T))
    lean = Trace(cell, xs, full.state0, interventions=full.interventions,
                 full_bytes=0, cache_chunks=1)
    window = lean.window(a, b)
    for name in full.names:
        assert np.array_equal(window[name], full[name][a:b]), name
    first = min(iv["start"] for iv in held)
    plain = cell.run(xs, h0=h0, c0=c0)
    for name in full.names:
        assert np.array_equal(full[name][:first], plain[name][:first]), name
    cut = data.draw(st.integers(max(iv["stop"] for iv in held), T))
    grown = cell.run(xs[:cut], h0=h0, c0=c0, interventions=held)
    if cut < T:
        grown.extend(xs[cut:])
    for name in full.names:
        assert np.array_equal(grown[name], full[name]), name


@pytest.mark.parametrize("held,message", [
    ("f", "must be a list"),
    ([{"signal": "f", "start": 0, "stop": 2}], "is missing value"),
    ([{"signal": "f", "start": 0, "stop": 2, "value": 1, "colour": "red"}], "unknown field"),
    ([{"signal": "kept", "start": 0, "stop": 2, "value": 0}], "'kept' cannot be held"),
    ([{"signal": "x", "start": 0, "stop": 2, "value": 0}], "'x' cannot be held"),
    ([{"signal": "q", "start": 0, "stop": 2, "value": 0}], "it can hold i, f, g, o, c, h"),
    ([{"signal": "f", "start": 3, "stop": 3, "value": 1}], "not a non-empty range"),
    ([{"signal": "f", "start": 0, "stop": 11, "value": 1}], "sequence of 10 steps"),
    ([{"signal": "f", "start": -1, "stop": 2, "value": 1}], "not a non-empty range"),
    ([{"signal": "f", "start": 0.5, "stop": 2, "value": 1}], "start must be an integer"),
    ([{"signal": "f", "start": 0, "stop": 2, "units": [4], "value": 1}], "[4] outside 0 … 3"),
    ([{"signal": "f", "start": 0, "stop": 2, "units": [], "value": 1}], "non-empty list"),
    ([{"signal": "f", "start": 0, "stop": 2, "units": [True], "value": 1}], "units must be an"),
    ([{"signal": "f", "start": 0, "stop": 2, "value": float("nan")}], "must be finite"),
    ([{"signal": "f", "start": 0, "stop": 2, "value": "1"}], "value must be a number"),
    ([{"signal": "f", "start": 0, "stop": 2, "value": 1.5}], "outside the range of f, [0.0, 1.0]"),
    ([{"signal": "g", "start": 0, "stop": 2, "value": -2}], "outside the range of g"),
    ([{"signal": "f", "start": 0, "stop": 2, "value": 1}, 5], "interventions[1] must be"),
])
def test_bad_interventions_are_refused_naming_the_problem(held, message):
    cell = cells.create("lstm", input_size=2, hidden_size=4)
    with pytest.raises(ValueError) as err:
        cell.run(np.zeros((10, 2)), interventions=held)
    assert message in str(err.value)
    with pytest.raises(ValueError):  # the helper the server calls says the same
        cells.check_interventions("lstm", held, 10, 4)


def test_the_helper_checks_against_kind_options_and_sizes():
    held = cells.check_interventions("gru", [{"signal": "z", "start": 0, "stop": 5,
                                              "units": [2], "value": 1}], 5, 3,
                                     reset_after=False)
    assert held == (cells.Intervention("z", 0, 5, (2,), 1.0),)
    assert cells.check_interventions("rnn", None, 5, 3) == ()
    assert cells.check_interventions("rnn", [{"signal": "h", "start": 0, "stop": 1,
                                              "value": 50.0}], 5, 3, nonlinearity="relu")
    with pytest.raises(ValueError, match="outside the range of h"):  # tanh's h is in [−1, 1]
        cells.check_interventions("rnn", [{"signal": "h", "start": 0, "stop": 1,
                                           "value": 50.0}], 5, 3)
    with pytest.raises(ValueError, match="'c_scale' cannot be held"):
        cells.check_interventions("normalized_lstm", [{"signal": "c_scale", "start": 0,
                                                       "stop": 1, "value": 1}], 5, 3)
    with pytest.raises(ValueError, match="unknown cell kind"):
        cells.check_interventions("transformer", [], 5, 3)
