"""GET /api/lab and GET /api/lab/{name}: the lab's experiments and their committed results
(cells.lab: each arm's trials, mean ± 95% CI, the article's numbers, the run's log)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

import cells.lab
from app.errors import NotFound
from app.schemas import ErrorPublic

router = APIRouter(tags=["lab"])


class ExperimentPublic(BaseModel):
    name: str
    title: str
    source: str = Field(description="the article or paper the experiment reproduces")
    has_results: bool = Field(description="whether a run's results are committed")


class ArmPublic(BaseModel):
    name: str
    label: str = ""
    trials: list[dict[str, Any]] = Field(description='[{"seed", "lr", "metrics", "curve", …}]')
    summary: dict[str, dict[str, float]] = Field(description='metric -> {"mean", "ci95", "n"}')
    by_lr: dict[str, dict[str, dict[str, float]]] = Field(default_factory=dict)


class ResultsPublic(BaseModel):
    name: str
    title: str
    source: str
    about: str = ""
    primary: str = Field(description="the metric the table ranks arms by")
    lower_is_better: bool
    lrs: list[str]
    trials_per_lr: int = Field(description="seeds per arm and learning rate")
    settings: dict[str, Any]
    versions: dict[str, str] = Field(default_factory=dict, description="Python and NumPy")
    paper: dict[str, Any] | None
    arms: list[ArmPublic]
    conclusions: list[dict[str, str]]
    seconds: float = Field(description="trial time in total (each trial on one core)")
    log: str = Field(description="the log of the run that made these results")


def _experiments() -> list[dict]:
    from cells.lab.runner import RESULTS, experiment

    return [{"name": n, "title": experiment(n).TITLE, "source": experiment(n).SOURCE,
             "has_results": (RESULTS / f"{n}.json").is_file()} for n in cells.lab.names()]


@router.get("/lab", response_model=list[ExperimentPublic])
def list_experiments() -> list[dict]:
    """Every experiment of the lab, with whether its results are committed."""
    return _experiments()


@router.get("/lab/{name}", response_model=ResultsPublic,
            responses={404: {"model": ErrorPublic}})
def experiment_results(name: str) -> dict:
    """One experiment's committed results."""
    known = {e["name"]: e for e in _experiments()}
    if name not in known:
        raise NotFound("name", f"no experiment {name[:60]!r}; experiments: {', '.join(known)}")
    if not known[name]["has_results"]:
        raise NotFound("name", f"experiment {name} has no committed results yet (run "
                               f"`gatescope lab {name}`)")
    return cells.lab.results(name)
