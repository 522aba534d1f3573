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

import numpy as np

import cells
from app.api.errors import ApiError, NotFound
from app.api.schemas import CsvSequence, SessionCreate, TextSequence, ValuesSequence
from app.core.settings import Settings
from app.sessions import kinds
from app.sessions.cache import ByteLRU
from app.sessions.compute import ComputePool
from app.sessions.config import SessionConfig, values_digest
from app.sessions.datadir import Store
from app.sessions.sequences import Inputs, Piece, as_inputs, check_text, piece_from_request
from app.sessions.traces import SharedTrace
from app.sessions.uploads import upload_record

# GET /api/sessions/{id} gives the numbers of a sequence back up to this many; beyond, it
# says how many rows and columns there are (the page cannot show a bigger table anyway).
MAX_SHOWN_VALUES = 200_000


def _params_bytes(cell: cells.Cell) -> int:
    return sum(a.nbytes for a in cell.params.values())


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
        # Parsed configs by (id, file version): every WebSocket connection and HTTP request
        # needs one, and many connections opening at once must not each parse it.
        self.configs: ByteLRU[tuple[SessionConfig | None, int]] = ByteLRU(
            settings.config_cache_bytes, lambda item: 4 * item[1])  # Python objects ~4x JSON

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
        signals = cells.describe(config.cell, **config.options)
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
        body["interventions"] = list(config.interventions)
        spec = cells.kinds.spec_for(config.cell)
        body["holdable"] = [sig.name for sig in cells.kinds.holdable(spec, config.options)]
        return body

    def _sequence_as_given(self, config: SessionConfig) -> dict:
        if config.is_text:
            return {"text": config.text}
        if config.csv is not None:
            return {"csv": config.csv}
        if config.steps * config.input_size > MAX_SHOWN_VALUES:
            return {"rows": config.steps, "columns": config.input_size}
        return {"values": self.store.load_values(config).tolist()}

    def trace(self, config: SessionConfig) -> SharedTrace:
        """The session's trace, from the cache or started (blocking: call off the loop,
        never from the compute pool)."""
        trace = self.traces.get_or_compute(config.key,
                                           lambda: self.pool.run(self._compute_trace, config))
        self.pool.follow(trace)
        return trace

    def cached_trace(self, config: SessionConfig) -> SharedTrace | None:
        return self.traces.peek(config.key)

    def window(self, config: SessionConfig, start: int | None, stop: int | None,
               names: list[str] | None) -> tuple[int, int, list[str], dict[str, np.ndarray]]:
        steps = config.steps
        start = 0 if start is None else start
        stop = steps if stop is None else stop
        if not 0 <= start <= steps:
            raise ApiError("start", f"must be in [0, {steps}] for a session of {steps} steps")
        if not start <= stop <= steps:
            raise ApiError("stop", f"must be in [start={start}, {steps}] for a session of "
                                   f"{steps} steps")
        signals = cells.describe(config.cell, **config.options)
        known = [s.name for s in signals]
        if names:
            unknown = [n for n in names if n not in known]
            if unknown:
                raise ApiError("names", f"unknown signal(s) {unknown}; known: {known}")
        else:
            names = known
        width = {s.name: config.input_size if s.size == "input" else config.hidden_size
                 for s in signals}
        per_step = sum(width[n] for n in names)
        if (stop - start) * per_step > self.settings.max_trace_values:
            most = max(1, self.settings.max_trace_values // per_step)
            raise ApiError("stop", f"a window of {stop - start} steps x {per_step} numbers is "
                                   f"more than {self.settings.max_trace_values} numbers; ask "
                                   f"for at most {most} steps (or fewer names)")
        trace = self.trace(config)
        return start, stop, names, self.pool.run(trace.window, start, stop, names)

    def sensitivity(self, config: SessionConfig, t: int, unit: int, of: str,
                    window: int | None) -> dict:
        """`Trace.sensitivity` of the session at (t, unit), computed on the pool; the
        window defaults to and is capped by the settings."""
        steps, H = config.steps, config.hidden_size
        if not 0 <= t < steps:
            raise ApiError("t", f"must be in [0, {steps - 1}] for a session of {steps} steps")
        if not 0 <= unit < H:
            raise ApiError("unit", f"must be in [0, {H - 1}] for hidden_size {H}")
        names = {s.name for s in cells.describe(config.cell, **config.options)}
        if of not in names:
            raise ApiError("of", f"a {config.cell} has no cell state c; use of=h")
        limit = self.settings.max_sensitivity_window
        window = self.settings.sensitivity_window if window is None else window
        if not 1 <= window <= limit:
            raise ApiError("window", f"must be in [1, {limit}] (the server's limit)")
        trace = self.trace(config)
        result = self.pool.run(trace.sensitivity, t, unit, of, window)
        return {"start": int(result["start"]), "t": t, "unit": unit, "of": of,
                **{v: None if result[v] is None else [float(a) for a in result[v]]
                   for v in ("x", "h", "c")}}

    def difference(self, config: SessionConfig, other: SessionConfig, start: int | None,
                   stop: int | None, names: list[str] | None) -> tuple[int, int, dict]:
        """This session's signals minus `other`'s over the same steps (a what-if against its
        original run): both must have the same kind, options and sizes."""
        for field in ("cell", "options", "input_size", "hidden_size", "steps"):
            if getattr(config, field) != getattr(other, field):
                raise ApiError("from", f"session {other.id!r} differs in {field} "
                                       f"({getattr(other, field)!r} against "
                                       f"{getattr(config, field)!r}); a difference needs "
                                       "the same cell and sequence length")
        start, stop, names, mine = self.window(config, start, stop, names)
        _, _, _, theirs = self.window(other, start, stop, names)
        return start, stop, {n: (mine[n].astype(np.float64) - theirs[n]) for n in names}

    # -- creating --------------------------------------------------------------------------
    def _check_interventions(self, cell: cells.Cell, interventions, steps: int) -> tuple:
        items = [iv.model_dump() if hasattr(iv, "model_dump") else dict(iv)
                 for iv in interventions or ()]
        try:
            return cell.check_interventions(items, steps)
        except ValueError as exc:
            raise ApiError("interventions", str(exc)) from exc

    def create(self, request: SessionCreate) -> SessionConfig:
        sources = [k for k in ("preset", "seed", "weights_id") if getattr(request, k) is not None]
        if len(sources) > 1:
            raise ApiError(sources[1], f"give only one of preset, seed or weights_id; got "
                                       f"{' and '.join(sources)}")
        piece = piece_from_request(request.sequence)
        self._check_steps(piece.steps, "sequence")
        if request.preset is not None:
            made = self._from_preset(request, piece)
        elif request.weights_id is not None:
            made = self._from_upload(request, piece)
        else:
            made = self._from_seed(request, piece)
        cell = made.cell
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
            interventions=tuple(iv.to_dict() for iv in held)).with_key()
        self.cells.put(config.cell_key(), cell)
        trace = self.traces.get_or_compute(
            config.key, lambda: self.pool.run(self._start, cell, inputs, held))
        self.pool.follow(trace)
        self.store.save_session(config, values)
        self.store.evict_sessions(self.settings.max_sessions)
        keep = {session_id, *(v for k, v in made.weights.items() if k == "weights_id")}
        self.store.enforce_budget(self.settings.max_store_bytes, keep)
        return config

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
            steps = config.steps + piece.steps
            self._check_steps(steps, piece.kind)
            values = None
            if piece.text is not None:
                whose = (f"preset {config.weights['preset']!r}" if "preset" in config.weights
                         else "this session's vocabulary (from its first text)")
                check_text(piece.text, config.vocabulary, "text", whose)
                changes = {"text": config.text + piece.text}
            else:
                if piece.width != config.input_size:
                    raise ApiError("values", f"rows have {piece.width} numbers but the session's "
                                             f"input_size is {config.input_size}")
                values = np.concatenate([self.store.load_values(config),
                                         np.asarray(piece.values, np.float64)])
                digest = values_digest(values.tobytes())
                changes = {"values_digest": digest, "csv": None, "inline_values": None,
                           "values_file": f"{config.id}.{digest[:16]}.npy"}
            self._check_inputs_size(steps, config.input_size)
            more = as_inputs(piece, config.vocabulary, config.dtype, "values")
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
            return Inputs.from_text(config.text[start:], config.vocabulary, config.dtype)
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


def _json_value(value) -> str:
    """An option value as the user wrote it in JSON (false, "relu")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, str) else str(value)


def _shown(session_id: str) -> str:
    """An id in a message: printable characters only, and not too long."""
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in session_id[:40])
    return repr(cleaned + ("…" if len(session_id) > 40 else ""))
