"""Every stored signal of the fast loops (pre-activations, the GRU's reset columns and the
normalized LSTM's ĉ and divisor included: the columns the LSTM's halving trick rewrites)
against the plain reference steps of cells.reference, for every kind and option."""

import numpy as np
import pytest

from cells import reference
from cells.kinds import holdable
from tests.cells.kind_cases import VARIANT_IDS, VARIANTS, random_cell, random_inputs
from tests.support import close


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kind,options", VARIANTS, ids=VARIANT_IDS)
def test_every_stored_signal_matches_the_reference(kind, options, dtype):
    cell = random_cell(kind, options, I=4, H=6, dtype=dtype, seed=11)
    xs, state = random_inputs(cell, T=50, seed=11)
    trace = cell.run(xs, h0=state.get("h"), c0=state.get("c"))
    params64 = {k: v.astype(np.float64) for k, v in cell.params.items()}
    expected = reference.run(kind, params64, xs.astype(np.float64),
                             {k: v.astype(np.float64) for k, v in state.items()}, **options)
    stored = cell.layout.names
    assert set(stored) <= set(expected), set(stored) - set(expected)
    for name in stored:
        close(trace[name], expected[name], dtype, err_msg=f"{kind} {name}")


@pytest.mark.parametrize("kind,options", VARIANTS, ids=VARIANT_IDS)
def test_held_signals_match_the_reference(kind, options):
    """Each holdable signal held in turn, for some units and steps, float64."""
    cell = random_cell(kind, options, I=3, H=5, seed=12)
    xs, state = random_inputs(cell, T=30, seed=12)
    for k, s in enumerate(holdable(cell.spec, cell.options)):
        value = 0.3 if s.range is None else 0.5 * (s.range[0] + s.range[1]) + 0.25
        held = [{"signal": s.name, "start": 4 + k, "stop": 20, "units": [1, 3],
                 "value": value},
                {"signal": s.name, "start": 25, "stop": 27, "units": None, "value": value}]
        trace = cell.run(xs, h0=state.get("h"), c0=state.get("c"), interventions=held)
        expected = reference.run(kind, cell.params, xs, state,
                                 interventions=cell.check_interventions(held, 30), **options)
        for name in cell.layout.names:
            close(trace[name], expected[name], "float64",
                  err_msg=f"{kind}: {s.name} held, {name} differs")
        assert np.all(trace[s.name][4 + k:20, [1, 3]] == np.float64(value))
