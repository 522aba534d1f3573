"""Guided tours: stories told step by step on the page (GET /api/tours, /?tour=NAME).

Each tour is a JSON file in `data/` (text is data, not code): `{"name", "title", "source",
"steps": [{"text", "view": {...}, "names": [...]}]}`. A step's `view` sets page settings
(preset, text, t, unit, stage, style, signal, sens_of, hold, compare: [preset names];
cell: a seeded cell instead of a preset, {"cell", "seed", "hidden_size", "options"});
`names` are the signals the text speaks of, which the page must show.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

DATA = Path(__file__).with_name("data")
VIEW_KEYS = {"preset", "text", "t", "unit", "stage", "style", "signal", "sens_of", "sens_pipes",
             "hold", "compare", "cell"}


@cache
def load_tours() -> tuple[dict, ...]:
    """Every tour, checked (a broken file is a bug of the repository: it raises)."""
    tours = []
    for path in sorted(DATA.glob("*.json")):
        tour = json.loads(path.read_text(encoding="utf-8"))
        if tour.get("name") != path.stem:
            raise ValueError(f"{path.name}: name {tour.get('name')!r} is not the file's")
        steps = tour.get("steps")
        if not isinstance(steps, list) or not 5 <= len(steps) <= 10:
            raise ValueError(f"{path.name}: a tour has 5 to 10 steps")
        for n, step in enumerate(steps):
            unknown = set(step.get("view", {})) - VIEW_KEYS
            if not step.get("text") or unknown:
                raise ValueError(f"{path.name}: step {n} needs text; unknown view keys {unknown}")
        tours.append(tour)
    return tuple(tours)
