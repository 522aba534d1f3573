"""Trained presets: models made by the recipes in `cells/presets/recipes/`, read from the
files they wrote under `cells/presets/data/<name>/` (model.safetensors, meta.json)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from .preset import Preset

DATA = Path(__file__).resolve().parent / "data"
# In the order they are listed; a preset whose files are missing is not offered.
ORDER = ("python-source", "long-memory-lstm", "long-memory-gru", "long-memory-rnn",
         "selective-copy-mamba")
# The lab's experiments (cells.lab) ship each arm's best model as lab-<experiment>-<arm>.
LAB = tuple(sorted(folder.name for folder in DATA.glob("lab-*")
                   if (folder / "model.safetensors").is_file()))
TRAINED = tuple(name for name in ORDER if (DATA / name / "model.safetensors").is_file()) + LAB


def meta(name: str) -> dict:
    """What the recipe measured and recorded (units, metrics, data, training arguments)."""
    return json.loads((DATA / name / "meta.json").read_text())


@lru_cache(maxsize=16)
def load_trained(name: str, dtype="float32") -> Preset:
    from ..models.files import load_model

    info = meta(name)
    model = load_model(DATA / name / "model.safetensors", dtype=dtype)
    cell = model.cell(0)
    units = {int(unit): dict(v) for unit, v in info.get("units", {}).items()}
    labels = tuple(units[k]["label"] if k in units else "" for k in range(cell.hidden_size))
    return Preset(name=name, description=info["description"], cell=cell,
                  vocabulary="".join(model.vocabulary), sample=info["sample"],
                  unit_labels=labels if units else (), model=model, units=units,
                  metrics=dict(info.get("metrics", {})))
