"""A model's trainable parameters as one flat, named set of arrays, and back to a Model.

Training updates arrays in place; a `cells.Model` holds read-only, checked cells. `Network`
sits between: it copies a model's arrays once (embedding, each cell's canonical parameters,
the head), names them ("encoder.embedding", "layers.0.forward.weight_ih", "head.weight"),
keeps each cell's prepared (internal-layout) weights in step with them, and builds a new
Model from them when asked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..kinds import spec_for
from ..models.encoder import Encoder, tokenizer_of
from ..models.model import Head, Layer, Model


@dataclass
class CellParams:
    """One cell's kind, options and parameters (canonical names), with its prepared weights."""

    spec: object
    options: dict
    params: dict  # canonical name -> writable array
    # Built on first use after a change: training's batched LSTM reads `params` and never
    # asks, so a step does not prepare weights nobody reads.
    _prepared: object = None

    @property
    def prepared(self):
        """The internal-layout weights (a dict), or for a kind with its own cell that cell."""
        if self._prepared is None:
            self._prepared = self._prepare()
        return self._prepared

    @property
    def own(self) -> bool:
        """A kind with its own cell (Mamba): its `prepared` is that cell, built anew."""
        return self.spec.own_cell

    @property
    def hidden_size(self) -> int:
        if self.own:
            return self.prepared.hidden_size
        return self.params["weight_ih"].shape[0] // self.spec.gates

    @property
    def names(self) -> tuple[str, ...]:
        """The signals the kind records (to know whether it has a `c` to take gradients of)."""
        return tuple(s.name for s in self.spec.describe(**self.options))

    def refresh(self) -> None:
        """Say the canonical weights changed: the internal-layout ones are made again when
        next asked for."""
        self._prepared = None

    def _prepare(self):
        if self.own:
            from ..cell import create

            dtype = next(iter(self.params.values())).dtype.name
            return create(self.spec.name, params=self.params, dtype=dtype, **self.options)
        return self.spec.prepare(self.params, self.options, self.hidden_size)


class Network:
    """The trainable side of a Model: encoder, layers × directions of cells, head."""

    def __init__(self, model: Model):
        if any(layer.block is not None for layer in model.stack) or model.final_norm:
            raise ValueError("training a residual language model (blocks around its cells, "
                             "a final norm) is not supported; train its cells one by one")
        for index, layer in enumerate(model.stack):
            for direction, cell in layer.cells.items():
                if not hasattr(cell, "spec"):
                    raise ValueError(f"layer {index} {direction} is a {type(cell).__name__}; "
                                     "training supports the engine's cell kinds only")
        self.dtype = model.dtype
        self.encoder = model.encoder
        self.returns = model.returns
        self.layers = [
            {d: CellParams(cell.spec, dict(cell.options),
                           {k: np.array(v, self.dtype) for k, v in cell.params.items()})
             for d, cell in layer.cells.items()}
            for layer in model.stack]
        self.reverse_output = [layer.reverse_output for layer in model.stack]
        emb = model.encoder.embedding
        self.embedding = None if emb is None else np.array(emb, self.dtype)
        head = model.head
        self.head_activation = None if head is None else head.activation
        self.head_weight = None if head is None else np.array(head.weight, self.dtype)
        self.head_bias = None if head is None else np.array(head.bias, self.dtype)
        self._buffers: dict = {}
        for layer in self.layers:
            for cell in layer.values():
                _ = cell.prepared  # made now, so a model the kind refuses fails here

    @property
    def bidirectional(self) -> bool:
        return any(len(layer) > 1 or "forward" not in layer for layer in self.layers)

    def named(self) -> dict[str, np.ndarray]:
        """Every trainable array by name, in a fixed order (the order Adam and clipping use)."""
        out = {}
        if self.embedding is not None:
            out["encoder.embedding"] = self.embedding
        for index, layer in enumerate(self.layers):
            for direction, cell in layer.items():
                for name, value in cell.params.items():
                    out[f"layers.{index}.{direction}.{name}"] = value
        if self.head_weight is not None:
            out["head.weight"], out["head.bias"] = self.head_weight, self.head_bias
        return out

    def buffer(self, key, shape: tuple) -> np.ndarray:
        """A row buffer for `key` (a cell), reused from window to window while the shape
        stays: a fresh array of several MB per step costs page faults, not arithmetic. The
        previous window's tape must be done with before the next forward."""
        buf = self._buffers.get(key)
        if buf is None or buf.shape != shape:
            buf = self._buffers[key] = np.empty(shape, self.dtype)
        return buf

    def refresh(self) -> None:
        for layer in self.layers:
            for cell in layer.values():
                cell.refresh()

    def to_model(self) -> Model:
        """A new cells.Model holding copies of the current parameters."""
        from ..cell import create

        stack = []
        for layer, reverse in zip(self.layers, self.reverse_output, strict=True):
            cells = {d: create(c.spec.name, params={k: v.copy() for k, v in c.params.items()},
                               dtype=self.dtype.name, **c.options) for d, c in layer.items()}
            stack.append(Layer(cells, reverse_output=reverse))
        enc = self.encoder
        encoder = Encoder(enc.encoding, enc.width, enc.vocabulary, enc.tokenizer,
                          None if self.embedding is None else self.embedding.copy())
        head = None if self.head_weight is None else Head(
            self.head_weight.copy(), self.head_bias.copy(), self.head_activation)
        return Model(stack, encoder, head, returns=self.returns)


def glorot(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    bound = np.sqrt(6.0 / (rows + cols))
    return rng.uniform(-bound, bound, (rows, cols))


def char_model(kind: str, vocabulary, hidden_size: int, layers: int = 1, seed: int = 0,
               dtype="float32", **options) -> Model:
    """A character model ready to train: one-hot characters over `vocabulary` → `layers`
    cells of `kind` (forward only, each Xavier-initialised from its own seed) → a softmax
    head over the vocabulary that predicts the next character (Karpathy, Johnson and
    Fei-Fei 2015, "Visualizing and Understanding Recurrent Networks", train such models).
    `options` are the kind's (e.g. reset_after=False, nonlinearity="relu")."""
    from ..cell import create
    from ..models.encoder import vocabulary_tokens
    from ..params import check_size

    spec_for(kind)
    tokens = vocabulary_tokens(vocabulary)
    if len(tokens) < 2:
        raise ValueError(f"a vocabulary needs at least 2 tokens, got {len(tokens)}")
    H = check_size("hidden_size", hidden_size)
    L = check_size("layers", layers)
    seed = check_size("seed", seed, low=0)
    V = len(tokens)
    # One seed per part, derived from `seed`: layers and head never share a random stream.
    seeds = np.random.SeedSequence(seed).generate_state(L + 1)
    stack = [{"forward": create(kind, input_size=V if index == 0 else H, hidden_size=H,
                                seed=int(seeds[index]), dtype=dtype, **options)}
             for index in range(L)]
    rng = np.random.default_rng(int(seeds[L]))
    tokenizer = tokenizer_of(tokens)
    head = Head(glorot(rng, V, H).astype(dtype), np.zeros(V, dtype), "softmax")
    return Model(stack, Encoder("one_hot", V, tokens, tokenizer), head)
