"""Where a new session's model comes from: a preset, an uploaded file or a seed.

Each source checks what the request says against what it gives (a preset or a file fixes
the kind, the sizes and the options it states) and returns the model with its weights
reference and the vocabulary of the session's text.
"""

from __future__ import annotations

import dataclasses

import cells
from app.core.settings import Settings
from app.errors import ApiError
from app.schemas import SessionCreate
from app.sessions import building, kinds, limits
from app.sessions import models as model_sessions
from app.sessions.config import SessionConfig
from app.sessions.datadir import Store
from app.sessions.kinds import json_value
from app.sessions.sequences import Piece, check_text


@dataclasses.dataclass
class Made:
    """A session's model with where its weights come from and the vocabulary of its text;
    `whole`: the weights name a whole model, not one cell."""

    model: cells.Model
    weights: dict
    vocabulary: str | list[str] | None
    whole: bool
    source: str  # how messages name it: "preset 'counter'", "the uploaded model", …


def made_for(request: SessionCreate, piece: Piece, store: Store, settings: Settings) -> Made:
    sources = [k for k in ("preset", "seed", "weights_id") if getattr(request, k) is not None]
    if len(sources) > 1:
        raise ApiError(sources[1], f"give only one of preset, seed or weights_id; got "
                                   f"{' and '.join(sources)}")
    whole = _whole_model(request, store)
    if whole is not None:
        return _checked_model(request, piece, settings, *whole)
    if request.preset is not None:
        return _from_preset(request, piece)
    if request.weights_id is not None:
        return _from_upload(request, piece, store, settings)
    return _from_seed(request, piece, settings)


def _whole_model(request: SessionCreate, store: Store) -> tuple[cells.Model, dict] | None:
    """(model, weights reference) when the request names a model preset or an uploaded
    model file; None when it names one cell."""
    if request.preset is not None:
        preset = kinds.preset(request.preset, request.dtype)
        model = getattr(preset, "model", None)
        if model is None or not model_sessions.is_model(model):
            return None
        return model, {"preset": preset.name}
    if request.weights_id is not None:
        meta = store.weights_meta(request.weights_id)
        if meta is None or not meta.get("model"):
            return None
        config = SessionConfig(id="", cell=meta["cell"], options={}, dtype=request.dtype,
                               input_size=0, hidden_size=0,
                               weights={"weights_id": request.weights_id}, vocabulary=None,
                               steps=0, model={"weights_of": "model",
                                               "vocabulary": meta["model"].get("vocabulary")})
        return (building.build(config, store, "weights_id"),
                {"weights_id": request.weights_id})
    return None


def _checked_model(request: SessionCreate, piece: Piece, settings: Settings,
                   model: cells.Model, weights: dict) -> Made:
    source = f"preset {weights['preset']!r}" if "preset" in weights else "the uploaded model"
    model_sessions.refuse_unsupported(model, "weights_id" if "weights_id" in weights
                                      else "preset")
    first = next(iter(model.stack[0].cells.values()))  # forward where there is one
    must_match(request, first, source)
    if request.options and {**first.options, **request.options} != dict(first.options):
        raise ApiError("options", f"{source} fixes the options to {dict(first.options)}")
    for layer in model.stack:
        for cell in layer.cells.values():
            limits.check_sizes(settings, cell.input_size, cell.hidden_size)
    tokens = model.vocabulary
    chars = tokens is not None and all(len(t) == 1 for t in tokens)
    vocabulary = "".join(tokens) if chars and piece.text is not None else None
    return Made(model, weights, vocabulary, True, source)


def _from_preset(request: SessionCreate, piece: Piece) -> Made:
    preset = kinds.preset(request.preset, request.dtype)
    cell = preset.cell
    must_match(request, cell, f"preset {preset.name!r}")
    if request.options:
        kinds.check_options(cell.kind, request.options)
        if {**cell.options, **request.options} != cell.options:
            raise ApiError("options", f"preset {preset.name!r} fixes the options to "
                                      f"{cell.options}")
    if piece.text is not None:
        check_text(piece.text, preset.vocabulary, "sequence.text", f"preset {preset.name!r}")
    return Made(building.one_cell(cell), {"preset": preset.name},
                preset.vocabulary if piece.text is not None else None, False,
                f"preset {preset.name!r}")


def _from_upload(request: SessionCreate, piece: Piece, store: Store,
                 settings: Settings) -> Made:
    weights_id = request.weights_id
    meta = store.weights_meta(weights_id)
    if meta is None or store.weights_path(weights_id) is None:
        raise ApiError("weights_id", "no uploaded weights with this id; upload the file with "
                                     "POST /api/weights first")
    kind = kinds.check_kind(request.cell) if request.cell else meta["cell"]
    given = kinds.check_options(kind, request.options)
    options = kinds.default_options(kind)
    if kind == meta["cell"]:
        stated = set(meta.get("stated", meta["options"]))  # older records: all stated
        for name, value in given.items():
            if name in stated and meta["options"].get(name) != value:
                raise ApiError("options", f"the file {meta['filename']!r} states "
                               f"{name} = {json_value(meta['options'][name])}; got "
                               f"{json_value(value)} (leave {name} out to use the "
                               "file's value)")
        options.update({n: v for n, v in meta["options"].items() if n in stated})
        options.update(meta.get("chosen", {}))
    options.update(given)
    config = SessionConfig(
        id="", cell=kind, options=options, dtype=request.dtype,
        weights={"weights_id": weights_id}, input_size=meta["input_size"],
        hidden_size=meta["hidden_size"], vocabulary=None, steps=0)
    model = building.build(config, store, "cell" if request.cell else "weights_id")
    cell = model.cell(*building.FIRST)
    source = f"the uploaded file {meta['filename']!r}"
    must_match(request, cell, source)
    limits.check_sizes(settings, cell.input_size, cell.hidden_size)
    return Made(model, {"weights_id": weights_id},
                derived_vocabulary(piece, cell.input_size, source), False, source)


def _from_seed(request: SessionCreate, piece: Piece, settings: Settings) -> Made:
    kind = kinds.check_kind(request.cell or "lstm")
    options = {**kinds.default_options(kind), **kinds.check_options(kind, request.options)}
    if request.hidden_size is None:
        raise ApiError("hidden_size", "is required with seed weights (no preset or upload)")
    if piece.text is not None:
        vocabulary = cells.text.derive_vocabulary(piece.text)
        input_size = len(vocabulary)
        if request.input_size is not None and request.input_size != input_size:
            raise ApiError("input_size", f"the text has {input_size} distinct characters, so "
                                         f"input_size is {input_size}; got "
                                         f"{request.input_size} (or leave it out)")
    else:
        vocabulary, input_size = None, piece.width
        if request.input_size is not None and request.input_size != input_size:
            raise ApiError("input_size", f"the rows have {input_size} numbers; got "
                                         f"{request.input_size}")
    limits.check_sizes(settings, input_size, request.hidden_size)
    seed = 0 if request.seed is None else request.seed
    try:
        cell = cells.create(kind, input_size=input_size, hidden_size=request.hidden_size,
                            seed=seed, dtype=request.dtype, **options)
    except ValueError as exc:
        raise ApiError("options", str(exc)) from exc
    return Made(building.one_cell(cell), {"seed": seed}, vocabulary, False, "the cell")


def derived_vocabulary(piece: Piece, input_size: int, whose: str) -> str | list[str] | None:
    if piece.text is None:
        return None
    vocabulary = cells.text.derive_vocabulary(piece.text)
    if len(vocabulary) != input_size:
        raise ApiError("sequence.text", f"has {len(vocabulary)} distinct characters but "
                                        f"{whose} takes input_size {input_size}; give "
                                        "values (one-hot rows) instead")
    return vocabulary


def must_match(request: SessionCreate, cell, source: str) -> None:
    for field, actual in (("cell", cell.kind), ("input_size", cell.input_size),
                          ("hidden_size", cell.hidden_size)):
        given = getattr(request, field)
        if given is not None and given != actual:
            raise ApiError(field, f"{source} fixes {field} = {actual!r}; got {given!r} "
                                  "(or leave it out)")
