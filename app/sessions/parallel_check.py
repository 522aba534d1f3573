"""Do a cell's parallel and step-by-step forms agree on a session's inputs?

For the kinds with a parallel form (cell.has_parallel: minGRU and minLSTM, whose gates read
x_t only), the session reports `parallel_max_abs_diff`: the largest absolute difference,
over every recorded signal of every step, between cell.run(xs) and cell.run(xs,
parallel=True) from the same state — the question a minGRU implementation's tracker asks.
Held signals need the step-by-step form, so the check runs the cell as it is, unheld.
"""

from __future__ import annotations

import cells

from .sequences import Inputs

WINDOW = 8192  # steps per pass: a text session's one-hot rows are made a window at a time


def parallel_max_abs_diff(cell: cells.Cell, inputs: Inputs) -> float | None:
    """max |parallel − step| over all stored signals and steps; None without a parallel form."""
    if not cell.has_parallel:
        return None
    worst, state = 0.0, None
    for start in range(0, inputs.steps, WINDOW):
        xs = inputs.rows(start, min(start + WINDOW, inputs.steps))
        step = cell.run(xs, state=state)
        par = cell.run(xs, state=state, parallel=True)
        for name in cell.layout.names:
            worst = max(worst, float(abs(step[name] - par[name]).max()))
        state = step.final_state  # each window from the step-by-step state, as the session
    return worst
