"""The lab: the articles' experiments rerun here, with their published numbers beside.

    cells.lab.names()                  # ["written-memories", "counting", ...]
    cells.lab.results("counting")      # the committed run: arms, trials, summaries, log
    cells.lab.run("counting", mini=True, out=tmp)   # run (or resume) one

Each experiment is a deterministic script (cells/lab/experiments/); `gatescope lab NAME`
runs it. Committed results live in cells/lab/results/NAME.json with NAME.log, the log of
the run that made them; the best model of each arm ships as the preset lab-NAME-ARM.
"""

from __future__ import annotations

import json

from .runner import RESULTS, experiment, run

__all__ = ["names", "results", "run"]


def names() -> list[str]:
    from .experiments import EXPERIMENTS

    return list(EXPERIMENTS)


def results(name: str) -> dict:
    """The committed results of experiment `name`, with "log": the text of its run's log."""
    experiment(name)  # an unknown name raises ValueError naming the known ones
    path = RESULTS / f"{name}.json"
    if not path.is_file():
        raise ValueError(f"experiment {name!r} has no committed results yet; run "
                         f"`gatescope lab {name}`")
    out = json.loads(path.read_text())
    log = RESULTS / f"{name}.log"
    out["log"] = log.read_text() if log.is_file() else ""
    return out
