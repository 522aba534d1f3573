"""The engine model of a session (`cells.Model`), made from its weights reference, and the
items (weight edits, held signals) checked against it.

Every session is a model. The weights may name one cell (a seed, a cell preset, one cell
of an uploaded file), which becomes the one-part model, or a whole model (a model preset,
an uploaded model file), read whole. Either way the service sees a `cells.Model`.

Items that name a part default to layer 0, forward, and are checked by the model's one
checker whatever the weights name: a single cell's session is the one-part model, and its
items are stored, like a whole model's, with their layer and direction written out
(SessionConfig.keyed keeps the content keys of older single-cell sessions the same).
"""

from __future__ import annotations

import cells
from app.errors import ApiError
from app.sessions import kinds
from app.sessions.config import SessionConfig
from app.sessions.datadir import PARSED_MODEL_EXT, Store
from app.sessions.uploads import branch_choice
from cells.formats.vocabulary_files import Subwords
from cells.models.model import DIRECTIONS

FIRST = (0, "forward")  # the part a single cell is


def plain_items(items) -> list[dict]:
    """Request items (InterventionIn, WeightEditIn: their as_item) or mappings, as the
    engine reads them."""
    return [it.as_item() if hasattr(it, "as_item") else dict(it) for it in items or ()]


def one_cell(cell: cells.Cell) -> cells.Model:
    """A single cell as the one-part model (it reads its rows as given)."""
    return cells.Model([{"forward": cell}])


def build(config: SessionConfig, store: Store, field: str) -> cells.Model:
    """The model the config's weights give (before its weight edits)."""
    weights = config.weights
    try:
        if "preset" in weights:
            preset = kinds.preset(weights["preset"], config.dtype)
            return preset.model if config.whole else one_cell(preset.cell)
        if "seed" in weights:
            return one_cell(cells.create(config.cell, input_size=config.input_size,
                                         hidden_size=config.hidden_size, seed=weights["seed"],
                                         dtype=config.dtype, **config.options))
    except ValueError as exc:
        raise ApiError(field, str(exc)) from exc
    path = store.weights_path(weights["weights_id"])
    meta = store.weights_meta(weights["weights_id"]) or {}
    if path is None:
        raise ApiError("weights_id", f"the uploaded file {meta.get('filename', '')!r} is "
                                     "missing from the data directory; upload it again")
    try:
        if config.whole:
            # the model's parts as parsed on upload (the vocabulary the session gives
            # decides what they leave open); uploads from before: the original file
            path = store.parsed_path(weights["weights_id"], PARSED_MODEL_EXT) or path
            vocabulary = config.model.get("vocabulary")
            if vocabulary is not None:
                # a subword vocabulary's tokenizer stays in the upload's record, once
                json = (meta.get("model") or {}).get("tokenizer_json")
                vocabulary = tuple(vocabulary) if json is None else Subwords(vocabulary, json)
            return cells.load_model(path, vocabulary=vocabulary, dtype=config.dtype,
                                    # an ONNX If's (each nested If's), as uploaded
                                    branch=branch_choice(meta.get("branch")))
        parsed = store.parsed_path(weights["weights_id"])
        if parsed is not None:  # the canonical arrays as parsed on upload: read, not parsed
            path = parsed
            return one_cell(cells.load(parsed, kind=config.cell, dtype=config.dtype,
                                       **config.options))
        return one_cell(cells.load(path, kind=config.cell, layer=meta.get("layer", 0),
                                   dtype=config.dtype, **config.options))
    except ValueError as exc:
        message = str(exc).replace(path.name, meta.get("filename", path.name))
        raise ApiError(field, message) from exc


def edited(model: cells.Model, edits) -> tuple[cells.Model, tuple[dict, ...]]:
    """The model with its weights edited (cells.weight_edits) and the checked edits as the
    config stores them: by part (layer, then forward before backward), each naming it."""
    items = plain_items(edits)
    if not items:
        return model, ()
    try:
        by_part = model.check_weight_edits(items)
    except ValueError as exc:
        raise ApiError("weight_edits", str(exc)) from exc
    records = tuple({**e.to_dict(), "layer": layer, "direction": direction}
                    for layer, direction in sorted(
                        by_part, key=lambda k: (k[0], DIRECTIONS.index(k[1])))
                    for e in by_part[(layer, direction)])
    return model.with_weights(records), records


def held(model: cells.Model, interventions,
         steps: int) -> tuple[dict[tuple, tuple], tuple[dict, ...]]:
    """({(layer, direction): checked interventions}, the records the config stores, in the
    order given, each naming its part)."""
    items = plain_items(interventions)
    try:
        by_part = model.check_interventions(items, steps)
    except ValueError as exc:
        raise ApiError("interventions", str(exc)) from exc
    left = {key: list(ivs) for key, ivs in by_part.items()}
    records = []
    for item in items:
        key = (item.get("layer", 0), item.get("direction", "forward"))
        records.append({**left[key].pop(0).to_dict(), "layer": key[0], "direction": key[1]})
    return by_part, tuple(records)


def start_states(model: cells.Model, state: dict | None, field: str = "state") -> dict:
    """{(layer, direction): {"h": row, "c": row}} of a session's starting state (its
    SessionConfig.state, rows as cells.Model.run's h0 / c0 take them); {} for zeros."""
    if not state:
        return {}
    try:
        return model.starting_state(state.get("h"), state.get("c"))
    except ValueError as exc:
        raise ApiError(field, str(exc)) from exc
