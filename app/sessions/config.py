"""`SessionConfig`: what a session is, as stored in the data directory and read by every layer.

A session is its config: the cell kind, the options used, the dtype and sizes, where the
weights come from, and the sequence. Everything else (the cell, the trace) is derived from
it deterministically, so any worker process can serve any session.

The sequence is stored compactly: text as text in the JSON, numbers as a binary `.npy` file
beside it (`values_file`), named by the content so that a rewrite never changes a file a
reader may be opening. CSV keeps its text as given, for the page's form.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import cells

# 1: values inline in the JSON; 2: a model description only for whole models (`cells`
# lists per layer); 3: every session carries its model description (`parts` per layer);
# 4: every held signal and weight edit names its part (`layer`, `direction`).
CONFIG_FORMAT = 4
PART_FIELDS = ("layer", "direction")


def with_part(item: dict) -> dict:
    """A stored item (a held signal, a weight edit) naming its part: the first (layer 0,
    forward) where it names none, as a single cell's items were stored before format 4."""
    return {**item, "layer": item.get("layer", 0), "direction": item.get("direction", "forward")}


@dataclass(frozen=True)
class SessionConfig:
    id: str
    cell: str  # the kind
    options: dict[str, Any]  # every option of the kind, as used
    dtype: str  # "float32" | "float64"
    input_size: int
    hidden_size: int
    weights: dict[str, Any]  # {"preset": name} | {"seed": int} | {"weights_id": sha256}
    # tokens of the one-hot input, for text: a str of characters, or (when some token is a
    # grapheme of several code points) a list, stored as a JSON list
    vocabulary: str | list[str] | None
    steps: int
    text: str | None = None  # the sequence, when it is text
    values_file: str | None = None  # the sequence's numbers (.npy beside the JSON)
    values_digest: str | None = None  # sha256 of those numbers: part of the content key
    csv: str | None = None  # the CSV as given, until an append
    parent: dict[str, Any] | None = None  # {"key", "steps"} of the config this one grew from
    key: str = ""  # hash of what determines the trace
    inline_values: list | None = None  # format 1 kept the numbers in the JSON
    # The session's model (app/sessions/models.py): its layers, directions, `parts` (per
    # layer, {direction: part}), encoder, head and vocabulary, and whether the weights name
    # one cell or a whole model (`weights_of`). A single cell is the one-part case. The
    # fields above describe part (0, forward). Left out, it is the single cell's.
    model: dict | None = None
    # Held signals (cells.interventions), as checked dicts, each with the `layer` and
    # `direction` of its part: part of what the trace is.
    interventions: tuple = ()
    # Changed weights (cells.weight_edits), as checked dicts with their part, as
    # interventions: part of what the cell is.
    weight_edits: tuple = ()
    # The starting state {"h": rows, "c": rows} (one row per layer and direction, as
    # cells.Model.run's h0 / c0 take them); None: zeros. Part of what the trace is.
    state: dict | None = None

    def __post_init__(self):
        if self.model is None:  # a single cell: the one-part model
            object.__setattr__(self, "model", one_part(
                self.cell, self.options, self.input_size, self.hidden_size, self.is_text))
        for name in ("interventions", "weight_edits"):  # one item shape, whatever the source
            object.__setattr__(self, name, tuple(with_part(it) for it in getattr(self, name)))

    @property
    def is_text(self) -> bool:
        return self.text is not None

    @property
    def whole(self) -> bool:
        """The weights name a whole model (read whole), not one cell: its items name their
        part by layer and direction, and its content key has the model's vocabulary."""
        return self.model.get("weights_of") == "model"

    def content_key(self) -> str:
        content = {"cell": self.cell, "options": self.options, "dtype": self.dtype,
                   "input_size": self.input_size, "hidden_size": self.hidden_size,
                   "weights": self.weights, "vocabulary": self.vocabulary,
                   "sequence": {"text": self.text} if self.is_text
                   else {"values_sha256": self.values_digest}}
        if self.whole:  # a model's tokens decide its encoding
            content["model_vocabulary"] = self.model.get("vocabulary")
        if self.interventions:  # absent when empty: keys of older sessions stay the same
            content["interventions"] = self.keyed(self.interventions)
        if self.weight_edits:  # absent when empty, as interventions
            content["weight_edits"] = self.keyed(self.weight_edits)
        if self.state:  # absent when zeros, as interventions
            content["state"] = self.state
        data = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(data.encode()).hexdigest()

    def keyed(self, items: tuple) -> list[dict]:
        """Items as the content key reads them. A single cell has one part, (0, forward),
        which every item names: its keys were made without it and stay the same (a stored
        session keeps its key; the same hold given with or without its part is one key). A
        whole model's items are keyed with their part, as they always were."""
        if self.whole:
            return list(items)
        return [{k: v for k, v in it.items() if k not in PART_FIELDS} for it in items]

    def with_key(self) -> SessionConfig:
        return dataclasses.replace(self, key=self.content_key())

    def cell_key(self) -> str:
        """What determines the cell (not the sequence)."""
        parts = [self.cell, self.options, self.dtype, self.weights, self.input_size,
                 self.hidden_size]
        if self.whole:
            parts.append(self.model.get("vocabulary"))
        if self.weight_edits:
            parts.append({"weight_edits": self.keyed(self.weight_edits)})
        return json.dumps(parts, sort_keys=True)

    def replace(self, **changes) -> SessionConfig:
        return dataclasses.replace(self, **changes)

    # -- stored form -----------------------------------------------------------------------
    def to_json(self) -> dict:
        data = {"format": CONFIG_FORMAT}
        data.update({f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                     if f.name != "inline_values"})
        data["interventions"] = list(self.interventions)
        data["weight_edits"] = list(self.weight_edits)
        return data

    @classmethod
    def from_json(cls, data: dict) -> SessionConfig:
        """A stored config; KeyError/TypeError/ValueError when it is not one."""
        data = dict(data)
        data.pop("format", None)
        sequence = data.pop("sequence", None)  # format 1
        if sequence is not None:
            if "text" in sequence:
                data["text"] = sequence["text"]
            else:  # values inline: read from here
                data["inline_values"] = sequence["values"]
                data["values_digest"] = values_digest_of_list(sequence["values"])
        data["model"] = upgraded_model(data)
        names = {f.name for f in dataclasses.fields(cls)}
        if "interventions" in data:
            data["interventions"] = tuple(data["interventions"] or ())
        if "weight_edits" in data:
            data["weight_edits"] = tuple(data["weight_edits"] or ())
        config = cls(**{k: v for k, v in data.items() if k in names})
        if not isinstance(config.steps, int) or not isinstance(config.id, str):
            raise ValueError("a config needs an integer steps and a text id")
        return config


def one_part(kind: str, options: dict, input_size: int, hidden_size: int,
             text: bool) -> dict:
    """The model description of a single cell: one layer, forward, no head; it reads
    one-hot rows of graphemes (text) or the numbers."""
    part = {"direction": "forward", "kind": kind, "options": dict(options),
            "input_size": input_size, "hidden_size": hidden_size, "output_size": hidden_size}
    dims = cells.kinds.signal_dims(kind, input_size, hidden_size, options)
    if dims is not None:  # signals of several sizes (a Mamba's E channels, N states)
        part["dims"] = dims
    encoder = {"encoding": "one_hot" if text else "numbers", "input_size": input_size,
               "tokenizer": "chars" if text else None,
               "vocabulary_size": input_size if text else None}
    return {"weights_of": "cell", "layers": 1, "directions": ["forward"],
            "parts": [{"forward": part}], "encoder": encoder, "head": None,
            "vocabulary": None}


def upgraded_model(data: dict) -> dict:
    """The model description of a stored config of any format: format 2 kept none for a
    single cell and `cells` lists (each naming its direction) for a whole model."""
    model = data.get("model")
    if model is None:
        return one_part(data["cell"], data["options"], data["input_size"],
                        data["hidden_size"], data.get("text") is not None)
    if "parts" in model:
        return model
    upgraded = {k: v for k, v in model.items() if k != "cells"}
    upgraded["parts"] = [{c["direction"]: c for c in layer} for layer in model["cells"]]
    upgraded["weights_of"] = "model"
    return upgraded


def values_digest(values_bytes: bytes) -> str:
    return hashlib.sha256(values_bytes).hexdigest()


def values_digest_of_list(values: list) -> str:
    import numpy as np

    return values_digest(np.asarray(values, np.float64).tobytes())
