"""Sessions: create, read and append, and the per-process caches of cells and traces.

A session is its config (`SessionConfig`), stored by the data directory. Everything else
is derived from it deterministically: the cell from the weights reference, the trace from
the cell and the sequence. So any worker process can serve any session, and a restart
loses nothing but warm caches.

The trace cache is keyed by a hash of the config's content (`key`), so two sessions with
the same content share one trace. Appending writes a config with a new key and a `parent`
pointer to the old one; the process that holds the old trace extends it instead of
recomputing the prefix, here or, after a reload, in any other process.

Traces are computed on the compute pool (app/sessions/compute.py): the first window
before the answer, the rest in the background (app/sessions/traces.py).
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np

import cells
from app.api.errors import ApiError, NotFound
from app.api.schemas import CsvSequence, SessionCreate, TextSequence, ValuesSequence
from app.core.settings import Settings
from app.sessions import kinds
from app.sessions import models as model_sessions
from app.sessions.cache import ByteLRU
from app.sessions.compute import ComputePool
from app.sessions.config import SessionConfig, values_digest
from app.sessions.datadir import Store
from app.sessions.parallel_check import parallel_max_abs_diff
from app.sessions.sequences import Inputs, Piece, as_inputs, check_text, piece_from_request
from app.sessions.traces import SharedTrace
from app.sessions.uploads import upload_record
from cells.interventions import check_model_interventions

# GET /api/sessions/{id} gives the numbers of a sequence back up to this many; beyond, it
# says how many rows and columns there are (the page cannot show a bigger table anyway).
MAX_SHOWN_VALUES = 200_000


def _params_bytes(cell: cells.Cell) -> int:
    return sum(a.nbytes for a in cell.params.values())


def _plain_items(items) -> list[dict]:
    """Request items (InterventionIn, WeightEditIn: their as_item) or mappings, as the
    engine reads them."""
    return [it.as_item() if hasattr(it, "as_item") else dict(it) for it in items or ()]


@dataclasses.dataclass
class _Made:
    """A cell with where its weights come from and the vocabulary of its text."""

    cell: cells.Cell
    weights: dict
    vocabulary: str | None


class SessionService:
    def __init__(self, settings: Settings, store: Store):
        self.settings = settings
        self.store = store
        self.pool = ComputePool(settings.compute_threads, settings.compute_idle_seconds)
        # Engine traces of segments of every session, bounded in bytes (the big memory).
        self.segments: ByteLRU[cells.Trace] = ByteLRU(settings.trace_cache_bytes,
                                                      lambda t: t.nbytes)
        # The sessions' traces themselves: inputs and segment start states.
        self.traces: ByteLRU[SharedTrace] = ByteLRU(settings.trace_cache_bytes,
                                                    lambda t: t.nbytes)
        self.cells: ByteLRU[cells.Cell] = ByteLRU(settings.cell_cache_bytes, _params_bytes)
        # Whole models and their runs (what each layer read, the head's outputs).
        self.models: ByteLRU[cells.Model] = ByteLRU(settings.cell_cache_bytes,
                                                    model_sessions.model_nbytes)
        self.runs: ByteLRU[model_sessions.ModelRun] = ByteLRU(settings.trace_cache_bytes,
                                                              lambda r: r.nbytes)
        # Parsed configs by (id, file version): every WebSocket connection and HTTP request
        # needs one, and many connections opening at once must not each parse it.
        self.configs: ByteLRU[tuple[SessionConfig | None, int]] = ByteLRU(
            settings.config_cache_bytes, lambda item: 4 * item[1])  # Python objects ~4x JSON
        # parallel vs step-by-step difference of the sessions whose kind has a parallel form
        self.parallel_checks: ByteLRU[float] = ByteLRU(settings.config_cache_bytes,
                                                       lambda value: 64)

    def close(self) -> None:
        self.pool.shutdown()

    # -- reading ---------------------------------------------------------------------------
    def get(self, session_id: str) -> SessionConfig:
        """The stored config; one stat call when it is cached. The id is checked before
        any use of the file system."""
        if not self.store.valid_session_id(session_id):
            raise NotFound("session_id", f"no session {_shown(session_id)}")
        version = self.store.session_version(session_id)
        if version is None:
            raise NotFound("session_id", f"no session {session_id!r}")
        config, _ = self.configs.get_or_compute(
            (session_id, version), lambda: (self.store.load_session(session_id), version[1]))
        if config is None:  # deleted between the stat and the read
            self.configs.pop((session_id, version))
            raise NotFound("session_id", f"no session {session_id!r}")
        return config

    def get_cached(self, session_id: str) -> SessionConfig | None:
        """The config if this process has its current version parsed, else None (no I/O
        beyond one stat): lets the event loop skip a thread hop."""
        if not self.store.valid_session_id(session_id):
            return None
        version = self.store.session_version(session_id)
        item = self.configs.peek((session_id, version)) if version is not None else None
        return item[0] if item is not None else None

    def public(self, config: SessionConfig) -> dict:
        """The session as created: what the page needs to show its form and diagram."""
        parts = self.parts(config)
        signals = (cells.describe(config.cell, **config.options) if config.model is None
                   else model_sessions.signals_of(config.model["cells"][0][0]))
        weights = dict(config.weights)
        if "weights_id" in weights:
            meta = self.store.weights_meta(weights["weights_id"])
            if meta is not None:
                weights.update(upload_record(weights["weights_id"], meta))
        body = {
            "id": config.id, "cell": config.cell, "options": config.options,
            "dtype": config.dtype, "input_size": config.input_size,
            "hidden_size": config.hidden_size, "steps": config.steps,
            "signals": [s.to_dict() for s in signals], "vocabulary": config.vocabulary,
            "sequence": self._sequence_as_given(config), "weights": weights,
        }
        for source in ("seed", "preset"):
            if source in config.weights:
                body[source] = config.weights[source]
        body.update(parts)
        body["interventions"] = list(config.interventions)
        spec = cells.kinds.spec_for(config.cell)
        body["holdable"] = [sig.name for sig in cells.kinds.holdable(spec, config.options)]
        body["weight_edits"] = list(config.weight_edits)
        body["params"] = [] if config.model is not None else cells.param_layout(
            config.cell, config.input_size, config.hidden_size, **config.options)
        if config.model is None and spec.parallel is not None:
            body["parallel_max_abs_diff"] = self._parallel_check(config)
        return body

    def _parallel_check(self, config: SessionConfig) -> float:
        """parallel vs step by step for this session's cell and inputs (computed once)."""
        return self.parallel_checks.get_or_compute(
            (config.cell_key(), config.key), lambda: parallel_max_abs_diff(
                self._cell(config, field="weights"), self._inputs(config)))

    @staticmethod
    def parts(config: SessionConfig) -> dict:
        """`layers`, `directions`, `head` and each cell (with its signals) of the session:
        a single cell is one layer, forward, without a head."""
        described = (model_sessions.single_cell_public(config) if config.model is None
                     else config.model)
        cells_public = [[{**c, "signals": [s.to_dict() for s in model_sessions.signals_of(c)],
                          "stages": model_sessions.stages_of(c),
                          # a projected LSTM holds nothing (cells.models.projected refuses)
                          "holdable": [] if c.get("proj_size") else [
                              s.name for s in cells.kinds.holdable(
                                  cells.kinds.spec_for(c["kind"]), c["options"])],
                          # what a weight edit in this cell may change (none: projected)
                          "params": [] if c.get("proj_size") else cells.param_layout(
                              c["kind"], c["input_size"], c["hidden_size"], **c["options"])}
                         for c in layer] for layer in described["cells"]]
        # `parts`: per layer, {direction: part}; `cells` is the same records as lists
        parts = [dict(zip(described["directions"], layer, strict=True)) for layer in cells_public]
        return {"layers": described["layers"], "directions": described["directions"],
                "head": described["head"], "cells": cells_public, "parts": parts}

    def _sequence_as_given(self, config: SessionConfig) -> dict:
        if config.is_text:
            if config.model is not None:  # a model splits text by its own tokenizer
                return {"text": config.text}
            joined = clusters(config.text)  # absent when every step is one code point
            return {"text": config.text, "clusters": joined} if joined else {"text": config.text}
        if config.csv is not None:
            return {"csv": config.csv}
        if config.steps * config.input_size > MAX_SHOWN_VALUES:
            return {"rows": config.steps, "columns": config.input_size}
        return {"values": self.store.load_values(config).tolist()}

    def trace(self, config: SessionConfig, layer: int = 0,
              direction: str = "forward") -> SharedTrace:
        """The trace of the session's cell at (layer, direction), from the cache or started
        (blocking: call off the loop, never from the compute pool)."""
        self.part(config, layer, direction)
        if config.model is None:
            trace = self.traces.get_or_compute(
                config.key, lambda: self.pool.run(self._compute_trace, config))
        else:
            def compute() -> SharedTrace:
                run = self.model_run(config)
                model = self._model(config, "weights")
                held = self._check_model_interventions(model, config.interventions,
                                                       config.steps)
                return self.pool.run(self._start, model.cell(layer, direction),
                                     run.inputs(layer, direction),
                                     held.get((layer, direction), ()))
            trace = self.traces.get_or_compute((config.key, layer, direction), compute)
        self.pool.follow(trace)
        return trace

    def cached_trace(self, config: SessionConfig, layer: int = 0,
                     direction: str = "forward") -> SharedTrace | None:
        return self.traces.peek(config.key if config.model is None
                                else (config.key, layer, direction))

    @staticmethod
    def part(config: SessionConfig, layer: int, direction: str) -> dict:
        """The cell description at (layer, direction); a 422 naming a value it lacks."""
        described = (model_sessions.single_cell_public(config) if config.model is None
                     else config.model)
        return model_sessions.check_part(described, layer, direction)

    def model_run(self, config: SessionConfig) -> model_sessions.ModelRun:
        """The run of a model session (blocking: off the loop, never from the pool)."""
        return self.runs.get_or_compute(config.key,
                                        lambda: self.pool.run(self._compute_run, config))

    def cached_run(self, config: SessionConfig) -> model_sessions.ModelRun | None:
        return self.runs.peek(config.key)

    def labels(self, config: SessionConfig) -> list[str] | None:
        head = (config.model or {}).get("head")
        return head["labels"] if head else None

    def window(self, config: SessionConfig, start: int | None, stop: int | None,
               names: list[str] | None, layer: int = 0, direction: str = "forward",
               ) -> tuple[int, int, list[str], dict[str, np.ndarray]]:
        """Signals of the cell at (layer, direction) for its steps [start, stop) (a backward
        cell's step k reads time T−1−k); a model's head outputs `logits`/`probs` by time."""
        part = self.part(config, layer, direction)
        steps = config.steps
        start = 0 if start is None else start
        stop = steps if stop is None else stop
        if not 0 <= start <= steps:
            raise ApiError("start", f"must be in [0, {steps}] for a session of {steps} steps")
        if not start <= stop <= steps:
            raise ApiError("stop", f"must be in [start={start}, {steps}] for a session of "
                                   f"{steps} steps")
        signals = model_sessions.signals_of(part)
        known = [s.name for s in signals]
        width = {s.name: model_sessions.signal_width(part, s) for s in signals}
        head = (config.model or {}).get("head")
        outputs = []
        if head:
            outputs = ["logits"] + (["probs"] if head["kind"] != "linear" else [])
            width.update({name: head["outputs"] for name in outputs})
        if names:
            unknown = [n for n in names if n not in known and n not in outputs]
            if unknown:
                raise ApiError("names", f"unknown signal(s) {unknown}; known: {known + outputs}")
        else:
            names = known
        per_step = sum(width[n] for n in names)
        if (stop - start) * per_step > self.settings.max_trace_values:
            most = max(1, self.settings.max_trace_values // per_step)
            raise ApiError("stop", f"a window of {stop - start} steps x {per_step} numbers is "
                                   f"more than {self.settings.max_trace_values} numbers; ask "
                                   f"for at most {most} steps (or fewer names)")
        cell_names = [n for n in names if n in known]
        window = {}
        if cell_names:
            trace = self.trace(config, layer, direction)
            window = self.pool.run(trace.window, start, stop, cell_names)
        if len(cell_names) < len(names):
            run = self.model_run(config)
            window.update({n: run.output(n)[start:stop] for n in names if n in outputs})
        return start, stop, names, window

    def sensitivity(self, config: SessionConfig, t: int, unit: int, of: str,
                    window: int | None, layer: int = 0, direction: str = "forward") -> dict:
        """`Trace.sensitivity` of the session at (t, unit), computed on the pool; the
        window defaults to and is capped by the settings. In a model, of the cell at
        (layer, direction): t is that cell's step and x what it reads."""
        part = self.part(config, layer, direction)
        steps, H = config.steps, part["hidden_size"]
        if not 0 <= t < steps:
            raise ApiError("t", f"must be in [0, {steps - 1}] for a session of {steps} steps")
        if not 0 <= unit < H:
            raise ApiError("unit", f"must be in [0, {H - 1}] for hidden_size {H}")
        P = part.get("proj_size")
        if P and of == "h" and unit >= P:
            raise ApiError("unit", f"must be in [0, {P - 1}] with of=h: h of layer {layer} "
                                   f"{direction} has proj_size {P} values (use of=c for the "
                                   f"{H} units of c)")
        names = {s.name for s in model_sessions.signals_of(part)}
        if of not in names:
            raise ApiError("of", f"a {part['kind']} has no cell state c; use of=h")
        limit = self.settings.max_sensitivity_window
        window = self.settings.sensitivity_window if window is None else window
        if not 1 <= window <= limit:
            raise ApiError("window", f"must be in [1, {limit}] (the server's limit)")
        trace = self.trace(config, layer, direction)
        result = self.pool.run(trace.sensitivity, t, unit, of, window)
        return {"start": int(result["start"]), "t": t, "unit": unit, "of": of,
                **{v: None if result[v] is None else [float(a) for a in result[v]]
                   for v in ("x", "h", "c")}}

    def difference(self, config: SessionConfig, other: SessionConfig, start: int | None,
                   stop: int | None, names: list[str] | None, layer: int = 0,
                   direction: str = "forward") -> tuple[int, int, dict]:
        """This session's signals minus `other`'s over the same steps (a what-if against its
        original run): both must have the same kind, options and sizes (and, for models, the
        same layers and directions), and the steps asked for (both windows are checked
        against their own session). The lengths may differ: a held run and its original grow
        one after the other while text is typed live. In a model, of the cell at (layer,
        direction) of both (which must have the same sizes there)."""
        for field in ("cell", "options", "input_size", "hidden_size"):
            if getattr(config, field) != getattr(other, field):
                raise ApiError("from", f"session {other.id!r} differs in {field} "
                                       f"({getattr(other, field)!r} against "
                                       f"{getattr(config, field)!r}); a difference needs "
                                       "the same cell")
        mine_parts, their_parts = self.parts(config), self.parts(other)
        for field in ("layers", "directions"):
            if mine_parts[field] != their_parts[field]:
                raise ApiError("from", f"session {other.id!r} differs in {field} "
                                       f"({their_parts[field]!r} against "
                                       f"{mine_parts[field]!r})")
        mine_part, theirs_part = (self.part(c, layer, direction) for c in (config, other))
        if {k: v for k, v in mine_part.items() if k != "direction"} != \
                {k: v for k, v in theirs_part.items() if k != "direction"}:
            raise ApiError("from", f"session {other.id!r} has another cell at layer {layer} "
                                   f"{direction}; a difference needs the same cell there")
        start, stop, names, mine = self.window(config, start, stop, names, layer, direction)
        _, _, _, theirs = self.window(other, start, stop, names, layer, direction)
        return start, stop, {n: (mine[n].astype(np.float64) - theirs[n]) for n in names}

    # -- creating --------------------------------------------------------------------------
    def _check_interventions(self, cell: cells.Cell, interventions, steps: int) -> tuple:
        try:
            return cell.check_interventions(_plain_items(interventions), steps)
        except ValueError as exc:
            raise ApiError("interventions", str(exc)) from exc

    @staticmethod
    def _edited(cell: cells.Cell, edits) -> tuple[cells.Cell, tuple]:
        """The cell with its weights edited (cells.weight_edits) and the checked edits."""
        items = _plain_items(edits)
        try:
            checked = cell.check_weight_edits(items)
        except ValueError as exc:
            raise ApiError("weight_edits", str(exc)) from exc
        return (cell.with_weights(checked) if checked else cell), checked

    def weight(self, config: SessionConfig, param: str, row: int, col: int | None,
               layer: int = 0, direction: str = "forward") -> dict:
        """One weight of the session's cell as it runs, and before the session's edits; in a
        model, of the cell at (layer, direction)."""
        part = self.part(config, layer, direction)  # a single cell is layer 0, forward
        if part.get("proj_size"):
            raise ApiError("layer", f"layer {layer} {direction} is an LSTM with proj_size; its "
                                    "weights cannot be read or edited one by one yet")
        try:
            param, row, col = cells.weight_edits.check_position(
                part["kind"], param, row, col, part["input_size"], part["hidden_size"],
                **part["options"])
        except cells.weight_edits.WeightEditError as exc:
            message, prefix = str(exc), f"{exc.field}: "
            raise ApiError(exc.field, message.removeprefix(prefix)) from exc
        at = (row,) if col is None else (row, col)

        def cell_of(c: SessionConfig) -> cells.Cell:
            if c.model is None:
                return self._cell(c, field="weights")
            return self._model(c, "weights").cell(layer, direction)
        cell, base = cell_of(config), cell_of(config.replace(weight_edits=()))
        return {"param": param, "row": row, "col": col,
                "value": float(cell.params[param][at]),
                "original": float(base.params[param][at])}

    @staticmethod
    def _model_edits(model: cells.Model, edits) -> tuple[cells.Model, tuple[dict, ...]]:
        """The model with its weights edited and the checked edits as the config stores
        them: by layer and direction, each with both written out."""
        items = _plain_items(edits)
        if not items:
            return model, ()
        try:
            checked = model.check_weight_edits(items)
        except ValueError as exc:
            raise ApiError("weight_edits", str(exc)) from exc
        records = tuple({**e.to_dict(), "layer": layer, "direction": direction}
                        for layer, direction in sorted(
                            checked, key=lambda k: (k[0], model_sessions.DIRECTIONS.index(k[1])))
                        for e in checked[(layer, direction)])
        return model.with_weights(records), records

    def _check_model_interventions(self, model: cells.Model, interventions,
                                   steps: int) -> dict[tuple, tuple]:
        """{(layer, direction): checked interventions} of a model session."""
        try:
            return check_model_interventions(model, _plain_items(interventions), steps)
        except ValueError as exc:
            raise ApiError("interventions", str(exc)) from exc

    @staticmethod
    def _model_records(held: dict[tuple, tuple], items: list[dict]) -> tuple[dict, ...]:
        """The checked interventions as the config stores them, in the order given, each
        with its layer and direction."""
        left = {key: list(ivs) for key, ivs in held.items()}
        records = []
        for item in items:
            key = (item.get("layer", 0), item.get("direction", "forward"))
            iv = left[key].pop(0)
            records.append({**iv.to_dict(), "layer": key[0], "direction": key[1]})
        return tuple(records)

    def create(self, request: SessionCreate) -> SessionConfig:
        sources = [k for k in ("preset", "seed", "weights_id") if getattr(request, k) is not None]
        if len(sources) > 1:
            raise ApiError(sources[1], f"give only one of preset, seed or weights_id; got "
                                       f"{' and '.join(sources)}")
        piece = piece_from_request(request.sequence)
        self._check_steps(piece.steps, "sequence")
        whole = self._whole_model(request)
        if whole is not None:
            return self._create_model(request, piece, *whole)
        if request.preset is not None:
            made = self._from_preset(request, piece)
        elif request.weights_id is not None:
            made = self._from_upload(request, piece)
        else:
            made = self._from_seed(request, piece)
        cell, edits = self._edited(made.cell, request.weight_edits)
        if piece.values is not None and piece.width != cell.input_size:
            raise ApiError("sequence", f"rows have {piece.width} numbers but the cell takes "
                                       f"input_size {cell.input_size}")
        self._check_inputs_size(piece.steps, cell.input_size)
        inputs = as_inputs(piece, made.vocabulary, request.dtype, "sequence.values")
        held = self._check_interventions(cell, request.interventions, piece.steps)
        session_id = self.store.new_session_id()
        values = None if piece.values is None else np.asarray(piece.values, np.float64)
        digest = None if values is None else values_digest(values.tobytes())
        config = SessionConfig(
            id=session_id, cell=cell.kind, options=dict(cell.options), dtype=request.dtype,
            input_size=cell.input_size, hidden_size=cell.hidden_size, weights=made.weights,
            vocabulary=made.vocabulary, steps=piece.steps, text=piece.text,
            values_file=None if digest is None else f"{session_id}.{digest[:16]}.npy",
            values_digest=digest, csv=piece.csv,
            interventions=tuple(iv.to_dict() for iv in held),
            weight_edits=tuple(e.to_dict() for e in edits)).with_key()
        self.cells.put(config.cell_key(), cell)
        trace = self.traces.get_or_compute(
            config.key, lambda: self.pool.run(self._start, cell, inputs, held))
        self.pool.follow(trace)
        self.store.save_session(config, values)
        self.store.evict_sessions(self.settings.max_sessions)
        keep = {session_id, *(v for k, v in made.weights.items() if k == "weights_id")}
        self.store.enforce_budget(self.settings.max_store_bytes, keep)
        return config

    # -- models ----------------------------------------------------------------------------
    def _whole_model(self, request: SessionCreate) -> tuple[cells.Model, dict] | None:
        """(model, weights reference) when the request names a model preset or an uploaded
        model file; None for a single cell."""
        if request.preset is not None:
            preset = kinds.preset(request.preset, request.dtype)
            model = getattr(preset, "model", None)
            if model is None or not model_sessions.is_model(model):
                return None
            return model, {"preset": preset.name}
        if request.weights_id is not None:
            meta = self.store.weights_meta(request.weights_id)
            if meta is None or not meta.get("model"):
                return None
            config = SessionConfig(id="", cell=meta["cell"], options={}, dtype=request.dtype,
                                   input_size=0, hidden_size=0,
                                   weights={"weights_id": request.weights_id}, vocabulary=None,
                                   steps=0, model={"vocabulary": meta["model"].get("vocabulary")})
            return self._model(config, "weights_id"), {"weights_id": request.weights_id}
        return None

    def _create_model(self, request: SessionCreate, piece: Piece, model: cells.Model,
                      weights: dict) -> SessionConfig:
        source = (f"preset {weights['preset']!r}" if "preset" in weights
                  else "the uploaded model")
        model_sessions.refuse_unsupported(model, "weights_id" if "weights_id" in weights
                                          else "preset")
        model, edits = self._model_edits(model, request.weight_edits)
        first = model.cell(0, "forward") if "forward" in model.stack[0].cells \
            else model.cell(0, "backward")
        self._must_match(request, first, source)
        if request.options and {**first.options, **request.options} != dict(first.options):
            raise ApiError("options", f"{source} fixes the options to {dict(first.options)}")
        for layer in model.stack:
            for cell in layer.cells.values():
                self._check_sizes(cell.input_size, cell.hidden_size)
        described = model_sessions.describe_model(model)
        if piece.text is not None:
            steps = len(model_sessions.text_ids(model, piece.text, "sequence.text"))
        else:
            if piece.width != model.input_size:
                raise ApiError("sequence", f"rows have {piece.width} numbers but {source} "
                                           f"reads {model.input_size} per step")
            steps = piece.steps
        self._check_steps(steps, "sequence")
        self._check_inputs_size(steps, model_sessions.rows_per_step(described))
        items = _plain_items(request.interventions)
        held = self._model_records(self._check_model_interventions(model, items, steps), items)
        session_id = self.store.new_session_id()
        values = None if piece.values is None else np.asarray(piece.values, np.float64)
        digest = None if values is None else values_digest(values.tobytes())
        tokens = described["vocabulary"]
        chars = tokens is not None and all(len(t) == 1 for t in tokens)
        config = SessionConfig(
            id=session_id, cell=first.kind, options=dict(first.options), dtype=request.dtype,
            input_size=first.input_size, hidden_size=first.hidden_size, weights=weights,
            vocabulary="".join(tokens) if chars and piece.text is not None else None,
            steps=steps, text=piece.text,
            values_file=None if digest is None else f"{session_id}.{digest[:16]}.npy",
            values_digest=digest, csv=piece.csv, model=described,
            interventions=held, weight_edits=edits).with_key()
        self.models.put(self._model_key(config), model)
        run = self.pool.run(self._run_model, model, self._model_sequence(config, values),
                            held)
        self.runs.put(config.key, run)
        self.trace(config)  # layer 0's first window before the answer, as for a cell
        self.store.save_session(config, values)
        self.store.evict_sessions(self.settings.max_sessions)
        keep = {session_id, *(v for k, v in weights.items() if k == "weights_id")}
        self.store.enforce_budget(self.settings.max_store_bytes, keep)
        return config

    @staticmethod
    def _model_key(config: SessionConfig) -> str:
        parts = [config.weights, config.dtype, (config.model or {}).get("vocabulary")]
        if config.weight_edits:  # absent when none, as in the content key
            parts.append({"weight_edits": list(config.weight_edits)})
        return json.dumps(parts, sort_keys=True)

    def _model(self, config: SessionConfig, field: str) -> cells.Model:
        if config.weight_edits:  # the edited model, made from the model its weights give
            base = self._model(config.replace(weight_edits=()), field)
            return self.models.get_or_compute(
                self._model_key(config), lambda: self._model_edits(base, config.weight_edits)[0])
        return self.models.get_or_compute(self._model_key(config),
                                          lambda: self._build_model(config, field))

    def _build_model(self, config: SessionConfig, field: str) -> cells.Model:
        weights = config.weights
        try:
            if "preset" in weights:
                return kinds.preset(weights["preset"], config.dtype).model
            path = self.store.weights_path(weights["weights_id"])
            meta = self.store.weights_meta(weights["weights_id"]) or {}
            if path is None:
                raise ApiError("weights_id", f"the uploaded file {meta.get('filename', '')!r} "
                                             "is missing from the data directory; upload it "
                                             "again")
            vocabulary = (config.model or {}).get("vocabulary")
            try:
                return cells.load_model(path, vocabulary=None if vocabulary is None
                                        else tuple(vocabulary), dtype=config.dtype)
            except ValueError as exc:
                message = str(exc).replace(path.name, meta.get("filename", path.name))
                raise ApiError(field, message) from exc
        except ValueError as exc:
            raise ApiError(field, str(exc)) from exc

    def _model_sequence(self, config: SessionConfig, values: np.ndarray | None = None):
        if config.is_text:
            return config.text
        if values is None:
            values = self.store.load_values(config)
        return np.asarray(values, np.float64).astype(config.dtype)

    @staticmethod
    def _run_model(model: cells.Model, sequence, interventions=()) -> model_sessions.ModelRun:
        return model_sessions.ModelRun.of(model, sequence, interventions)

    def _compute_run(self, config: SessionConfig) -> model_sessions.ModelRun:
        return self._run_model(self._model(config, "weights"), self._model_sequence(config),
                               config.interventions)

    def _append_model(self, config: SessionConfig, piece: Piece) -> SessionConfig:
        """A model reads the whole sequence again (a backward cell starts from its end)."""
        model = self._model(config, "weights")
        values = None
        if piece.text is not None:
            text = config.text + piece.text
            steps = len(model_sessions.text_ids(model, text, "text"))
            changes = {"text": text}
        else:
            if piece.width != model.input_size:
                raise ApiError("values", f"rows have {piece.width} numbers but the model reads "
                                         f"{model.input_size} per step")
            values = np.concatenate([self.store.load_values(config),
                                     np.asarray(piece.values, np.float64)])
            digest = values_digest(values.tobytes())
            steps = len(values)
            changes = {"values_digest": digest, "csv": None, "inline_values": None,
                       "values_file": f"{config.id}.{digest[:16]}.npy"}
        self._check_steps(steps, piece.kind)
        self._check_inputs_size(steps, model_sessions.rows_per_step(config.model))
        grown = config.replace(steps=steps, parent=None, **changes).with_key()
        self.store.save_session(grown, values)
        return grown

    def _from_preset(self, request: SessionCreate, piece: Piece) -> _Made:
        preset = kinds.preset(request.preset, request.dtype)
        cell = preset.cell
        self._must_match(request, cell, f"preset {preset.name!r}")
        if request.options:
            kinds.check_options(cell.kind, request.options)
            if {**cell.options, **request.options} != cell.options:
                raise ApiError("options", f"preset {preset.name!r} fixes the options to "
                                          f"{cell.options}")
        if piece.text is not None:
            check_text(piece.text, preset.vocabulary, "sequence.text", f"preset {preset.name!r}")
        return _Made(cell, {"preset": preset.name},
                     preset.vocabulary if piece.text is not None else None)

    def _from_upload(self, request: SessionCreate, piece: Piece) -> _Made:
        weights_id = request.weights_id
        meta = self.store.weights_meta(weights_id)
        if meta is None or self.store.weights_path(weights_id) is None:
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
                                   f"{name} = {_json_value(meta['options'][name])}; got "
                                   f"{_json_value(value)} (leave {name} out to use the "
                                   "file's value)")
            options.update({n: v for n, v in meta["options"].items() if n in stated})
            options.update(meta.get("chosen", {}))
        options.update(given)
        config = SessionConfig(
            id="", cell=kind, options=options, dtype=request.dtype,
            weights={"weights_id": weights_id}, input_size=meta["input_size"],
            hidden_size=meta["hidden_size"], vocabulary=None, steps=0)
        cell = self._cell(config, field="cell" if request.cell else "weights_id")
        self._must_match(request, cell, f"the uploaded file {meta['filename']!r}")
        self._check_sizes(cell.input_size, cell.hidden_size)
        vocabulary = self._derived_vocabulary(piece, cell.input_size,
                                              f"the uploaded file {meta['filename']!r}")
        return _Made(cell, {"weights_id": weights_id}, vocabulary)

    def _from_seed(self, request: SessionCreate, piece: Piece) -> _Made:
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
        self._check_sizes(input_size, request.hidden_size)
        seed = 0 if request.seed is None else request.seed
        config = SessionConfig(
            id="", cell=kind, options=options, dtype=request.dtype, weights={"seed": seed},
            input_size=input_size, hidden_size=request.hidden_size, vocabulary=None, steps=0)
        return _Made(self._cell(config, field="options"), {"seed": seed}, vocabulary)

    def _derived_vocabulary(self, piece: Piece, input_size: int, whose: str) -> str | None:
        if piece.text is None:
            return None
        vocabulary = cells.text.derive_vocabulary(piece.text)
        if len(vocabulary) != input_size:
            raise ApiError("sequence.text", f"has {len(vocabulary)} distinct characters but "
                                            f"{whose} takes input_size {input_size}; give "
                                            "values (one-hot rows) instead")
        return vocabulary

    # -- appending -------------------------------------------------------------------------
    def append(self, session_id: str,
               sequence: TextSequence | ValuesSequence | CsvSequence) -> SessionConfig:
        piece = piece_from_request(sequence, field="")
        self.get(session_id)  # 404 for an unknown id before anything is locked or written
        with self.store.session_lock(session_id):
            config = self.get(session_id)
            stored_kind = "text" if config.is_text else "values"
            if piece.kind != stored_kind:
                hint = "text" if stored_kind == "text" else "values or csv"
                raise ApiError(piece.kind if piece.kind == "text" else "values",
                               f"this session's sequence is {stored_kind}; append {hint}")
            if config.model is not None:
                return self._append_model(config, piece)
            values = None
            if piece.text is not None:
                # One grapheme typed is one step; a piece that completes the last grapheme
                # (an accent typed after its base) changes that step's input: `dropped` = 1.
                dropped, added = cells.text.appended(config.text, piece.text)
                whose = (f"preset {config.weights['preset']!r}" if "preset" in config.weights
                         else "this session's vocabulary (from its first text)")
                check_text("".join(added), config.vocabulary, "text", whose)
                steps = config.steps - dropped + len(added)
                changes = {"text": config.text + piece.text}
                more = Inputs.from_text("".join(added), config.vocabulary, config.dtype)
            else:
                dropped, steps = 0, config.steps + piece.steps
                if piece.width != config.input_size:
                    raise ApiError("values", f"rows have {piece.width} numbers but the session's "
                                             f"input_size is {config.input_size}")
                values = np.concatenate([self.store.load_values(config),
                                         np.asarray(piece.values, np.float64)])
                digest = values_digest(values.tobytes())
                changes = {"values_digest": digest, "csv": None, "inline_values": None,
                           "values_file": f"{config.id}.{digest[:16]}.npy"}
                more = as_inputs(piece, config.vocabulary, config.dtype, "values")
            self._check_steps(steps, piece.kind)
            self._check_inputs_size(steps, config.input_size)
            if dropped:
                # The trace's last step read another input: it is computed again, from
                # the start (a trace is never cut back), when it is first read.
                grown = config.replace(steps=steps, parent=None, **changes).with_key()
                self.store.save_session(grown, values)
                return grown
            grown = config.replace(steps=steps, parent={"key": config.key, "steps": config.steps},
                                   **changes).with_key()
            shared = self.traces.pop(config.key)
            if shared is not None:
                if shared.steps == config.steps:
                    self.pool.run(self._extend, shared, more)
                    self.traces.put(grown.key, shared)
                else:  # not the trace this config describes: leave it where it was
                    self.traces.put(config.key, shared)
            self.store.save_session(grown, values)
        return grown

    # -- computing (on the pool) -----------------------------------------------------------
    def _compute_trace(self, config: SessionConfig) -> SharedTrace:
        parent = config.parent
        if parent:  # appended elsewhere (another process, or after eviction): try extending
            shared = self.traces.pop(parent["key"])
            if shared is not None:
                if shared.steps == parent["steps"]:
                    self._extend(shared, self._inputs(config, start=parent["steps"]))
                    return shared
                self.traces.put(parent["key"], shared)  # another's: put it back
        cell = self._cell(config, field="weights")
        held = self._check_interventions(cell, config.interventions, config.steps)
        return self._start(cell, self._inputs(config), held)

    def _inputs(self, config: SessionConfig, start: int = 0) -> Inputs:
        if config.is_text:
            return Inputs.from_text(config.text, config.vocabulary, config.dtype, start)
        return Inputs.from_values(self.store.load_values(config)[start:], config.dtype,
                                  "sequence.values")

    def _start(self, cell: cells.Cell, inputs: Inputs, held: tuple = ()) -> SharedTrace:
        try:
            return SharedTrace(cell, inputs, self.segments,
                               first_steps=self.settings.first_window_steps,
                               interventions=held)
        except ValueError as exc:
            raise ApiError("sequence", str(exc)) from exc

    @staticmethod
    def _extend(shared: SharedTrace, more: Inputs) -> None:
        try:
            shared.extend(more)
        except ValueError as exc:
            raise ApiError("sequence", str(exc)) from exc

    def _cell(self, config: SessionConfig, field: str) -> cells.Cell:
        if config.weight_edits:  # the edited cell, made from the cell as its weights give it
            base = self._cell(config.replace(weight_edits=()), field)
            return self.cells.get_or_compute(
                config.cell_key(), lambda: self._edited(base, config.weight_edits)[0])
        return self.cells.get_or_compute(config.cell_key(), lambda: self._build(config, field))

    def _build(self, config: SessionConfig, field: str) -> cells.Cell:
        weights = config.weights
        try:
            if "preset" in weights:
                return kinds.preset(weights["preset"], config.dtype).cell
            if "seed" in weights:
                return cells.create(config.cell, input_size=config.input_size,
                                    hidden_size=config.hidden_size, seed=weights["seed"],
                                    dtype=config.dtype, **config.options)
        except ValueError as exc:
            raise ApiError(field, str(exc)) from exc
        path = self.store.weights_path(weights["weights_id"])
        meta = self.store.weights_meta(weights["weights_id"]) or {}
        if path is None:
            raise ApiError("weights_id", f"the uploaded file {meta.get('filename', '')!r} is "
                                         "missing from the data directory; upload it again")
        try:
            return cells.load(path, kind=config.cell, layer=meta.get("layer", 0),
                              dtype=config.dtype, **config.options)
        except ValueError as exc:
            message = str(exc).replace(path.name, meta.get("filename", path.name))
            raise ApiError(field, message) from exc

    # -- limits ----------------------------------------------------------------------------
    def _check_steps(self, steps: int, field: str) -> None:
        if steps > self.settings.max_steps:
            raise ApiError(field, f"has {steps} steps; the limit is {self.settings.max_steps}")

    def _check_sizes(self, input_size: int, hidden_size: int) -> None:
        s = self.settings
        if hidden_size > s.max_hidden_size:
            raise ApiError("hidden_size", f"{hidden_size} is over the limit of {s.max_hidden_size}")
        if input_size > s.max_input_size:
            raise ApiError("input_size", f"{input_size} is over the limit of {s.max_input_size}")

    def _check_inputs_size(self, steps: int, input_size: int) -> None:
        limit = self.settings.max_input_values
        if steps * input_size > limit:
            raise ApiError("sequence", f"{steps} steps x {input_size} inputs is more than "
                                       f"{limit} numbers")

    @staticmethod
    def _must_match(request: SessionCreate, cell: cells.Cell, source: str) -> None:
        for field, actual in (("cell", cell.kind), ("input_size", cell.input_size),
                              ("hidden_size", cell.hidden_size)):
            given = getattr(request, field)
            if given is not None and given != actual:
                raise ApiError(field, f"{source} fixes {field} = {actual!r}; got {given!r} "
                                      "(or leave it out)")


def clusters(text: str) -> list[list[int]]:
    """[step, code points] of each step of `text` longer than one code point: with the text,
    the page finds each step's grapheme without splitting text itself."""
    if cells.text.is_simple(text):
        return []
    return [[step, len(g)] for step, g in enumerate(cells.text.graphemes(text)) if len(g) > 1]


def _json_value(value) -> str:
    """An option value as the user wrote it in JSON (false, "relu")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, str) else str(value)


def _shown(session_id: str) -> str:
    """An id in a message: printable characters only, and not too long."""
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in session_id[:40])
    return repr(cleaned + ("…" if len(session_id) > 40 else ""))
