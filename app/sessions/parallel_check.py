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
PIECE_VALUES = 2**22  # numbers of each form compared at a time


def parallel_max_abs_diff(cell: cells.Cell, inputs: Inputs) -> float | None:
    """max |parallel − step| over all stored signals and steps; None without a parallel form."""
    if not cell.has_parallel:
        return None
    from .costs import row_values

    # compared a piece of steps at a time, every signal at once: a trace that computes
    # signals again when read (the Mamba's) computes each of its blocks once, and no more
    # than PIECE_VALUES numbers of each form exist at a time
    piece = max(1, PIECE_VALUES // max(1, row_values(cell)))
    worst, state = 0.0, None
    for start in range(0, inputs.steps, WINDOW):
        xs = inputs.rows(start, min(start + WINDOW, inputs.steps))
        step = cell.run(xs, state=state)
        par = cell.run(xs, state=state, parallel=True)
        for a in range(0, len(xs), piece):
            b = min(len(xs), a + piece)
            mine, theirs = step.window(a, b, cell.layout.names), par.window(a, b,
                                                                         cell.layout.names)
            for name in cell.layout.names:
                if b > a:
                    worst = max(worst, float(abs(mine[name] - theirs[name]).max()))
        state = step.final_state  # each window from the step-by-step state, as the session
    return worst
