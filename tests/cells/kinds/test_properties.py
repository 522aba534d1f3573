"""Properties every cell kind keeps, on sizes, weights and sequences hypothesis chooses."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cells
from tests.cells.kind_cases import WRITE_DOWN_KINDS

KIND_OPTIONS = [("rnn", {}), ("rnn", {"nonlinearity": "relu"}), ("lstm", {}),
                ("peephole_lstm", {}), ("gru", {}), ("gru", {"reset_after": False}),
                ("prototype_lstm", {}), ("normalized_lstm", {}), ("pseudo_lstm", {})]


@st.composite
def runs(draw, max_T=30):
    kind, options = draw(st.sampled_from(KIND_OPTIONS))
    I, H = draw(st.integers(1, 6)), draw(st.integers(1, 8))
    T = draw(st.integers(1, max_T))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    scale = draw(st.sampled_from([0.1, 1.0, 3.0]))
    cell = cells.create(kind, input_size=I, hidden_size=H, seed=seed, dtype="float64", **options)
    if kind == "rnn" and options:  # relu with large weights overflows by design; keep it sane
        scale = 0.1
    params = {k: rng.normal(0, scale, v.shape) for k, v in cell.params.items()}
    cell = cells.create(kind, params=params, dtype="float64", **options)
    return cell, rng.normal(0, 2, (T, I))


FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(runs())
def test_ranges_follow_the_descriptions(run):
    cell, xs = run
    trace = cell.run(xs)
    for s in cell.signals:
        values = trace[s.name]
        assert values.shape == (len(xs), cell.input_size if s.size == "input" else cell.hidden_size)
        if s.range is not None:
            assert values.min() >= s.range[0] and values.max() <= s.range[1], s.name
        if s.kind == "gate":
            assert s.range == (0.0, 1.0)
        if s.kind == "candidate":
            assert s.range == (-1.0, 1.0)


@FAST
@given(runs())
def test_step_equals_run(run):
    cell, xs = run
    trace = cell.run(xs)
    state = None
    for t, x in enumerate(xs):
        state, frame = cell.step(x, state)
        for name, value in frame.items():
            np.testing.assert_allclose(value, trace[name][t], rtol=1e-12, atol=1e-12)


@FAST
@given(runs(max_T=3000), st.data())
def test_window_equals_full_run_exactly(run, data):
    cell, xs = run
    full = cell.run(xs)
    a = data.draw(st.integers(0, len(xs) - 1))
    b = data.draw(st.integers(a, len(xs)))
    # A trace that keeps almost nothing recomputes every window from its checkpoints.
    from cells.trace import Trace
    lean = Trace(cell, cell.check_inputs(xs), full.state0, full_bytes=0, cache_chunks=1)
    window = lean.window(a, b)
    for name in full.names:
        assert np.array_equal(window[name], full[name][a:b]), name


@FAST
@given(runs(max_T=2100), st.data())
def test_extend_equals_a_fresh_run_exactly(run, data):
    cell, xs = run
    cut = data.draw(st.integers(1, len(xs)))
    trace = cell.run(xs[:cut])
    if cut < len(xs):
        trace.extend(xs[cut:])
    fresh = cell.run(xs)
    assert len(trace) == len(xs)
    for name in fresh.names:
        assert np.array_equal(trace[name], fresh[name]), name


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(WRITE_DOWN_KINDS),
       st.integers(1, 6), st.integers(0, 999))
def test_open_forget_and_shut_input_keep_c_exactly(kind, H, seed):
    """Written Memories' 'write it down': f = 1 and i = 0 leave the cell state untouched."""
    I = 3
    cell = cells.create(kind, input_size=I, hidden_size=H, seed=seed, dtype="float64")
    p = {k: v.copy() for k, v in cell.params.items()}
    for k in ("weight_ih", "weight_hh"):
        p[k][:2 * H] = 0  # i and f ignore inputs and state
    p["bias_ih"][:H], p["bias_ih"][H:2 * H] = -800.0, 800.0  # σ(-800) = 0, σ(800) = 1
    p["bias_hh"][:2 * H] = 0
    for k in ("peephole_i", "peephole_f"):
        if k in p:
            p[k][:] = 0
    cell = cells.create(kind, params=p, dtype="float64")
    rng = np.random.default_rng(seed)
    c0 = rng.normal(0, 3, H)
    trace = cell.run(rng.normal(0, 1, (25, I)), c0=c0)
    assert np.array_equal(trace["f"], np.ones((25, H)))
    assert np.array_equal(trace["i"], np.zeros((25, H)))
    assert np.array_equal(trace["c"], np.tile(c0, (25, 1)))
