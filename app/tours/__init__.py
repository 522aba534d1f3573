"""Guided tours: stories told step by step on the page (GET /api/tours, /?tour=NAME).

Each tour is a JSON file in `data/` (text is data, not code): `{"name", "title", "source",
"steps": [{"text", "view": {...}, "names": [...], "target": "...", "claims": [...]}]}`.
A step's `view` sets page settings (preset, text, t, unit, stage, style, signal, sens_of,
hold, compare: [preset names]; cell: a seeded cell instead of a preset, {"cell", "seed",
"hidden_size", "options"}); `names` are the signals the text speaks of, which the page
must show; `target` is a CSS selector of the element the step talks about (the page puts it
in view and marks it `data-tour-target`).

`claims` are the numbers the text cites, as data, so a test can read each one from the
session the step's view makes and a reader can trust the sentence:
- a value of the trace: `{"signal", "t", "unit", "value"}` (`signal` may be a head output,
  `probs` or `logits`, whose `unit` is the vocabulary index);
- a sensitivity: `{"sens_of": "h"|"c", "wrt": "x"|"h"|"c", "s", "t", "unit", "value"}`,
  the norm ‖∂ sens_of_t[unit] / ∂ wrt_s‖₂ of GET /api/sessions/{id}/sensitivity;
and either may say which run it reads: `"run": "original"` (a held step's run without its
holds, which the page draws faintly; the default is the run on screen) or `"preset"` (one
of the step's compared sessions; the default is the first). The text writes every claimed
value with 4 decimals, and every number it writes with 4 decimals is a claim.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

DATA = Path(__file__).with_name("data")
VIEW_KEYS = {"preset", "text", "t", "unit", "stage", "style", "signal", "sens_of", "sens_pipes",
             "hold", "compare", "cell", "layer", "direction"}
STEP_KEYS = {"text", "view", "names", "target", "claims"}
TRACE_CLAIM = {"signal", "t", "unit", "value"}
SENSITIVITY_CLAIM = {"sens_of", "wrt", "s", "t", "unit", "value"}
CLAIM_OPTIONS = {"run", "preset", "layer"}  # layer: of a whole model (0 by default)
RUNS = ("held", "original")
DECIMALS = 4
# A number written with exactly DECIMALS decimals (a minus may be ASCII or U+2212).
CITED = re.compile(r"(?<![\d.])([-−]?\d+\.\d{" + str(DECIMALS) + r"})(?!\d)")


def cite(value: float) -> str:
    """How a text writes a claimed value: 4 decimals, the minus sign U+2212, no −0.0000."""
    text = f"{value:.{DECIMALS}f}"
    if float(text) == 0:
        text = text.lstrip("-")
    return text.replace("-", "−")


def cited_numbers(text: str) -> list[float]:
    """Every number `text` writes with exactly 4 decimals."""
    return [float(m.replace("−", "-")) for m in CITED.findall(text)]


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def check_claim(claim, view: dict) -> str | None:
    """What is wrong with `claim` on a step showing `view` (None: nothing)."""
    if not isinstance(claim, dict):
        return "a claim is an object"
    keys = set(claim) - CLAIM_OPTIONS
    if keys not in (TRACE_CLAIM, SENSITIVITY_CLAIM):
        return (f"a claim has the keys {sorted(TRACE_CLAIM)} or {sorted(SENSITIVITY_CLAIM)} "
                f"(and maybe run, preset), not {sorted(claim)}")
    numbers = ["t", "unit"] + (["s"] if "s" in claim else [])
    if not all(_is_int(claim[k]) for k in numbers):
        return f"{numbers} are whole numbers ≥ 0"
    if "s" in claim and claim["s"] > claim["t"]:
        return "a sensitivity's s is at most its t"
    value = claim["value"]
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or round(value, DECIMALS) != value:
        return "value is a number of at most 4 decimals (as the text cites it)"
    if "signal" in claim and not (isinstance(claim["signal"], str) and claim["signal"]):
        return "signal names a signal"
    if "wrt" in claim and (claim["sens_of"] not in ("h", "c") or claim["wrt"] not in "xhc"):
        return "sens_of is h or c; wrt is x, h or c"
    run = claim.get("run", "held")
    if run not in RUNS:
        return f"run is one of {RUNS}"
    if run == "original" and not view.get("hold"):
        return "run 'original' needs a held step (view.hold)"
    if "preset" in claim and claim["preset"] not in (view.get("compare") or []):
        return "preset names one of the step's compared sessions (view.compare)"
    return None


def check_step(step: dict) -> str | None:
    """What is wrong with `step` (None: nothing)."""
    if not isinstance(step, dict) or not step.get("text"):
        return "a step needs text"
    unknown = set(step) - STEP_KEYS
    if unknown:
        return f"unknown step keys {sorted(unknown)}"
    view = step.get("view", {})
    unknown = set(view) - VIEW_KEYS
    if unknown:
        return f"unknown view keys {sorted(unknown)}"
    target = step.get("target")
    if not isinstance(target, str) or not target.strip() or "\n" in target \
            or len(target) > 200:
        return "target is a CSS selector of the element the step talks about (one line)"
    claims = step.get("claims")
    if not isinstance(claims, list):
        return "claims is a list (empty when the text cites no number)"
    for claim in claims:
        problem = check_claim(claim, view)
        if problem:
            return f"claim {claim}: {problem}"
        if cite(claim["value"]) not in step["text"]:
            return f"the text does not cite {cite(claim['value'])} (claim {claim})"
    claimed = {round(c["value"], DECIMALS) for c in claims}
    for number in cited_numbers(step["text"]):
        if round(number, DECIMALS) not in claimed:
            return f"the text cites {number} with 4 decimals but no claim holds it"
    return None


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
            problem = check_step(step)
            if problem:
                raise ValueError(f"{path.name}: step {n}: {problem}")
        tours.append(tour)
    return tuple(tours)
