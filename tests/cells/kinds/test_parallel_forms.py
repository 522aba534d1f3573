"""The parallel forms of min_gru and min_lstm (the associative scan by doubling and the
paper's log-space scan) against their step-by-step form: every recorded signal at 1e-10
in float64 (1e-5 in float32), across chunk boundaries and from a starting state of any
sign; and what it refuses."""

import numpy as np
import pytest

import cells
from tests.cells.kind_cases import VARIANT_IDS, VARIANTS, random_cell, random_inputs
from tests.support import TOLERANCE as TOL

PARALLEL = [(k, o) for k, o in VARIANTS if cells.create(k, input_size=1, hidden_size=1,
                                                       **o).has_parallel]
IDS = [i for i, (k, o) in zip(VARIANT_IDS, VARIANTS, strict=True) if (k, o) in PARALLEL]


def test_the_kinds_with_a_parallel_form():
    assert {k for k, _ in PARALLEL} == {"min_gru", "min_lstm"}


@pytest.mark.parametrize("method", [True, "log"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kind,options", PARALLEL, ids=IDS)
def test_parallel_equals_step_by_step(kind, options, dtype, method):
    cell = random_cell(kind, options, I=3, H=5, dtype=dtype, seed=8, scale=1.5)
    xs, state = random_inputs(cell, T=2500, seed=8)  # three chunks
    step = cell.run(xs, h0=state["h"])
    par = cell.run(xs, h0=state["h"], parallel=method)
    for name in cell.layout.names:
        np.testing.assert_allclose(par[name], step[name], rtol=TOL[dtype], atol=TOL[dtype],
                                   err_msg=name)
    g_step = step.backward({"h": np.ones((2500, 5), dtype)})
    g_par = par.backward({"h": np.ones((2500, 5), dtype)})
    np.testing.assert_allclose(g_par.params["weight_ih"], g_step.params["weight_ih"],
                               rtol=TOL[dtype] * 10, atol=TOL[dtype] * 10)


def test_parallel_refuses_holds_and_kinds_without_it():
    cell = cells.create("min_gru", input_size=2, hidden_size=3)
    with pytest.raises(ValueError, match="step-by-step"):
        cell.run(np.zeros((4, 2)), parallel=True,
                 interventions=[{"signal": "z", "start": 0, "stop": 2, "value": 0.5}])
    with pytest.raises(ValueError, match="parallel must be"):
        cell.run(np.zeros((4, 2)), parallel="fast")
    with pytest.raises(ValueError, match="no parallel form"):
        cells.create("lstm", input_size=2, hidden_size=3).run(np.zeros((4, 2)), parallel=True)


def test_min_kinds_have_no_recurrent_weights():
    for kind in ("min_gru", "min_lstm"):
        cell = cells.create(kind, input_size=2, hidden_size=3)
        assert set(cell.params) == {"weight_ih", "bias_ih"}
        assert [p["name"] for p in cells.param_layout(kind, 2, 3)] == ["weight_ih", "bias_ih"]
        with pytest.raises(ValueError, match="weight_hh"):
            cells.create(kind, params={**cell.params, "weight_hh": np.zeros((6, 3))})
