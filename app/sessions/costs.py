"""What a session or a training job will cost, estimated from its sizes before any compute.

A file under every size limit can still ask for hours of CPU or gigabytes of memory: a
3,000-layer nn.LSTM(1, 1) costs a Python step per layer per time step; an LSTM with
proj_size holds its whole trace; a training batch keeps every step of every stream for the
backward pass. So a session is costed when it is made (steps x its cells' weights, with a
per-cell step overhead, the head and the held signals) and a training job when it is
submitted (the same for every Adam update, its memory for back-propagation, and the session
it will open). Over a setting, the refusal says what to shrink.

Units: multiply-adds ("operations"); bytes for memory. The figures are estimates that err
high; they are checked against settings, never against the clock.
"""

from __future__ import annotations

from collections.abc import Iterable

import cells
from app.core.settings import Settings
from app.errors import ApiError
from app.sessions.models import block_rows_held

# A cell's step costs a few Python calls and small-array allocations besides its matmuls:
# about as long as this many multiply-adds (so a deep stack of tiny cells costs what it does).
STEP_OVERHEAD = 20_000
HOLD_STEP_OVERHEAD = 2_000  # a held signal, per step it is held
TRACE_FULL_BYTES = 128 * 2**20  # the engine keeps at most this much of a cell's trace whole
BACKWARD_FACTOR = 3  # a training step: forward, backward through the states, the weights


def step_operations(cell) -> int:
    """Multiply-adds of one step of a cell: its input, recurrent and projection weights."""
    own = getattr(cell, "step_multiply_adds", None)  # a kind that counts its own (Mamba)
    if own is not None:
        return int(own) + STEP_OVERHEAD
    params = cell.params
    weights = sum(params[name].size for name in ("weight_ih", "weight_hh", "weight_hr")
                  if name in params)
    return int(weights) + STEP_OVERHEAD


def row_values(cell) -> int:
    """Numbers a cell's trace holds per step (every signal, at its own width)."""
    width = getattr(cell, "width", None) or (
        lambda s: cell.input_size if s.size == "input" else cell.hidden_size)
    return int(sum(width(s) for s in cell.signals))


def hold_operations(holds: Iterable, steps: int, hidden_size: int) -> int:
    total = 0
    for hold in holds:
        start = getattr(hold, "start", None)
        stop = getattr(hold, "stop", None)
        if isinstance(hold, dict):
            start, stop = hold.get("start"), hold.get("stop")
        start = 0 if start is None else max(0, int(start))
        stop = steps if stop is None else min(steps, int(stop))
        total += max(0, stop - start) * (hidden_size + HOLD_STEP_OVERHEAD)
    return total


def _refuse(field: str, what: str, figure: int, limit: int, setting: str, shrink: str):
    raise ApiError(field, f"{what}: about {figure:,}, over this server's limit of "
                          f"{limit:,} (setting {setting}); {shrink}")


def check_cell_session(settings: Settings, cell, steps: int, holds: Iterable = (),
                       field: str = "sequence") -> int:
    """A single-cell session's operations; refused over max_session_operations."""
    operations = steps * step_operations(cell) + hold_operations(holds, steps,
                                                                 cell.hidden_size)
    if operations > settings.max_session_operations:
        _refuse(field, f"computing {steps:,} steps of this cell (H {cell.hidden_size}) "
                            "(multiply-adds)", operations, settings.max_session_operations,
                "max_session_operations", "shorten the sequence, use a smaller hidden_size "
                                          "or hold fewer signals")
    return operations


def model_costs(model: cells.Model, steps: int, holds: Iterable = ()) -> tuple[int, int]:
    """(operations, bytes held) of one run of a whole model over `steps` steps."""
    itemsize = model.dtype.itemsize if hasattr(model, "dtype") else 8
    operations = 0
    held_values = steps * model.input_size  # the encoded inputs
    trace_bytes = 0
    for layer in model.stack:
        held_values += steps * layer.output_size
        if layer.block is not None:  # the rows of its block, as a run holds them
            held_values += steps * layer.input_size * block_rows_held(
                layer.block.describe()["signals"], first=False)
        for cell in layer.cells.values():
            operations += steps * step_operations(cell)
            # a kind whose trace keeps less than every signal (the Mamba) says how much
            whole = int(steps * getattr(cell, "kept_per_step", row_values(cell)) * itemsize)
            # a projected LSTM's trace is held whole; others keep a few chunks past 128 MiB
            projected = "weight_hr" in cell.params
            trace_bytes += whole if projected else min(whole, TRACE_FULL_BYTES)
    if model.head is not None:
        outputs, inputs = model.head.weight.shape
        operations += steps * outputs * inputs
        held_values += 2 * steps * outputs  # logits and probabilities
    hidden = max(c.hidden_size for layer in model.stack for c in layer.cells.values())
    operations += hold_operations(holds, steps, hidden)
    return operations, held_values * itemsize + trace_bytes


def check_session(settings: Settings, model: cells.Model, steps: int, holds: Iterable,
                  whole: bool, field: str = "sequence") -> None:
    """A session's cost before it is computed: a whole model's run, or its one cell's trace
    (computed in segments, so only its operations count)."""
    if whole:
        check_model_session(settings, model, steps, holds, field)
    else:
        check_cell_session(settings, next(iter(model.stack[0].cells.values())), steps, holds,
                           field)


def is_heavy(settings: Settings, model: cells.Model, steps: int) -> bool:
    """Whether one run of the model is heavy work (its own lane on the compute pool)."""
    return model_costs(model, steps)[0] > settings.heavy_operations


def check_model_session(settings: Settings, model: cells.Model, steps: int,
                        holds: Iterable = (), field: str = "sequence") -> tuple[int, int]:
    operations, nbytes = model_costs(model, steps, holds)
    shape = f"{steps:,} steps of {model.layers} layer(s) x {len(model.directions)} direction(s)"
    if operations > settings.max_session_operations:
        _refuse(field, f"computing {shape} (multiply-adds)", operations,
                settings.max_session_operations, "max_session_operations",
                "shorten the sequence or use a model with fewer or smaller layers")
    if nbytes > settings.max_session_bytes:
        _refuse(field, f"the memory one run of {shape} holds (bytes)", nbytes,
                settings.max_session_bytes, "max_session_bytes",
                "shorten the sequence or use a model with fewer or smaller layers")
    return operations, nbytes


def training_costs(text_length: int, vocabulary: int, hidden_size: int, layers: int,
                   batch: int, seq_len: int, steps: int, gates: int) -> tuple[int, int]:
    """(operations over all updates, bytes one update holds) of a character model's
    training: every stream's every step kept for back-propagation through time."""
    per_step = 0
    width = vocabulary
    for _ in range(layers):
        per_step += gates * hidden_size * (width + hidden_size) + STEP_OVERHEAD
        width = hidden_size
    per_step += vocabulary * hidden_size  # the head
    operations = steps * batch * seq_len * per_step * BACKWARD_FACTOR
    signals = gates * hidden_size + 4 * hidden_size  # gates, states and their gradients
    positions = batch * seq_len
    nbytes = 8 * positions * (layers * signals * 2 + vocabulary * 3 + hidden_size)
    return operations, nbytes


def _signal_counts(kind: str) -> tuple[int, int, int]:
    """(gates G, input-wide signals, hidden-wide signals) of a kind, from two tiny cells."""
    one = cells.create(kind, input_size=1, hidden_size=1, seed=0)
    two = cells.create(kind, input_size=2, hidden_size=1, seed=0)
    inputs = row_values(two) - row_values(one)
    # the first parameter (weight_ih; a Mamba's in_proj) has G·H rows in every kind (a
    # minimal RNN has no weight_hh)
    return next(iter(one.params.values())).shape[0], inputs, row_values(one) - inputs


def check_training_costs(settings: Settings, request) -> None:
    """Refuse a training job whose updates, memory or resulting session are over the
    settings, before it is queued (request: a TrainCreate with its batch decided)."""
    text = request.text
    vocabulary = len(cells.text.derive_vocabulary(text))  # as the worker builds it
    gates, input_signals, hidden_signals = _signal_counts(request.cell)
    H, L = request.hidden_size, request.layers
    operations, nbytes = training_costs(len(text), vocabulary, H, L, request.batch,
                                        request.seq_len, request.steps, gates)
    shrink = "use a smaller batch, seq_len, hidden_size, layers or fewer distinct characters"
    if nbytes > settings.max_train_bytes:
        _refuse("batch", f"one update of batch {request.batch} x seq_len {request.seq_len} x "
                         f"H {H} x {L} layer(s) x {vocabulary} characters holds (bytes)",
                nbytes, settings.max_train_bytes, "max_train_bytes", shrink)
    if operations > settings.max_train_operations:
        _refuse("steps", f"{request.steps:,} updates of batch {request.batch} x seq_len "
                         f"{request.seq_len} x H {H} x {L} layer(s) (multiply-adds)",
                operations, settings.max_train_operations, "max_train_operations",
                "use fewer steps, " + shrink.removeprefix("use "))
    # The session the trained model opens on its text (a char model: one-hot in, softmax out).
    steps = len(text)
    session_operations = 0
    held_values = steps * (vocabulary + L * H + 2 * vocabulary)
    trace_bytes = 0
    width = vocabulary
    itemsize = 4  # char models are float32
    for _ in range(L):
        session_operations += steps * (gates * H * (width + H) + STEP_OVERHEAD)
        row = input_signals * width + hidden_signals * H
        trace_bytes += min(steps * row * itemsize, TRACE_FULL_BYTES)
        width = H
    session_operations += steps * vocabulary * H
    session_bytes = held_values * itemsize + trace_bytes
    session = f"the session it opens ({steps:,} characters x {L} layer(s) of H {H})"
    if session_operations > settings.max_session_operations:
        _refuse("text", f"{session} costs (multiply-adds)", session_operations,
                settings.max_session_operations, "max_session_operations",
                "use a shorter text, a smaller hidden_size or fewer layers")
    if session_bytes > settings.max_session_bytes:
        _refuse("text", f"{session} holds (bytes)", session_bytes, settings.max_session_bytes,
                "max_session_bytes", "use a shorter text, a smaller hidden_size or fewer layers")
