"""Sessions as models (`cells.Model`): layers × directions of cells, an encoder and a head.

Every session's config describes its model in `config.model` (plain data: its layers,
directions, `parts` per layer as {direction: part}, encoder, head and vocabulary); a single
cell is the one-part case (app/sessions/config.py `one_part`). The usual fields say which
cell the page looks at by default (layer 0, forward). The model itself is rebuilt from the
weights reference (app/sessions/building.py).

The run: the whole model is run once (`ModelRun`) and what each layer reads is kept (the
encoded input for layer 0, layer l−1's output for layer l), with the head's logits and
probabilities. The trace of one (layer, direction) is then an ordinary `SharedTrace` of
that cell over those rows, reversed for the backward direction, so every route and the
stream read it as they read a single cell's. Its step k is time T−1−k for a backward cell:
the cell reads the sequence from the end (as nn.LSTM(bidirectional=True) and Keras do).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

import cells
from app.errors import ApiError
from app.sessions.config import SessionConfig
from app.sessions.sequences import Inputs
from cells.formats.vocabulary_files import Subwords
from cells.models import projected
from cells.models.model import BACKWARD, FORWARD
from cells.models.reserved_tokens import reserved_tokens

OUTPUTS = ("logits", "probs")  # the head's signals, by time, that the trace route serves
# A block's rows (cells.models.blocks.SIGNALS) are served by the trace route under this
# prefix, so that they never clash with a cell's own signal names (a cell's `norm`, `out`)
BLOCK_PREFIX = "block."


def is_projected(cell) -> bool:
    """An nn.LSTM(proj_size=P) cell: its h has P values, and it has no backward pass."""
    return isinstance(cell, projected.ProjectedLSTM)


def is_model(model: cells.Model) -> bool:
    """Whether a model is more than one forward cell fed raw numbers (else a plain cell
    session shows all of it). A projected LSTM is never a plain cell."""
    return (model.layers > 1 or model.directions != (FORWARD,) or model.head is not None
            or model.encoder.encoding != "numbers"
            or any(is_projected(c) for layer in model.stack for c in layer.cells.values()))


def refuse_unsupported(model: cells.Model, field: str) -> None:
    for layer in model.stack:
        for cell in layer.cells.values():
            if not isinstance(cell, cells.Cell) and not is_projected(cell) \
                    and cell.kind not in cells.KINDS:
                raise ApiError(field, f"{type(cell).__name__} layers cannot be shown in a "
                                      "session yet; the engine's cells.load_model reads them")


def signals_of(part: dict) -> tuple[cells.Signal, ...]:
    """The signals of a cell description (a part of a session): its kind's, or, for an LSTM
    with proj_size, the projected cell's (m, then h = W_hr·m)."""
    if part.get("proj_size"):
        return projected.projected_signals()
    return cells.describe(part["kind"], **part["options"])


def stages_of(part: dict) -> list[str]:
    """The stages of that cell in computation order, from the engine (never typed here)."""
    if part.get("proj_size"):
        return projected.projected_stages()
    return cells.kind_info(part["kind"])["stages"]


def signal_width(part: dict, signal: cells.Signal) -> int:
    """Numbers per step of `signal` in that cell: I, P (a projection's h) or H."""
    if signal.size == "input":
        return part["input_size"]
    if signal.size == "projection":
        return part["proj_size"]
    return part["hidden_size"]


def describe_model(model: cells.Model, keep_tokenizer: bool = False) -> dict:
    """What a session stores and says about a whole model (JSON-ready). `keep_tokenizer`:
    with a subword vocabulary's tokenizer.json, as an upload's record keeps it once (a
    session built from the upload reads it there)."""
    info = model.info()
    head = model.head
    vocabulary = list(model.vocabulary) if model.vocabulary is not None else None
    if head is None:
        head_public = None
    else:
        named = vocabulary is not None and len(vocabulary) == head.output_size
        head_public = {"kind": "linear" if head.activation == "linear" else head.activation,
                       "outputs": head.output_size,
                       "labels": vocabulary if named else [str(j) for j in
                                                           range(head.output_size)]}
    parts = [{c["direction"]: {**c, "proj_size": cell.proj_size} if is_projected(cell) else c
              for c, cell in zip(row, layer.cells.values(), strict=True)}
             for row, layer in zip(info["cells"], model.stack, strict=True)]
    described = {"weights_of": "model", "layers": model.layers,
                 "directions": list(model.directions), "parts": parts,
                 "encoder": info["encoder"], "head": head_public, "vocabulary": vocabulary,
                 "blocks": [None if block is None else {**block, "width": layer.input_size}
                            for block, layer in zip(info["blocks"], model.stack, strict=True)],
                 "final_norm": info["final_norm"]}
    if keep_tokenizer and isinstance(model.vocabulary, Subwords):
        described["tokenizer_json"] = model.vocabulary.json
    return described


def start_state_sizes(part: dict, signals) -> dict[str, int]:
    """{"h": width, "c": width}: the starting state a session of this cell takes, one row per
    state, as the engine's Model.state_sizes says (each state's `<name>_prev` signal is
    one row of that many numbers; a Mamba's h, channels × N, is not one row)."""
    by_name = {s.name: s for s in signals}
    sizes = {}
    for name in ("h", "c"):
        prev = by_name.get(f"{name}_prev")
        if prev is not None and len(prev.to_dict().get("shape") or ["H"]) == 1:
            sizes[name] = signal_width(part, prev)
    return sizes


def reserved_of(described: dict) -> list[str]:
    """The reserved tokens (`<pad>`, `</s>`) of a model's character vocabulary: each one
    step when typed whole; [] when it has none."""
    tokens = described.get("vocabulary")
    if not tokens or described["encoder"].get("tokenizer") != "chars":
        return []
    return list(reserved_tokens(tokens) or ())


def public_part(part: dict) -> dict:
    """A part as GET /api/sessions/{id} says it: with its signals, stages, what it can
    hold and its parameter layout (what a weight edit may change)."""
    projected_part = bool(part.get("proj_size"))  # holds nothing, edits nothing (yet)
    signals = signals_of(part)
    return {**part, "signals": [s.to_dict() for s in signals],
            "state_sizes": start_state_sizes(part, signals),
            "stages": stages_of(part),
            "holdable": [] if projected_part else [
                s.name for s in cells.kinds.holdable(cells.kinds.spec_for(part["kind"]),
                                                     part["options"])],
            "params": [] if projected_part else cells.param_layout(
                part["kind"], part["input_size"], part["hidden_size"], **part["options"])}


def public_parts(config: SessionConfig) -> dict:
    """`layers`, `directions`, `head`, `parts` (per layer, {direction: part}), `cells`
    (the same records as lists per layer, in direction order), `blocks` (per layer, the
    parts around its cell, or None) and `final_norm` (the norm before the head, or None)."""
    described = config.model
    parts = [{d: public_part(p) for d, p in layer.items()} for layer in described["parts"]]
    return {"layers": described["layers"], "directions": described["directions"],
            "head": described["head"], "cells": [list(layer.values()) for layer in parts],
            "parts": parts,
            "blocks": [public_block(block) for block in blocks_of(described)],
            "final_norm": described.get("final_norm")}


def blocks_of(described: dict) -> list[dict | None]:
    """Per layer, the block description (cells.models.blocks.Block.describe) or None; a
    model described before blocks were (or a single cell) has none."""
    return described.get("blocks") or [None] * described["layers"]


def public_block(block: dict | None) -> dict | None:
    """A block as GET /api/sessions/{id} says it: its parts, options, signals, the stream's
    width and the names the trace route serves its rows under."""
    return None if block is None else {**block, "names": block_names(block)}


def block_names(block: dict | None) -> list[str]:
    """The trace route's names of a block's rows, in the order the block makes them."""
    return [] if block is None else [BLOCK_PREFIX + s for s in block["signals"]]


def check_part(config: SessionConfig, layer: int, direction: str) -> dict:
    """The part of (layer, direction), or a 422 naming the value."""
    layers = config.model["layers"]
    if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer < layers:
        raise ApiError("layer", f"layer {layer!r} is not one of 0..{layers - 1} (this model "
                                f"has {layers} layer{'s' if layers != 1 else ''})")
    row = config.model["parts"][layer]
    if direction not in row:
        raise ApiError("direction", f"direction {direction!r} is not one of "
                                    f"{', '.join(row)} for layer {layer}")
    return row[direction]


def text_ids(model: cells.Model, text: str, field: str) -> np.ndarray:
    """Token ids of text typed into a text model; unknown tokens listed in a 422."""
    try:
        return model.encoder.ids(text)
    except ValueError as exc:
        raise ApiError(field, str(exc)) from exc


@dataclass(eq=False)
class ModelRun:
    """One run of a session's model: what every layer read, and the head's outputs."""

    model: cells.Model
    layer_inputs: list[np.ndarray]  # [layer] -> (T, I_l), time order
    logits: np.ndarray | None  # (T, O)
    probs: np.ndarray | None  # (T, O), softmax or sigmoid heads
    # [layer] -> {block signal: (T, E)} in time order (cells.models.blocks.SIGNALS), or None
    blocks: tuple[dict[str, np.ndarray] | None, ...] = ()

    @classmethod
    def of(cls, model: cells.Model, sequence, interventions=(), state: dict | None = None
           ) -> ModelRun:
        """`interventions`: the session's held signals (checked when it was made); `state`:
        its starting state, {"h": rows, "c": rows} (SessionConfig.state)."""
        try:
            trace = model.run(sequence, interventions=list(interventions),
                              **{f"{k}0": v for k, v in (state or {}).items()})
        except ValueError as exc:
            raise ApiError("sequence", str(exc)) from exc
        inputs = [np.ascontiguousarray(rows) for rows in trace.reads]
        names = trace.names
        logits = trace["logits"] if "logits" in names else None
        probs = trace["probs"] if "probs" in names else None
        blocks = tuple(None if rows is None else dict(rows) for rows in trace.blocks)
        return cls(model, inputs, logits, probs, blocks)

    @property
    def steps(self) -> int:
        return len(self.layer_inputs[0])

    @property
    def nbytes(self) -> int:
        arrays = [*self.layer_inputs, self.logits, self.probs,
                  *(a for rows in self.blocks if rows is not None for a in rows.values())]
        # a block's rows share arrays (its norm is what the cell read, its output the next
        # block's input, the residual is the output without a feed-forward): count each once
        unique = {id(a): a for a in arrays if a is not None}
        return int(sum(a.nbytes for a in unique.values()))

    def block(self, layer: int, name: str) -> np.ndarray:
        """(T, E) a row of the block around layer `layer`'s cell (`name` unprefixed)."""
        return self.blocks[layer][name]

    def inputs(self, layer: int, direction: str) -> Inputs:
        """The rows the cell of (layer, direction) reads, in its own order."""
        rows = self.layer_inputs[layer]
        if direction == BACKWARD:
            rows = np.ascontiguousarray(rows[::-1])
        return Inputs(rows.dtype.name, rows.shape[1], values=rows)

    def output(self, name: str) -> np.ndarray | None:
        return self.logits if name == "logits" else self.probs

    def top(self, t: int, k: int, labels: list[str]) -> list[dict]:
        """The k most likely outputs at time t: probabilities where the head has them, else
        logits (a linear head), largest first."""
        values = self.probs if self.probs is not None else self.logits
        row = values[t]
        order = top_order(row, k)
        return [{"index": int(j), "token": labels[j], "value": float(row[j])} for j in order]


def top_order(row: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest values, largest first, ties by index: what
    np.argsort(-row, kind="stable")[:k] gives, without sorting a 50,280-token row at every
    frame (only the values at least the k-th largest are sorted)."""
    if k >= len(row):
        return np.argsort(-row, kind="stable")[:k]
    kth = np.partition(row, len(row) - k)[len(row) - k]  # the k-th largest value
    candidates = np.flatnonzero(row >= kth)
    return candidates[np.argsort(-row[candidates], kind="stable")][:k]


def time_of(steps: int, direction: str, k: int) -> int:
    """The time step a cell's step k reads: from the end for a backward cell."""
    return steps - 1 - k if direction == BACKWARD else k


def top_json(items: list[dict]) -> bytes:
    return json.dumps(items, separators=(",", ":"), ensure_ascii=False).encode()


def model_nbytes(model: cells.Model) -> int:
    total = 0
    for layer in model.stack:
        for cell in layer.cells.values():
            total += sum(a.nbytes for a in cell.params.values())
        if layer.block is not None:
            total += sum(a.nbytes for a in layer.block.params.values())
    if model.head is not None:
        total += model.head.weight.nbytes + model.head.bias.nbytes
    if model.encoder.embedding is not None:
        total += model.encoder.embedding.nbytes
    return total


def block_rows_held(signals, first: bool) -> int:
    """Rows (of the stream's width) a run holds for a block with these signals besides its
    cell's input (the norm row itself): its stream in only in the first layer (a later
    one's is the block before's stream out) and its stream out only with a feed-forward
    (without one it is the residual row itself)."""
    held = set(signals) - {"norm"}
    if not first:
        held.discard("block_in")
    if "ff" not in held:
        held.discard("block_out")
    return len(held)


def rows_per_step(described: dict) -> int:
    """Numbers held per step by a run: every layer's input, its block's other rows and the
    head's outputs (twice)."""
    per_step = 0
    for index, (layer, block) in enumerate(zip(described["parts"], blocks_of(described),
                                               strict=True)):
        width = next(iter(layer.values()))["input_size"]
        per_step += width * (1 + (block_rows_held(block["signals"], index == 0)
                                  if block else 0))
    head = described["head"]
    return per_step + (2 * head["outputs"] if head else 0)
