"""Sessions: create, read and append, and the per-process caches of models and traces.

A session is its config (`SessionConfig`), stored by the data directory. Everything else
is derived from it deterministically: the model from the weights reference
(app/sessions/building.py; a single cell is the one-part model), the trace of each part
from the model and the sequence. So any worker process can serve any session, and a restart
loses nothing but warm caches.

The trace cache is keyed by a hash of the config's content (`key`) and the part (layer,
direction), so two sessions with the same content share their traces. Appending writes a
config with a new key and a `parent` pointer to the old one; the process that holds the
old trace extends it instead of recomputing the prefix, here or, after a reload, in any
other process.

Traces are computed on the compute pool (app/sessions/compute.py): the first window
before the answer, the rest in the background (app/sessions/traces.py). A session whose
weights name one cell reads the encoded sequence directly, so even a long one answers
after its first window; a whole model is run once (`ModelRun`: what each layer read, the
head's outputs) and each part's trace reads its rows from that run.
"""

from __future__ import annotations

import numpy as np

import cells
from app.core.settings import Settings
from app.errors import ApiError, NotFound
from app.schemas import (
    MAX_SHOWN_VALUES,
    CsvSequence,
    SessionCreate,
    SessionPublic,
    TextSequence,
    ValuesSequence,
)
from app.sessions import building, costs, json_pieces, limits, readings
from app.sessions import models as model_sessions
from app.sessions.building import start_states
from app.sessions.cache import ByteLRU
from app.sessions.compute import ComputePool
from app.sessions.config import SessionConfig, one_part, values_digest
from app.sessions.datadir import Store
from app.sessions.parallel_check import parallel_max_abs_diff
from app.sessions.sequences import Inputs, as_inputs, check_text, clusters, piece_from_request
from app.sessions.sources import made_for
from app.sessions.traces import SharedTrace, StartsIO
from app.sessions.uploads import upload_record

FIRST = building.FIRST


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
        # Every session's model (a single cell is the one-part model), by `cell_key`.
        self.models: ByteLRU[cells.Model] = ByteLRU(settings.cell_cache_bytes,
                                                    model_sessions.model_nbytes)
        # Runs of whole models (what each layer read, the head's outputs).
        self.runs: ByteLRU[model_sessions.ModelRun] = ByteLRU(settings.trace_cache_bytes,
                                                              lambda r: r.nbytes)
        # Parsed configs by (id, file version): every WebSocket connection and HTTP request
        # needs one, and many connections opening at once must not each parse it.
        self.configs: ByteLRU[tuple[SessionConfig | None, int]] = ByteLRU(
            settings.config_cache_bytes, lambda item: 4 * item[1])  # Python objects ~4x JSON
        # parallel vs step-by-step difference of the sessions whose kind has a parallel form
        self.parallel_checks: ByteLRU[float] = ByteLRU(settings.config_cache_bytes,
                                                       lambda value: 64)
        # a session's record as JSON, made once per content: a page asks for it again and
        # again, and a long text's record takes a tenth of a second of a core to make
        self.records: ByteLRU[bytes] = ByteLRU(settings.config_cache_bytes, len)

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
        parts = model_sessions.public_parts(config)
        first = parts["cells"][0][0]
        weights = dict(config.weights)
        if "weights_id" in weights:
            meta = self.store.weights_meta(weights["weights_id"])
            if meta is not None:
                weights.update(upload_record(weights["weights_id"], meta))
        body = {
            "id": config.id, "cell": config.cell, "options": config.options,
            "dtype": config.dtype, "input_size": config.input_size,
            "hidden_size": config.hidden_size, "steps": config.steps,
            "signals": first["signals"], "vocabulary": config.vocabulary,
            "sequence": self._sequence_as_given(config), "weights": weights,
        }
        for source in ("seed", "preset"):
            if source in config.weights:
                body[source] = config.weights[source]
        body.update(parts)
        body["interventions"] = list(config.interventions)
        body["state"] = config.state  # the starting state given (None: zeros)
        body["reserved_tokens"] = model_sessions.reserved_of(config.model)
        spec = cells.kinds.spec_for(config.cell)
        body["holdable"] = [sig.name for sig in cells.kinds.holdable(spec, config.options)]
        body["weight_edits"] = list(config.weight_edits)
        # a whole model's parameters are per part (`parts`); a single cell's are also here
        body["params"] = [] if config.whole else first["params"]
        if not config.whole and spec.parallel is not None:
            body["parallel_max_abs_diff"] = self._parallel_check(config)
        return body

    def record(self, config: SessionConfig) -> bytes:
        """`public` checked against SessionPublic and written as JSON (its sequence, which
        grows with the text, in pieces), made once for many askers (the others wait for it
        and read it)."""
        return self.records.get_or_compute((config.id, config.key), lambda: json_pieces.dump_model(
            SessionPublic.model_validate(self.public(config)), "sequence"))

    def _parallel_check(self, config: SessionConfig) -> float:
        """parallel vs step by step for this session's cell and inputs (computed once)."""
        return self.parallel_checks.get_or_compute(
            (config.cell_key(), config.key), lambda: parallel_max_abs_diff(
                self._model(config, "weights").cell(0, "forward"), self._inputs(config)))

    def _sequence_as_given(self, config: SessionConfig) -> dict:
        if config.is_text:
            if config.whole:  # a model splits text by its own tokenizer: its steps' tokens
                encoder = self._model(config, "weights").encoder
                if encoder.tokenizer != "chars":
                    return {"text": config.text, "tokens": encoder.split(config.text)}
            joined = clusters(config.text)  # absent when every step is one code point
            return {"text": config.text, "clusters": joined} if joined else {"text": config.text}
        if config.csv is not None:
            return {"csv": config.csv}
        if config.steps * config.input_size > MAX_SHOWN_VALUES:
            return {"rows": config.steps, "columns": config.input_size}
        return {"values": self.store.load_values(config).tolist()}

    # -- traces ----------------------------------------------------------------------------
    def trace(self, config: SessionConfig, layer: int = 0,
              direction: str = "forward") -> SharedTrace:
        """The trace of the session's part at (layer, direction), from the cache or started
        (blocking: call off the loop, never from the compute pool)."""
        self.part(config, layer, direction)
        trace = self.traces.get_or_compute(
            (config.key, layer, direction), lambda: self._compute_trace(config, layer, direction))
        self.pool.follow(trace)
        return trace

    def cached_trace(self, config: SessionConfig, layer: int = 0,
                     direction: str = "forward") -> SharedTrace | None:
        return self.traces.peek((config.key, layer, direction))

    @staticmethod
    def part(config: SessionConfig, layer: int, direction: str) -> dict:
        """The part at (layer, direction); a 422 naming a value it lacks."""
        return model_sessions.check_part(config, layer, direction)

    def model_run(self, config: SessionConfig) -> model_sessions.ModelRun:
        """The run of the session's model (blocking: off the loop, never from the pool)."""
        return self.runs.get_or_compute(config.key, lambda: self.pool.run(
            self._compute_run, config,
            heavy=costs.is_heavy(self.settings, self._model(config, "weights"), config.steps)))

    def cached_run(self, config: SessionConfig) -> model_sessions.ModelRun | None:
        return self.runs.peek(config.key)

    def labels(self, config: SessionConfig) -> list[str] | None:
        head = config.model["head"]
        return head["labels"] if head else None

    def window(self, config: SessionConfig, start: int | None, stop: int | None,
               names: list[str] | None, layer: int = 0, direction: str = "forward",
               ) -> tuple[int, int, list[str], dict[str, np.ndarray]]:
        """Signals of the cell at (layer, direction) for its steps [start, stop) (a backward
        cell's step k reads time T−1−k); a model's head outputs `logits`/`probs` and the
        rows of the block around that layer's cell (`block.norm`, ...) by time."""
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
        head = config.model["head"]
        outputs = []
        if head:
            outputs = ["logits"] + (["probs"] if head["kind"] != "linear" else [])
            width.update({name: head["outputs"] for name in outputs})
        # the rows of the block around this layer's cell, by time (`block.norm`, ...)
        block = model_sessions.blocks_of(config.model)[layer]
        block_rows = model_sessions.block_names(block)
        width.update({name: block["width"] for name in block_rows})
        outputs = outputs + block_rows
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
            prefix = model_sessions.BLOCK_PREFIX
            window.update({n: (run.block(layer, n.removeprefix(prefix)) if n in block_rows
                               else run.output(n))[start:stop] for n in names if n in outputs})
        return start, stop, names, window

    def tokens(self, config: SessionConfig, start: int, stop: int,
               direction: str = "forward") -> list[str] | None:
        """The input token each step of [start, stop) reads, for a text session (None for
        numbers): the vocabulary's tokens at the indices the cell reads, so a grapheme of
        several code points is one token; a backward cell's step k reads time T−1−k."""
        if not config.is_text:
            return None
        picked = cells.text.indices(config.text, config.vocabulary)
        if direction == "backward":
            picked = picked[::-1]
        return [config.vocabulary[int(k)] for k in picked[start:stop]]

    # -- readings (app/sessions/readings.py) -----------------------------------------------
    def sensitivity(self, *args, **kwargs) -> dict:
        return readings.sensitivity(self, *args, **kwargs)

    def hidden_attention(self, *args, **kwargs) -> dict:
        return readings.hidden_attention(self, *args, **kwargs)

    def difference(self, *args, **kwargs) -> tuple[int, int, dict]:
        return readings.difference(self, *args, **kwargs)

    def weight(self, *args, **kwargs) -> dict:
        return readings.weight(self, *args, **kwargs)

    # -- creating --------------------------------------------------------------------------
    def create(self, request: SessionCreate) -> SessionConfig:
        piece = piece_from_request(request.sequence)
        limits.check_steps(self.settings, piece.steps, "sequence")
        made = made_for(request, piece, self.store, self.settings)
        model, edits = building.edited(made.model, request.weight_edits)
        first = next(iter(model.stack[0].cells.values()))
        described = (model_sessions.describe_model(model) if made.whole else
                     one_part(first.kind, first.options, first.input_size, first.hidden_size,
                              piece.text is not None))
        steps = piece.steps
        if piece.text is not None and made.whole:  # a model splits text by its tokenizer
            steps = len(model_sessions.text_ids(model, piece.text, "sequence.text"))
        elif piece.values is not None and piece.width != model.input_size:
            raise ApiError("sequence", f"rows have {piece.width} numbers but "
                           + (f"{made.source} reads {model.input_size} per step" if made.whole
                              else f"the cell takes input_size {model.input_size}"))
        limits.check_steps(self.settings, steps, "sequence")
        limits.check_inputs_size(self.settings, steps, model_sessions.rows_per_step(described))
        inputs = None if made.whole else as_inputs(piece, made.vocabulary, request.dtype,
                                                   "sequence.values")
        by_part, held = building.held(model, request.interventions, steps)
        costs.check_session(self.settings, model, steps, held, made.whole)  # before computing
        state = None if request.state is None else request.state.model_dump(exclude_none=True)
        starts = start_states(model, state, "state")  # checked before anything is stored
        session_id = self.store.new_session_id()
        values = None if piece.values is None else np.asarray(piece.values, np.float64)
        digest = None if values is None else values_digest(values.tobytes())
        config = SessionConfig(
            id=session_id, cell=first.kind, options=dict(first.options), dtype=request.dtype,
            input_size=first.input_size, hidden_size=first.hidden_size, weights=made.weights,
            vocabulary=made.vocabulary, steps=steps, text=piece.text,
            values_file=None if digest is None else f"{session_id}.{digest[:16]}.npy",
            values_digest=digest, csv=piece.csv, model=described,
            interventions=held, weight_edits=edits, state=state or None).with_key()
        self.models.put(config.cell_key(), model)
        if made.whole:
            run = self.pool.run(model_sessions.ModelRun.of, model,
                                self._model_sequence(config, values), held, config.state,
                                heavy=costs.is_heavy(self.settings, model, steps))
            self.runs.put(config.key, run)
            self.trace(config)  # layer 0's first window before the answer, as for a cell
        else:  # the first window before the answer; the values are not stored yet
            trace = self.traces.get_or_compute(
                (config.key, *FIRST),
                lambda: self.pool.run(self._start, first, inputs, by_part.get(FIRST, ()),
                                      starts.get(FIRST), self._starts_io(config, *FIRST)))
            self.pool.follow(trace)
        self.store.save_session(config, values)
        self.store.evict_sessions(self.settings.max_sessions)
        keep = {session_id, *(v for k, v in made.weights.items() if k == "weights_id")}
        self.store.enforce_budget(self.settings.max_store_bytes, keep)
        return config

    # -- appending -------------------------------------------------------------------------
    def append(self, session_id: str,
               sequence: TextSequence | ValuesSequence | CsvSequence) -> SessionConfig:
        """A single cell's trace grows in place (here, or where its parent's trace is); a
        whole model reads the whole sequence again (a backward cell starts from its end)."""
        piece = piece_from_request(sequence, field="")
        self.get(session_id)  # 404 for an unknown id before anything is locked or written
        with self.store.session_lock(session_id):
            config = self.get(session_id)
            stored_kind = "text" if config.is_text else "values"
            if piece.kind != stored_kind:
                hint = "text" if stored_kind == "text" else "values or csv"
                raise ApiError(piece.kind if piece.kind == "text" else "values",
                               f"this session's sequence is {stored_kind}; append {hint}")
            values, dropped, more = None, 0, None
            if piece.text is not None and config.whole:
                text = config.text + piece.text
                steps = len(model_sessions.text_ids(self._model(config, "weights"), text,
                                                    "text"))
                changes = {"text": text}
            elif piece.text is not None:
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
                width = config.model["encoder"]["input_size"]
                if piece.width != width:
                    raise ApiError("values", f"rows have {piece.width} numbers but " + (
                        f"the model reads {width} per step" if config.whole
                        else f"the session's input_size is {width}"))
                values = np.concatenate([self.store.load_values(config),
                                         np.asarray(piece.values, np.float64)])
                digest = values_digest(values.tobytes())
                steps = len(values)
                changes = {"values_digest": digest, "csv": None, "inline_values": None,
                           "values_file": f"{config.id}.{digest[:16]}.npy"}
                more = as_inputs(piece, config.vocabulary, config.dtype, "values")
            limits.check_steps(self.settings, steps, piece.kind)
            limits.check_inputs_size(self.settings, steps,
                                     model_sessions.rows_per_step(config.model))
            costs.check_session(self.settings, self._model(config, "weights"), steps,
                                config.interventions, config.whole, piece.kind)
            if config.whole or dropped:
                # Computed again from the start when first read (a trace is never cut
                # back; a model's backward cells start from the end).
                grown = config.replace(steps=steps, parent=None, **changes).with_key()
                self.store.save_session(grown, values)
                return grown
            grown = config.replace(steps=steps, parent={"key": config.key, "steps": config.steps},
                                   **changes).with_key()
            shared = self.traces.pop((config.key, *FIRST))
            if shared is not None:
                if shared.steps == config.steps:
                    self.pool.run(self._extend, shared, more)
                    self.traces.put((grown.key, *FIRST), shared)
                else:  # not the trace this config describes: leave it where it was
                    self.traces.put((config.key, *FIRST), shared)
            self.store.save_session(grown, values)
        return grown

    # -- computing -------------------------------------------------------------------------
    def _compute_trace(self, config: SessionConfig, layer: int, direction: str) -> SharedTrace:
        """(blocking, off the pool: the model's run and the trace's first window go on it)"""
        parent = config.parent
        if parent:  # appended elsewhere (another process, or after eviction): try extending
            shared = self.traces.pop((parent["key"], *FIRST))
            if shared is not None:
                if shared.steps == parent["steps"]:
                    self.pool.run(self._extend, shared,
                                  self._inputs(config, start=parent["steps"]))
                    return shared
                self.traces.put((parent["key"], *FIRST), shared)  # another's: put it back
        model = self._model(config, "weights")
        by_part, _ = building.held(model, config.interventions, config.steps)
        inputs = (self.model_run(config).inputs(layer, direction) if config.whole
                  else self._inputs(config))
        return self.pool.run(self._start, model.cell(layer, direction), inputs,
                             by_part.get((layer, direction), ()),
                             start_states(model, config.state).get((layer, direction)),
                             self._starts_io(config, layer, direction))

    def _starts_io(self, config: SessionConfig, layer: int, direction: str) -> StartsIO:
        """Where the trace's segment start states are shared with the other workers."""
        path = self.store.starts_path(config.id, config.key, layer, direction)
        return StartsIO(lambda: self.store.load_starts(path),
                        lambda rows: self.store.save_starts(path, rows))

    def _inputs(self, config: SessionConfig, start: int = 0) -> Inputs:
        """What a single cell reads: its text's graphemes over its vocabulary, or numbers."""
        if config.is_text:
            return Inputs.from_text(config.text, config.vocabulary, config.dtype, start)
        return Inputs.from_values(self.store.load_values(config)[start:], config.dtype,
                                  "sequence.values")

    def _start(self, cell, inputs: Inputs, held: tuple = (), start: dict | None = None,
               starts_io: StartsIO | None = None) -> SharedTrace:
        try:
            return SharedTrace(cell, inputs, self.segments,
                               first_steps=self.settings.first_window_steps,
                               interventions=held, start=start, starts_io=starts_io)
        except ValueError as exc:
            raise ApiError("sequence", str(exc)) from exc

    @staticmethod
    def _extend(shared: SharedTrace, more: Inputs) -> None:
        try:
            shared.extend(more)
        except ValueError as exc:
            raise ApiError("sequence", str(exc)) from exc

    def _model(self, config: SessionConfig, field: str) -> cells.Model:
        """The session's model as it runs: built from its weights, then edited."""
        if config.weight_edits:  # the edited model, made from the model its weights give
            base = self._model(config.replace(weight_edits=()), field)
            return self.models.get_or_compute(
                config.cell_key(),
                lambda: building.edited(base, config.weight_edits)[0])
        return self.models.get_or_compute(config.cell_key(),
                                          lambda: building.build(config, self.store, field))

    def _model_sequence(self, config: SessionConfig, values: np.ndarray | None = None):
        if config.is_text:
            return config.text
        if values is None:
            values = self.store.load_values(config)
        return np.asarray(values, np.float64).astype(config.dtype)

    def _compute_run(self, config: SessionConfig) -> model_sessions.ModelRun:
        return model_sessions.ModelRun.of(self._model(config, "weights"),
                                          self._model_sequence(config), config.interventions,
                                          config.state)


def _shown(session_id: str) -> str:
    """An id in a message: printable characters only, and not too long."""
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in session_id[:40])
    return repr(cleaned + ("…" if len(session_id) > 40 else ""))
