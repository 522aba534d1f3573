"""trace.sensitivity: ‖∂of_t[unit]/∂v_s‖ for the input x_s and the state h_s, c_s after
step s (each an independent variable, later inputs fixed), against the norms of
torch.autograd.functional.jacobian (lstm, gru both options, rnn both non-linearities) and
central differences through the public API (every kind)."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.cells.kind_cases import VARIANT_IDS, VARIANTS, random_cell, random_inputs

torch.set_num_threads(1)


def torch_step(cell):
    """One step of torch's own cell (or, for Cho's GRU, its equations in torch ops):
    (x, h, c) -> (h, c)."""
    p = {k: torch.from_numpy(v.copy()) for k, v in cell.params.items()}
    I, H = cell.input_size, cell.hidden_size
    if cell.kind == "lstm":
        m = torch.nn.LSTMCell(I, H, dtype=torch.float64)
        m.load_state_dict(p)
        return lambda x, h, c: tuple(v[0] for v in m(x[None], (h[None], c[None])))
    if cell.kind == "rnn":
        m = torch.nn.RNNCell(I, H, nonlinearity=cell.options["nonlinearity"],
                             dtype=torch.float64)
        m.load_state_dict(p)
        return lambda x, h, c: (m(x[None], h[None])[0], None)
    if cell.options["reset_after"]:
        m = torch.nn.GRUCell(I, H, dtype=torch.float64)
        m.load_state_dict(p)
        return lambda x, h, c: (m(x[None], h[None])[0], None)

    def cho(x, h, c):  # reset_after=False: r gates h before the matmul
        (W_r, W_z, W_n), (U_r, U_z, U_n) = p["weight_ih"].chunk(3), p["weight_hh"].chunk(3)
        (b_r, b_z, b_n), (c_r, c_z, c_n) = p["bias_ih"].chunk(3), p["bias_hh"].chunk(3)
        r = torch.sigmoid(W_r @ x + b_r + U_r @ h + c_r)
        z = torch.sigmoid(W_z @ x + b_z + U_z @ h + c_z)
        n = torch.tanh(W_n @ x + b_n + U_n @ (r * h) + c_n)
        return (1 - z) * n + z * h, None

    return cho


def torch_sensitivity(cell, xs, state, t, unit, of, window):
    step = torch_step(cell)
    xs_t = torch.from_numpy(xs)
    h = torch.from_numpy(state["h"])
    c = torch.from_numpy(state["c"]) if "c" in state else None
    states = [(h, c)]  # states[s + 1] is the state after step s
    for x in xs_t[:t + 1]:
        states.append(step(x, *states[-1]))

    def run(s_first, h, c, x_first=None):
        """of_t[unit] running steps s_first .. t from (h, c), x_first replacing x_{s_first}."""
        for s in range(s_first, t + 1):
            h, c = step(x_first if s == s_first and x_first is not None else xs_t[s], h, c)
        return (h if of == "h" else c)[unit]

    def pick(h, c):
        return (h if of == "h" else c)[unit]

    start = max(0, t - window + 1)
    out = {"x": [], "h": [], "c": []}
    jac = torch.autograd.functional.jacobian
    for s in range(start, t + 1):
        before, after = states[s], states[s + 1]
        out["x"].append(jac(lambda x, s=s, b=before: run(s, *b, x_first=x), xs_t[s]))
        h_s, c_s = after
        out["h"].append(jac(lambda h, s=s, c=c_s: run(s + 1, h, c) if s < t else pick(h, c),
                            h_s))
        if c_s is not None:
            out["c"].append(jac(lambda c, s=s, h=h_s: run(s + 1, h, c) if s < t else pick(h, c),
                                c_s))
    return {k: np.array([float(torch.linalg.norm(v)) for v in vs]) for k, vs in out.items()}


TORCH_CASES = [("lstm", {}, "h"), ("lstm", {}, "c"), ("gru", {"reset_after": True}, "h"),
               ("gru", {"reset_after": False}, "h"), ("rnn", {"nonlinearity": "tanh"}, "h"),
               ("rnn", {"nonlinearity": "relu"}, "h")]


@pytest.mark.parametrize("kind,options,of", TORCH_CASES,
                         ids=["lstm-h", "lstm-c", "gru-after", "gru-before", "rnn-tanh",
                              "rnn-relu"])
def test_sensitivity_matches_torch_jacobian_norms(kind, options, of):
    cell = random_cell(kind, options, I=3, H=5, seed=21)
    xs, state = random_inputs(cell, T=14, seed=21)
    trace = cell.run(xs, h0=state["h"], c0=state.get("c"))
    for t, unit, window in ((13, 2, 6), (4, 0, 256), (9, 4, 1)):
        s = trace.sensitivity(t, unit, of=of, window=window)
        expected = torch_sensitivity(cell, xs, state, t, unit, of, window)
        assert s["start"] == max(0, t - window + 1) and s["t"] == t and s["of"] == of
        for name in ("x", "h", "c"):
            if name not in cell.state_names and name != "x":
                assert s[name] is None
                continue
            assert s[name].shape == (t - s["start"] + 1,)
            np.testing.assert_allclose(s[name], expected[name], rtol=1e-10, atol=1e-12,
                                       err_msg=f"{kind} ∂{of}/∂{name}")


def differences_sensitivity(cell, xs, state, t, unit, of, start, eps=1e-6):
    """The same norms by central differences through cell.run: perturb x_s, or the state
    after step s and run steps s + 1 .. t from it."""
    # Where h is not part of the state (the prototypes) it is read out of c: its signal
    # description says how (h = c, or h = tanh(c), or h = o_t ⊙ tanh(c_t) for a pseudo LSTM
    # with a read-gated output, whose o_t was computed before c_t and stays as it was).
    readout = {"identity": lambda c: c, "tanh": np.tanh,
               "mul": lambda c: full["o"][t] * np.tanh(c)}.get(
        next(sig.op for sig in cell.signals if sig.name == "h"))

    def of_t(xs_part, st):
        """of_t[unit] after running xs_part from the state st (st itself if xs_part is empty)."""
        if len(xs_part):
            trace = cell.run(xs_part, state=st)  # every state (an sLSTM's n and m too)
            return trace[of][-1][unit]
        return (st[of] if of in st else readout(st["c"]))[unit]

    def grad_norm(f, a):
        out = np.zeros_like(a)
        for k in range(len(a)):
            up, down = a.copy(), a.copy()
            up[k] += eps
            down[k] -= eps
            out[k] = (f(up) - f(down)) / (2 * eps)
        return np.linalg.norm(out)

    full = cell.run(xs, h0=state.get("h"), c0=state.get("c"))
    norms = {"x": [], "h": [], "c": []}
    for s in range(start, t + 1):
        def with_x(x, s=s):
            xs2 = xs[:t + 1].copy()
            xs2[s] = x
            return of_t(xs2, state)
        norms["x"].append(grad_norm(with_x, xs[s].copy()))
        after = {n: full[n][s] for n in cell.state_names}
        for n in ("h", "c"):
            if n not in cell.names:
                continue
            if n not in cell.state_names:  # a read-out of the state: it feeds nothing later
                norms[n].append(1.0 if (s == t and n == of) else 0.0)
                continue
            norms[n].append(grad_norm(
                lambda v, s=s, n=n, after=after: of_t(xs[s + 1:t + 1], {**after, n: v}),
                after[n].copy()))
    return {k: np.array(v) for k, v in norms.items() if v}


@pytest.mark.parametrize("kind,options", VARIANTS, ids=VARIANT_IDS)
def test_sensitivity_matches_central_differences(kind, options):
    cell = random_cell(kind, options, I=3, H=4, seed=22)
    xs, state = random_inputs(cell, T=10, seed=22)
    trace = cell.run(xs, h0=state.get("h"), c0=state.get("c"))
    for of in [n for n in ("h", "c") if n in cell.names]:
        s = trace.sensitivity(8, 1, of=of, window=5)
        expected = differences_sensitivity(cell, xs, state, 8, 1, of, s["start"])
        for name, values in expected.items():
            np.testing.assert_allclose(s[name], values, rtol=1e-6, atol=1e-8,
                                       err_msg=f"{kind} ∂{of}/∂{name}")


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(VARIANTS), st.integers(1, 40), st.integers(1, 6), st.data())
def test_sensitivity_of_h_to_itself_is_one(variant, T, H, data):
    kind, options = variant
    cell = random_cell(kind, options, I=2, H=H, seed=T * H)
    xs, state = random_inputs(cell, T, seed=T)
    t = data.draw(st.integers(0, T - 1))
    unit = data.draw(st.integers(0, H - 1))
    window = data.draw(st.integers(1, 300))
    s = cell.run(xs, h0=state.get("h"), c0=state.get("c")).sensitivity(t, unit, "h", window)
    assert s["start"] == max(0, t - window + 1)
    assert len(s["x"]) == len(s["h"]) == t - s["start"] + 1
    assert s["h"][-1] == 1.0


def test_bad_sensitivity_requests_are_refused():
    from cells import create

    trace = create("gru", input_size=2, hidden_size=3).run(np.zeros((5, 2)))
    for kwargs, message in (({"t": 5, "unit": 0}, "outside the trace"),
                            ({"t": 1, "unit": 3}, "unit 3 is outside"),
                            ({"t": 1, "unit": 0, "of": "c"}, "of must be one of"),
                            ({"t": 1, "unit": 0, "window": 0}, "window must be at least 1"),
                            ({"t": 1.5, "unit": 0}, "t must be an integer")):
        with pytest.raises(ValueError, match=message):
            trace.sensitivity(**kwargs)


@pytest.mark.parametrize("kind,options", VARIANTS, ids=VARIANT_IDS)
def test_a_window_across_a_chunk_boundary_reads_the_right_state(kind, options):
    """t = 1030 with a window of 20 starts inside chunk 0 and ends in chunk 1 of a trace that
    keeps no chunk: the same norms as a run of just those 20 steps from the state before."""
    from cells.trace import Trace

    cell = random_cell(kind, options, I=2, H=3, seed=23, scale=0.5)
    xs, state = random_inputs(cell, T=1100, seed=23)
    full = cell.run(xs, h0=state.get("h"), c0=state.get("c"))
    lean = Trace(cell, xs, full.state0, full_bytes=0, cache_chunks=1)
    before = {n: full[n][1010] for n in cell.state_names}
    short = cell.run(xs[1011:1031], state=before)  # every state (an sLSTM's n and m too)
    for of in [n for n in ("h", "c") if n in cell.names]:
        s = lean.sensitivity(1030, 2, of=of, window=20)
        expected = short.sensitivity(19, 2, of=of, window=20)
        assert s["start"] == 1011 and expected["start"] == 0
        for name in ("x", "h", "c"):
            if expected[name] is None:
                assert s[name] is None
            else:
                np.testing.assert_allclose(s[name], expected[name], rtol=1e-12, atol=1e-14)
