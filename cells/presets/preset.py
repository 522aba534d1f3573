"""What a preset is: a cell (and, for trained presets, the whole model) with its story."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..cell import Cell
from ..text import one_hot


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    cell: Cell  # layer 0, forward direction: what the single-cell views show
    vocabulary: str
    sample: str
    unit_labels: tuple[str, ...] = field(default=())  # per unit index; "" where none
    model: object | None = None  # the whole cells.Model of a trained preset
    # unit index -> {"label", "feature", "signal", "layer", "correlation"} (measured)
    units: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)  # e.g. {"accuracy": 0.98} (measured)
    # the character at whose first appearance in the sample the story begins ("(" for the
    # counter: before it every unit sits at rest); "" when it begins at the first step
    story_opens: str = ""

    @property
    def start(self) -> int:
        """The step where the preset's story begins, found in the sample."""
        at = self.sample.find(self.story_opens) if self.story_opens else 0
        return max(at, 0)

    def encode(self, text: str) -> np.ndarray:
        """(len(text), len(vocabulary)) one-hot rows in the cell's dtype."""
        return one_hot(text, self.vocabulary, self.cell.dtype)
