"""A whole recurrent model: an input encoder, `layers` × `directions` cells and an optional
linear head, as PyTorch and Keras stack them.

Layer l reads layer l−1's h, both directions concatenated (forward first). The backward
cell of a layer reads the sequence from the end: its trace's step k is time T−1−k, and its
h is put back in time order before the next layer reads it (as nn.LSTM(bidirectional=True),
Keras Bidirectional and ONNX do). The head maps the last layer's output at every step to
logits; a softmax (or sigmoid) head also gives probabilities.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from .. import memory
from ..interventions import held_by_part
from ..params import weight_array
from ..weight_edits import edits_by_part
from .blocks import Block, Norm
from .encoder import Encoder
from .projected import ProjectedLSTM

FORWARD, BACKWARD = "forward", "backward"
DIRECTIONS = (FORWARD, BACKWARD)
ACTIVATIONS = ("linear", "softmax", "sigmoid")
RETURNS = ("sequence", "last")


def output_size(cell) -> int:
    """How many values a cell's h has: its hidden size, or its projection's."""
    return getattr(cell, "output_size", cell.hidden_size)


def start_state_widths(state_names, hidden_size: int, h_size: int) -> dict[str, int]:
    """{"h": width, "c": width} of the starting state a cell with these states takes (h0 /
    c0; h as wide as its output, c as its hidden size); only the states it has."""
    return {name: h_size if name == "h" else hidden_size
            for name in ("h", "c") if name in state_names}


@dataclass(frozen=True)
class Head:
    """logits_t = W·y_t + b on the last layer's output y_t (D·H,); then the activation."""

    weight: np.ndarray  # (O, D·H)
    bias: np.ndarray  # (O,)
    activation: str = "linear"  # one of ACTIVATIONS

    def __post_init__(self):
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"head activation {self.activation!r} is not one of {ACTIVATIONS}")
        if self.weight.ndim != 2 or self.bias.shape != self.weight.shape[:1]:
            raise ValueError(
                f"head weight {self.weight.shape} and bias {self.bias.shape} do not fit "
                "(O, inputs) and (O,)"
            )

    @property
    def output_size(self) -> int:
        return self.weight.shape[0]

    @property
    def input_size(self) -> int:
        return self.weight.shape[1]

    def logits(self, y: np.ndarray) -> np.ndarray:
        out = y @ self.weight.T  # (T, O); in place from here: a head's rows can be large
        out += self.bias
        return out

    def probabilities(self, logits: np.ndarray) -> np.ndarray | None:
        if self.activation == "softmax":
            shifted = logits - logits.max(axis=-1, keepdims=True)
            np.exp(shifted, out=shifted)
            shifted /= shifted.sum(axis=-1, keepdims=True)
            return shifted
        if self.activation == "sigmoid":
            return 0.5 * np.tanh(0.5 * logits) + 0.5
        return None


@dataclass(frozen=True)
class Layer:
    """One recurrent layer: a cell per direction (forward first), and in a residual
    language model the block around its cell (cells.models.blocks)."""

    cells: Mapping[str, object]  # direction -> cell (an engine Cell or a ProjectedLSTM)
    # Keras go_backwards without Bidirectional hands its outputs on in processing order
    # (the last step first); everywhere else a backward output is put back in time order.
    reverse_output: bool = False
    block: Block | None = None

    def __post_init__(self):
        directions = tuple(self.cells)
        if not directions or any(d not in DIRECTIONS for d in directions) \
                or list(directions) != sorted(directions, key=DIRECTIONS.index):
            raise ValueError(f"a layer's directions must be 'forward', 'backward' or both "
                             f"(in that order), got {directions}")
        sizes = {cell.input_size for cell in self.cells.values()}
        if len(sizes) > 1:
            raise ValueError(f"the directions of a layer read different input sizes {sizes}")
        if self.block is not None:
            if directions != (FORWARD,) or self.reverse_output:
                raise ValueError("a layer with a block runs forward only")
            self.block.check(self.cells[FORWARD], "layer")

    @property
    def directions(self) -> tuple[str, ...]:
        return tuple(self.cells)

    @property
    def input_size(self) -> int:
        cell = next(iter(self.cells.values()))
        return cell.input_size if self.block is None else self.block.stream_width(cell)

    @property
    def output_size(self) -> int:
        if self.block is not None:  # the residual stream goes on at the width it came in
            return self.input_size
        return sum(output_size(cell) for cell in self.cells.values())


class Model:
    """encoder → layers → head. `model.layers` is how many layers; `model.stack` holds them."""

    def __init__(self, stack: Sequence[Layer | Mapping[str, object]],
                 encoder: Encoder | None = None, head: Head | None = None,
                 returns: str = "sequence", notices: Sequence[str] = (),
                 final_norm: Norm | None = None):
        self.stack = tuple(layer if isinstance(layer, Layer) else Layer(dict(layer))
                           for layer in stack)
        if not self.stack:
            raise ValueError("a model needs at least one recurrent layer")
        if returns not in RETURNS:
            raise ValueError(f"returns {returns!r} is not one of {RETURNS}")
        first = self.stack[0].input_size
        self.encoder = encoder or Encoder("numbers", first)
        if self.encoder.width != first:
            raise ValueError(f"the encoder gives {self.encoder.width} values per step but "
                             f"layer 0 reads {first}")
        for index in range(1, len(self.stack)):
            given, read = self.stack[index - 1].output_size, self.stack[index].input_size
            if given != read:
                raise ValueError(f"layer {index - 1} outputs {given} values per step but layer "
                                 f"{index} reads {read}")
        if head is not None and head.input_size != self.stack[-1].output_size:
            raise ValueError(f"the head reads {head.input_size} values but the last layer "
                             f"outputs {self.stack[-1].output_size}")
        if final_norm is not None and final_norm.width not in (None,
                                                               self.stack[-1].output_size):
            raise ValueError(f"the final norm is {final_norm.width} wide but the last layer "
                             f"outputs {self.stack[-1].output_size}")
        dtypes = {cell.dtype for layer in self.stack for cell in layer.cells.values()}
        if len(dtypes) > 1:
            shown = sorted(map(str, dtypes))
            raise ValueError(f"the cells of a model must share one dtype, got {shown}")
        self.dtype = dtypes.pop()
        # The head and embedding enter the engine as the cells' parameters do (C-contiguous,
        # of the model's dtype, frozen: cells.params.weight_array), so a model computes the
        # same bits whatever file it was read from, and a tied head is the embedding's array.
        self.head = None if head is None else Head(
            weight_array(head.weight, "head weight", self.dtype),
            weight_array(head.bias, "head bias", self.dtype), head.activation)
        self.stack = tuple(layer if layer.block is None
                           else replace(layer, block=layer.block.cast(self.dtype))
                           for layer in self.stack)
        self.final_norm = None if final_norm is None else replace(
            final_norm, weight=None if final_norm.weight is None
            else weight_array(final_norm.weight, "final norm weight", self.dtype),
            bias=None if final_norm.bias is None
            else weight_array(final_norm.bias, "final norm bias", self.dtype))
        if self.encoder.embedding is not None:
            self.encoder = replace(self.encoder,  # keeps a special encoder's class
                                   embedding=weight_array(self.encoder.embedding, "embedding",
                                                            self.dtype))
        self.returns = returns
        self.notices = tuple(notices)  # what loading left out or changed, said in words

    def __repr__(self) -> str:
        kinds = "/".join(sorted({c.kind for layer in self.stack for c in layer.cells.values()}))
        head = f", head={self.head.output_size} {self.head.activation}" if self.head else ""
        return (f"Model({kinds}, layers={self.layers}, directions={self.directions}, "
                f"encoder={self.encoder.encoding}, input_size={self.input_size}{head}, "
                f"dtype={self.dtype.name})")

    @property
    def layers(self) -> int:
        return len(self.stack)

    @property
    def directions(self) -> tuple[str, ...]:
        """Every direction some layer runs in, forward first."""
        present = {d for layer in self.stack for d in layer.directions}
        return tuple(d for d in DIRECTIONS if d in present)

    @property
    def vocabulary(self) -> tuple[str, ...] | None:
        return self.encoder.vocabulary

    @property
    def input_size(self) -> int:
        return self.stack[0].input_size

    def info(self) -> dict:
        """The model as plain data: what a server or a page shows about it."""
        encoder, head = self.encoder, self.head
        return {
            "layers": self.layers,
            "directions": list(self.directions),
            "cells": [[{"direction": d, "kind": c.kind, "options": dict(c.options),
                        "input_size": c.input_size, "hidden_size": c.hidden_size,
                        "output_size": output_size(c),
                        # a cell whose signals have several sizes (Mamba: E, N, …) names them
                        **({"dims": dict(c.dims)} if hasattr(c, "dims") else {})}
                       for d, c in layer.cells.items()]
                      for layer in self.stack],
            "encoder": {"encoding": encoder.encoding, "input_size": encoder.width,
                        "tokenizer": encoder.tokenizer, "vocabulary_size": encoder.size},
            "head": None if head is None else {"output_size": head.output_size,
                                               "activation": head.activation},
            "returns": self.returns,
            "dtype": self.dtype.name,
            "blocks": [None if layer.block is None else layer.block.describe()
                       for layer in self.stack],
            "final_norm": None if self.final_norm is None else self.final_norm.kind,
        }

    def cell(self, layer: int, direction: str = FORWARD):
        """The cell of `layer` (0 is the one reading the input) in `direction`."""
        if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) \
                or not 0 <= layer < self.layers:
            raise ValueError(f"layer {layer!r} is not one of 0..{self.layers - 1}")
        cells = self.stack[layer].cells
        if direction not in cells:
            raise ValueError(f"layer {layer} runs {', '.join(cells)}, not {direction!r}")
        return cells[direction]

    def check_weight_edits(self, edits) -> dict[tuple, tuple]:
        """Weight edits checked for this model (cells.weight_edits.edits_by_part):
        {(layer, direction): (WeightEdit, ...)}."""
        return edits_by_part(self, edits)

    def check_interventions(self, interventions, steps: int) -> dict[tuple, tuple]:
        """Interventions checked for this model and `steps` steps
        (cells.interventions.held_by_part): {(layer, direction): (Intervention, ...)}."""
        return held_by_part(self, interventions, steps)

    def with_weights(self, edits) -> Model:
        """A new model with these weights of its cells changed: each edit {"param", "row",
        "col", "value"} as a cell's (cells.weight_edits), with the `layer` (default 0) and
        `direction` (default "forward") of the cell it changes. This model is not changed;
        the cells no edit touches, the encoder and the head are shared (read-only)."""
        checked = self.check_weight_edits(edits)
        stack = [Layer({d: cell.with_weights(checked[(index, d)]) if (index, d) in checked
                        else cell for d, cell in layer.cells.items()}, layer.reverse_output,
                       layer.block)
                 for index, layer in enumerate(self.stack)]
        return Model(stack, self.encoder, self.head, self.returns, self.notices,
                     self.final_norm)

    def encode(self, sequence) -> tuple[np.ndarray, list[str] | None, np.ndarray | None]:
        """(xs (T, I), tokens or None, token ids or None) for text, token ids or numbers."""
        if isinstance(sequence, str):
            ids = self.encoder.ids(sequence)
            return self.encoder.rows(ids, self.dtype), self.encoder.split(sequence), ids
        array = np.asarray(sequence)
        if array.ndim == 1 and array.dtype.kind in "iu":
            return self.encoder.rows(array, self.dtype), None, array
        if array.ndim != 2 or array.shape[1] != self.input_size:
            raise ValueError(
                f"sequence has shape {array.shape}; give text, token ids (T,) or numbers "
                f"(T, {self.input_size})"
            )
        return array, None, None

    def run(self, sequence, state: Mapping | None = None, interventions=None, *, h0=None,
            c0=None) -> ModelTrace:
        """Run text, token ids (T,) or numbers (T, I) through every layer and the head.

        The starting state (zeros by default), e.g. a decoder's: `h0` and `c0` as PyTorch
        takes them, one row per layer and direction ((L·D, H), layer by layer, forward
        before backward; (H,) for a model of one cell; a list of rows where sizes differ),
        or `state` mapping (layer, direction) to that cell's {"h": ..., "c": ...}.
        `interventions`: signals held in chosen cells (cells.interventions, each item with
        its `layer` and `direction`; steps are that cell's own); the layers above and the
        head read the held run.
        """
        xs, tokens, ids = self.encode(sequence)
        held = self.check_interventions(interventions, len(xs))
        if h0 is not None or c0 is not None:
            if state:
                raise ValueError("give the starting state as state= or as h0= / c0=, not both")
            state = self.starting_state(h0, c0)
        state = dict(state or {})
        unknown = [key for key in state
                   if not (isinstance(key, tuple) and len(key) == 2
                           and isinstance(key[0], int) and 0 <= key[0] < self.layers
                           and key[1] in self.stack[key[0]].cells)]
        if unknown:
            raise ValueError(f"initial state for unknown (layer, direction) {unknown}")
        bad = [key for key, value in state.items() if not isinstance(value, Mapping)]
        if bad:
            raise ValueError(f"initial state for {bad} must map 'h' (and 'c') to arrays")
        traces, outputs, finals, reads, blocks = [], [], [], [], []
        inputs, T = xs, len(xs)
        for index, layer in enumerate(self.stack):
            rows = None
            if layer.block is not None:
                inputs, rows = layer.block.before(inputs)
            reads.append(inputs)
            # the directions' h go straight into their columns of the layer's output
            width = sum(output_size(cell) for cell in layer.cells.values())
            out = memory.empty((T, width), self.dtype)
            per_direction, last, begin = {}, [], 0
            for direction, cell in layer.cells.items():
                backward = direction == BACKWARD
                width = output_size(cell)
                target = out[:, begin:begin + width]  # h in the order the cell runs
                if backward and not layer.reverse_output:
                    target = target[::-1]
                per_direction[direction] = _run(cell, inputs[::-1] if backward else inputs,
                                                state.get((index, direction), {}), target,
                                                held.get((index, direction), ()))
                last.append(target[-1])
                begin += width
            traces.append(per_direction)
            if rows is not None:
                out = layer.block.after(rows, out)
            blocks.append(rows)
            inputs = out  # (T, D·H), or the residual stream (T, E) after a block
            outputs.append(out)
            finals.append(np.concatenate(last) if rows is None else out[-1])
        return ModelTrace(self, xs, tokens, ids, traces, outputs, finals[-1], reads, blocks)

    def state_sizes(self) -> dict:
        """{(layer, direction): {"h": width, "c": width}}: the starting state run() takes
        (h0 / c0), per cell in the order of its rows; only the states that cell has as one
        row of numbers (a Mamba's h, channels × N, is given with state= instead)."""
        sizes = {}
        for index, layer in enumerate(self.stack):
            for direction, cell in layer.cells.items():
                zero = cell.zero_state() if hasattr(cell, "zero_state") else {}
                widths = start_state_widths(getattr(cell, "state_names", ("h", "c")),
                                            cell.hidden_size, output_size(cell))
                sizes[(index, direction)] = {name: width for name, width in widths.items()
                                             if np.shape(zero.get(name, ())) in ((width,), (0,))}
        return sizes

    def starting_state(self, h0=None, c0=None) -> dict:
        """{(layer, direction): {"h": row, "c": row}} from h0 / c0 as run() takes them: one
        row per layer and direction, layer by layer, forward before backward ((H,) for a
        model of one cell); each row as wide as that cell's h (or c), finite."""
        sizes = self.state_sizes()
        cells = list(sizes)
        order = ", ".join(f"({index}, {d})" for index, d in cells)
        out: dict = {}
        for name, value in (("h", h0), ("c", c0)):
            if value is None:
                continue
            try:
                array = np.asarray(value, dtype=float)
            except (ValueError, TypeError):  # rows of different sizes
                array = None
            if array is not None and array.ndim == 1 and len(cells) == 1:
                rows = [array]
            elif array is not None and array.ndim == 2:
                rows = list(array)
            elif isinstance(value, (list, tuple)):
                rows = [np.asarray(row, dtype=float) for row in value]
            else:
                rows = []
            if len(rows) != len(cells):
                shape = getattr(array, "shape", None)
                raise ValueError(f"{name}0 has shape {shape}; give one row per layer and "
                                 f"direction ({len(cells)}: {order})")
            for (index, direction), row in zip(cells, rows, strict=True):
                cell = self.stack[index].cells[direction]
                if name not in sizes[(index, direction)]:
                    names = getattr(cell, "state_names", ())
                    have = (f"{name} has shape {np.shape(cell.zero_state()[name])}, not one "
                            "row (give it with state=)" if name in names
                            and hasattr(cell, "zero_state") else
                            f"state is only {' and '.join(sizes[(index, direction)])}"
                            if sizes[(index, direction)] else "state is neither h nor c "
                            "(give it with state=)")
                    raise ValueError(f"{name}0 given, but layer {index} {direction} is a "
                                     f"{cell.kind}, whose {have}")
                width = sizes[(index, direction)][name]
                if row.shape != (width,) or not np.isfinite(row).all():
                    raise ValueError(f"{name}0 row of layer {index} {direction} has shape "
                                     f"{row.shape}; that cell's {name} is {width} finite "
                                     "numbers")
                out.setdefault((index, direction), {})[name] = row
        return out


def _run(cell, xs: np.ndarray, start: Mapping, h: np.ndarray, held: tuple = ()):
    """The cell's trace over xs, holding `held`; its h (T, n) is written into `h` as each
    chunk is made, so no evicted chunk of a long trace is computed twice."""
    h0, c0 = start.get("h"), start.get("c")
    if isinstance(cell, ProjectedLSTM):  # its trace is held whole
        trace = cell.run(xs, h0=h0, c0=c0)
        h[:] = trace["h"]
        return trace
    if not hasattr(cell, "column"):  # a kind with its own cell class (mLSTM, Mamba): whole
        state = {k: v for k, v in start.items() if v is not None} or None
        trace = cell.run(xs, state=state, interventions=held or None)
        layout = getattr(cell, "layout", None)
        h[:] = trace[layout.output if layout is not None else "h"]
        return trace
    H = cell.hidden_size
    column = cell.column(cell.layout.output) * H

    def keep(begin: int, end: int, rows: np.ndarray) -> None:
        h[begin:end] = rows[:, column:column + H]

    return cell.run(xs, h0=h0, c0=c0, interventions=held, on_chunk=keep)


@dataclass(frozen=True, eq=False)
class ModelTrace:
    """One run of a model: each cell's Trace, each layer's output, and the head's."""

    model: Model
    xs: np.ndarray  # (T, I) what layer 0 read
    tokens: list[str] | None  # the text's tokens, when the input was text
    ids: np.ndarray | None  # (T,) token ids, when the input was text or ids
    traces: Sequence[Mapping[str, object]]  # [layer][direction] -> Trace
    outputs: Sequence[np.ndarray]  # [layer] -> (T, D·H), as the next layer reads it
    final: np.ndarray  # the last layer's final h, directions concatenated (D·H,)
    reads: Sequence[np.ndarray] = ()  # [layer] -> (T, I_l) what that layer's cells read
    # [layer] -> the rows its block made (cells.models.blocks.SIGNALS), None without one
    blocks: Sequence[Mapping[str, np.ndarray] | None] = ()
    _head: dict = field(default_factory=dict, repr=False)  # logits and probs, made on demand

    def __len__(self) -> int:
        return len(self.xs)

    def layer(self, layer: int, direction: str = FORWARD):
        """The Trace of that layer's cell; a backward trace's step k is time T−1−k."""
        self.model.cell(layer, direction)  # checks both
        return self.traces[layer][direction]

    def step(self, layer: int, direction: str, t: int) -> int:
        """The step of that cell's trace that reads the input of time t: T−1−t for a
        backward cell, which starts from the end."""
        self.model.cell(layer, direction)
        if not 0 <= t < len(self):
            raise ValueError(f"time {t} is outside the sequence of {len(self)} steps")
        return len(self) - 1 - t if direction == BACKWARD else t

    def signal(self, layer: int, direction: str, name: str) -> np.ndarray:
        """(T, n): a signal of that cell in time order, whichever way the cell ran."""
        rows = self.layer(layer, direction)[name]
        return rows[::-1].copy() if direction == BACKWARD else rows

    @property
    def names(self) -> tuple[str, ...]:
        head = self.model.head
        if head is None:
            return ()
        return ("logits", "probs") if head.activation != "linear" else ("logits",)

    def __contains__(self, name: str) -> bool:
        return name in self.names

    def __getitem__(self, name: str) -> np.ndarray:
        """"logits" (T, O) at every step; "probs" (T, O) for softmax or sigmoid heads."""
        if name not in self.names:
            has = (f"it has {', '.join(self.names)}" if self.names else "the model has no head")
            raise ValueError(f"unknown output {name!r}: {has}")
        if name not in self._head:
            head = self.model.head
            logits = head.logits(self.head_input)
            self._head["logits"], self._head["probs"] = logits, head.probabilities(logits)
        return self._head[name].copy()

    @property
    def head_input(self) -> np.ndarray:
        """(T, ·) what the head reads: the last layer's output, after the final norm."""
        norm = self.model.final_norm
        return self.outputs[-1] if norm is None else norm(self.outputs[-1])

    def block(self, layer: int, name: str) -> np.ndarray:
        """(T, ·) a row the block around that layer's cell made (blocks.SIGNALS)."""
        self.model.cell(layer)
        rows = self.blocks[layer] if layer < len(self.blocks) else None
        if rows is None or name not in rows:
            has = ", ".join(rows) if rows else "no block"
            raise ValueError(f"layer {layer} has no block signal {name!r} ({has})")
        return rows[name]

    @property
    def prediction(self) -> np.ndarray | None:
        """What the source framework's model returns: the head at every step (T, O), or,
        for a model that returns only its last output (Keras return_sequences=False), the
        head on each direction's final h (O,). Without a head: that output itself."""
        model = self.model
        if model.returns == "sequence":
            out = self.outputs[-1] if model.head is None else self["probs" if "probs" in self
                                                                   else "logits"]
            return out
        if model.head is None:
            return self.final.copy()
        final = self.final[None]
        logits = model.head.logits(final if model.final_norm is None
                                   else model.final_norm(final))
        probs = model.head.probabilities(logits)
        return (logits if probs is None else probs)[0]

    def top(self, t: int, k: int = 5) -> list[tuple[object, float]]:
        """The k most probable outputs at step t, as (token or index, probability); tokens
        when the head has one output per vocabulary token."""
        probs = self["probs"][t]
        order = np.argsort(-probs, kind="stable")[:k]
        vocabulary = self.model.vocabulary
        named = vocabulary is not None and len(vocabulary) == len(probs)
        return [(vocabulary[j] if named else int(j), float(probs[j])) for j in order]
