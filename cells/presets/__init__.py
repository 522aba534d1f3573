"""Presets: cells and models that tell a story on a sample sequence.

- `counter`: a hand-set LSTM whose cell state counts brackets (the Stack Exchange answer's
  reading of the LSTM as a counter).
- trained presets (`python-source`, `long-memory-*`): models trained here by the scripts in
  `cells/presets/recipes/` (`make presets`), their weights, logs and measured metadata
  shipped under `cells/presets/data/`.

    cells.presets.names()                 # ["counter", "python-source", ...]
    p = cells.presets.get("python-source")  # .cell, .model, .vocabulary, .encode, .units
"""

from __future__ import annotations

from .counter import COUNTER_DESCRIPTION, SWITCH, VOCABULARY, WORD_CHARS, counter
from .preset import Preset
from .trained import TRAINED, load_trained

# The counter's constants stay importable from cells.presets, as before it was a package.
__all__ = ["COUNTER_DESCRIPTION", "SWITCH", "VOCABULARY", "WORD_CHARS", "Preset", "get",
           "names"]


def names() -> list[str]:
    return ["counter", *TRAINED]


def get(name: str, dtype="float32") -> Preset:
    if name == "counter":
        return counter(dtype)
    if name in TRAINED:
        return load_trained(name, dtype)
    raise ValueError(f"unknown preset {name!r}; known presets: {', '.join(names())}")
