"""Sessions: create, read and append, and the per-process caches of cells and traces.

A session is its config (cell kind, options, dtype, sizes, weights reference, sequence),
stored as JSON by the Store. Everything else is derived from it deterministically: the
cell from the weights reference, the trace from the cell and the sequence. So any worker
process can serve any session, and a restart loses nothing but warm caches.

The trace cache is keyed by a hash of the config's content (`key`), so two sessions with
the same content share one trace. Appending writes a config with a new key and a `parent`
pointer to the old one; the process that holds the old trace extends it instead of
recomputing the prefix (`trace.extend`), here or, after a reload, in any other process.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

import cells
from app.api.errors import ApiError, NotFound
from app.api.schemas import CsvSequence, SessionCreate, TextSequence, ValuesSequence
from app.core.settings import Settings
from app.sessions import kinds
from app.sessions.cache import ByteLRU
from app.sessions.datadir import Store
from app.sessions.sequences import (
    Piece,
    as_inputs,
    check_text,
    piece_from_request,
    piece_from_stored,
)
from app.sessions.traces import SharedTrace

CONFIG_FORMAT = 1
_CONTENT_FIELDS = ("cell", "options", "dtype", "input_size", "hidden_size", "weights",
                   "vocabulary", "sequence")


def content_key(config: dict) -> str:
    """Hash of what determines the trace (not the id, not the history)."""
    content = {k: config[k] for k in _CONTENT_FIELDS}
    data = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(data.encode()).hexdigest()


def _cell_key(config: dict) -> str:
    return json.dumps([config[k] for k in ("cell", "options", "dtype", "weights",
                                           "input_size", "hidden_size")], sort_keys=True)


def _params_bytes(cell: cells.Cell) -> int:
    return sum(a.nbytes for a in cell.params.values())


class SessionService:
    def __init__(self, settings: Settings, store: Store):
        self.settings = settings
        self.store = store
        self.traces: ByteLRU[SharedTrace] = ByteLRU(settings.trace_cache_bytes,
                                                    lambda t: t.nbytes)
        self.cells: ByteLRU[cells.Cell] = ByteLRU(settings.cell_cache_bytes, _params_bytes)
        # Parsed configs by (id, file version): a config with a long sequence is megabytes
        # of Python objects, every WebSocket connection and HTTP request needs it, and many
        # connections opening at once must not each parse it (their threads would hold the
        # GIL and stall the event loop). Shared and treated as read-only.
        self.configs: ByteLRU[tuple[dict | None, int]] = ByteLRU(
            settings.config_cache_bytes, lambda item: 4 * item[1])  # Python objects ~4x JSON

    # -- reading ---------------------------------------------------------------------------
    def get(self, session_id: str) -> dict:
        """The stored config (do not modify it); one stat call when it is cached."""
        version = self.store.session_version(session_id)
        if version is None:
            raise NotFound("session_id", f"no session {session_id!r}")
        config, _ = self.configs.get_or_compute(
            (session_id, version), lambda: (self.store.load_session(session_id), version[1]))
        if config is None:  # deleted between the stat and the read
            self.configs.pop((session_id, version))
            raise NotFound("session_id", f"no session {session_id!r}")
        return config

    def get_cached(self, session_id: str) -> dict | None:
        """The config if this process has its current version parsed, else None (no I/O
        beyond one stat): lets the event loop skip a thread hop."""
        version = self.store.session_version(session_id)
        item = self.configs.peek((session_id, version)) if version is not None else None
        return item[0] if item is not None else None

    @staticmethod
    def public(config: dict) -> dict:
        signals = cells.describe(config["cell"], **config["options"])
        return {
            "id": config["id"], "cell": config["cell"], "options": config["options"],
            "dtype": config["dtype"], "input_size": config["input_size"],
            "hidden_size": config["hidden_size"], "steps": config["steps"],
            "signals": [s.to_dict() for s in signals], "vocabulary": config["vocabulary"],
            "sequence": config["sequence"], "weights": config["weights"],
        }

    def trace(self, config: dict) -> SharedTrace:
        """The session's trace, from the cache or computed (blocking: call off the loop)."""
        return self.traces.get_or_compute(config["key"], lambda: self._compute_trace(config))

    def cached_trace(self, config: dict) -> SharedTrace | None:
        return self.traces.peek(config["key"])

    def window(self, config: dict, start: int | None, stop: int | None,
               names: list[str] | None) -> tuple[int, int, list[str], dict[str, np.ndarray]]:
        steps = config["steps"]
        start = 0 if start is None else start
        stop = steps if stop is None else stop
        if not 0 <= start <= steps:
            raise ApiError("start", f"must be in [0, {steps}] for a session of {steps} steps")
        if not start <= stop <= steps:
            raise ApiError("stop", f"must be in [start={start}, {steps}] for a session of "
                                   f"{steps} steps")
        signals = cells.describe(config["cell"], **config["options"])
        known = [s.name for s in signals]
        if names:
            unknown = [n for n in names if n not in known]
            if unknown:
                raise ApiError("names", f"unknown signal(s) {unknown}; known: {known}")
        else:
            names = known
        width = {s.name: config["input_size"] if s.size == "input" else config["hidden_size"]
                 for s in signals}
        per_step = sum(width[n] for n in names)
        if (stop - start) * per_step > self.settings.max_trace_values:
            most = max(1, self.settings.max_trace_values // per_step)
            raise ApiError("stop", f"a window of {stop - start} steps x {per_step} numbers is "
                                   f"more than {self.settings.max_trace_values} numbers; ask "
                                   f"for at most {most} steps (or fewer names)")
        return start, stop, names, self.trace(config).window(start, stop, names)

    # -- creating --------------------------------------------------------------------------
    def create(self, request: SessionCreate) -> dict:
        sources = [k for k in ("preset", "seed", "weights_id") if getattr(request, k) is not None]
        if len(sources) > 1:
            raise ApiError(sources[1], f"give only one of preset, seed or weights_id; got "
                                       f"{' and '.join(sources)}")
        piece = piece_from_request(request.sequence)
        self._check_steps(piece.steps, "sequence")
        if request.preset is not None:
            cell, weights, vocabulary = self._from_preset(request, piece)
        elif request.weights_id is not None:
            cell, weights, vocabulary = self._from_upload(request, piece)
        else:
            cell, weights, vocabulary = self._from_seed(request, piece)
        if piece.values is not None and piece.width != cell.input_size:
            raise ApiError("sequence", f"rows have {piece.width} numbers but the cell takes "
                                       f"input_size {cell.input_size}")
        self._check_inputs_size(piece.steps, cell.input_size)
        xs = as_inputs(piece, vocabulary, request.dtype, "sequence.values")
        config = {
            "format": CONFIG_FORMAT, "id": self.store.new_session_id(), "cell": cell.kind,
            "options": dict(cell.options), "dtype": request.dtype,
            "input_size": cell.input_size, "hidden_size": cell.hidden_size,
            "weights": weights, "vocabulary": vocabulary, "sequence": piece.stored(),
            "steps": piece.steps, "parent": None,
        }
        config["key"] = content_key(config)
        self.cells.put(_cell_key(config), cell)
        self.traces.get_or_compute(config["key"], lambda: self._run(cell, xs, "sequence"))
        self.store.save_session(config)
        self.store.evict_sessions(self.settings.max_sessions)
        return config

    def _from_preset(self, request: SessionCreate, piece: Piece):
        preset = kinds.preset(request.preset, request.dtype)
        cell = preset.cell
        self._must_match(request, cell, f"preset {preset.name!r}")
        if request.options and {**cell.options, **request.options} != cell.options:
            raise ApiError("options", f"preset {preset.name!r} fixes the options to "
                                      f"{cell.options}")
        if piece.text is not None:
            check_text(piece.text, preset.vocabulary, "sequence.text", f"preset {preset.name!r}")
        return cell, {"preset": preset.name}, preset.vocabulary if piece.text is not None else None

    def _from_upload(self, request: SessionCreate, piece: Piece):
        weights_id = request.weights_id
        meta = self.store.weights_meta(weights_id)
        if meta is None:
            raise ApiError("weights_id", "no uploaded weights with this id; upload the file with "
                                         "POST /api/weights first")
        kind = kinds.check_kind(request.cell) if request.cell else meta["cell"]
        options = dict(meta["options"]) if kind == meta["cell"] else {}
        options.update(request.options)
        config = {"cell": kind, "options": options, "dtype": request.dtype,
                  "weights": {"weights_id": weights_id}, "input_size": meta["input_size"],
                  "hidden_size": meta["hidden_size"]}
        cell = self._cell(config, field="cell" if request.cell else "weights_id")
        self._must_match(request, cell, "the uploaded weights")
        self._check_sizes(cell.input_size, cell.hidden_size)
        vocabulary = self._derived_vocabulary(piece, cell.input_size, "the uploaded weights")
        return cell, {"weights_id": weights_id}, vocabulary

    def _from_seed(self, request: SessionCreate, piece: Piece):
        kind = kinds.check_kind(request.cell or "lstm")
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
        config = {"cell": kind, "options": dict(request.options), "dtype": request.dtype,
                  "weights": {"seed": seed}, "input_size": input_size,
                  "hidden_size": request.hidden_size}
        return self._cell(config, field="options"), {"seed": seed}, vocabulary

    def _derived_vocabulary(self, piece: Piece, input_size: int, whose: str) -> str | None:
        if piece.text is None:
            return None
        vocabulary = cells.text.derive_vocabulary(piece.text)
        if len(vocabulary) != input_size:
            raise ApiError("sequence.text", f"has {len(vocabulary)} distinct characters but "
                                            f"{whose} take input_size {input_size}; give values "
                                            "(one-hot rows) instead")
        return vocabulary

    # -- appending -------------------------------------------------------------------------
    def append(self, session_id: str,
               sequence: TextSequence | ValuesSequence | CsvSequence) -> dict:
        piece = piece_from_request(sequence, field="")
        with self.store.session_lock(session_id):
            config = self.get(session_id)
            stored_kind = "text" if "text" in config["sequence"] else "values"
            if piece.kind != stored_kind:
                hint = "text" if stored_kind == "text" else "values or csv"
                raise ApiError(piece.kind if piece.kind == "text" else "values",
                               f"this session's sequence is {stored_kind}; append {hint}")
            self._check_steps(config["steps"] + piece.steps, piece.kind)
            if piece.text is not None:
                whose = (f"preset {config['weights']['preset']!r}" if "preset" in config["weights"]
                         else "this session's vocabulary (from its first text)")
                check_text(piece.text, config["vocabulary"], "text", whose)
                sequence_now = {"text": config["sequence"]["text"] + piece.text}
            else:
                if piece.width != config["input_size"]:
                    raise ApiError("values", f"rows have {piece.width} numbers but the session's "
                                             f"input_size is {config['input_size']}")
                sequence_now = {"values": config["sequence"]["values"] + piece.values}
            self._check_inputs_size(config["steps"] + piece.steps, config["input_size"])
            xs_more = as_inputs(piece, config["vocabulary"], config["dtype"], "values")
            grown = {**config, "sequence": sequence_now, "steps": config["steps"] + piece.steps,
                     "parent": {"key": config["key"], "steps": config["steps"]}}
            grown["key"] = content_key(grown)
            shared = self.traces.pop(config["key"])
            if shared is not None and shared.steps == config["steps"]:
                self._extend(shared, xs_more)
                self.traces.put(grown["key"], shared)
            self.store.save_session(grown)
        return grown

    # -- computing -------------------------------------------------------------------------
    def _compute_trace(self, config: dict) -> SharedTrace:
        parent = config.get("parent")
        if parent:  # appended elsewhere (another process, or after eviction): try extending
            shared = self.traces.peek(parent["key"])
            if shared is not None and shared.steps == parent["steps"]:
                self.traces.pop(parent["key"])
                self._extend(shared, self._inputs(config, start=parent["steps"]))
                return shared
        return self._run(self._cell(config, field="weights"), self._inputs(config), "sequence")

    def _inputs(self, config: dict, start: int = 0) -> np.ndarray:
        piece = piece_from_stored(config["sequence"], start)
        return as_inputs(piece, config["vocabulary"], config["dtype"], "sequence.values")

    @staticmethod
    def _run(cell: cells.Cell, xs: np.ndarray, field: str) -> SharedTrace:
        try:
            return SharedTrace(cell.run(xs))
        except ValueError as exc:
            raise ApiError(field, str(exc)) from exc

    @staticmethod
    def _extend(shared: SharedTrace, xs_more: np.ndarray) -> None:
        try:
            shared.extend(xs_more)
        except ValueError as exc:
            raise ApiError("sequence", str(exc)) from exc

    def _cell(self, config: dict, field: str) -> cells.Cell:
        return self.cells.get_or_compute(_cell_key(config), lambda: self._build(config, field))

    def _build(self, config: dict, field: str) -> cells.Cell:
        weights, kind, options, dtype = (config["weights"], config["cell"], config["options"],
                                         config["dtype"])
        try:
            if "preset" in weights:
                return kinds.preset(weights["preset"], dtype).cell
            if "seed" in weights:
                return cells.create(kind, input_size=config["input_size"],
                                    hidden_size=config["hidden_size"], seed=weights["seed"],
                                    dtype=dtype, **options)
            path = self.store.weights_path(weights["weights_id"])
            if path is None:
                raise ApiError("weights_id", "the uploaded weights file is missing from the "
                                             "data directory")
            meta = self.store.weights_meta(weights["weights_id"]) or {}
            return cells.load(path, kind=kind, layer=meta.get("layer", 0), dtype=dtype,
                              **options)
        except ValueError as exc:
            raise ApiError(field, str(exc)) from exc

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
