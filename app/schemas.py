"""Every message the API takes or gives, as pydantic models (they are also the OpenAPI docs).

Families in the full-stack-fastapi-template style: `SessionCreate` in, `SessionPublic` out.
Limits that depend on Settings (sizes, steps) are checked by the session service, so the
schema states only the fixed bounds.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_serializer,
)
from pydantic_core import PydanticCustomError

import cells
from cells.models.model import ACTIVATIONS, DIRECTIONS
from cells.params import DTYPES

Floats = Annotated[list[Annotated[float, Field(allow_inf_nan=False)]], Field(min_length=1)]
CellKind = Literal[cells.KINDS]  # the engine's kinds, listed in the OpenAPI schema
MAX_SEED = 2**63 - 1  # seeds are stored as signed 64-bit integers
MAX_ITEMS = 1000  # held signals, and weight edits, per session
# GET /api/sessions/{id} gives the numbers of a sequence back up to this many; beyond, it
# says how many rows and columns there are (the page cannot show a bigger table anyway).
MAX_SHOWN_VALUES = 200_000
# The engine's names, asked for once: a model part's direction, a dtype, a head's activation
Direction = Literal[DIRECTIONS]
Dtype = Literal[tuple(DTYPES)]
HeadKind = Literal[ACTIVATIONS]
StateOf = Literal["h", "c"]  # the state a sensitivity differentiates (c where a kind has it)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- sequences ------------------------------------------------------------------------------
class TextSequence(_Strict):
    """Characters as a reader sees them (graphemes: "é" as e + U+0301, an emoji with its
    skin tone, a flag), one step each, one-hot encoded over the preset's vocabulary (or the
    session's vocabulary, derived from the first text when there is no preset)."""

    text: str = Field(min_length=1, examples=["count (the (nested) brackets)"])


class ValuesSequence(_Strict):
    """One row of `input_size` numbers per step. NaN and Infinity are refused."""

    values: list[Floats] = Field(min_length=1, examples=[[[0.0, 1.0], [1.0, 0.0]]])


class CsvSequence(_Strict):
    """CSV text: one row per step, one column per input feature; an optional header row
    (detected when its first row is not all numbers). Parsed as numbers, never evaluated."""

    csv: str = Field(min_length=1, examples=["a,b\n0,1\n1,0\n"])


def _sequence_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        present = [key for key in ("text", "values", "csv") if key in value]
        return present[0] if len(present) == 1 else None
    if isinstance(value, BaseModel):
        return next(k for k in ("text", "values", "csv") if hasattr(value, k))
    return None


Sequence = Annotated[
    Annotated[TextSequence, Tag("text")]
    | Annotated[ValuesSequence, Tag("values")]
    | Annotated[CsvSequence, Tag("csv")],
    Discriminator(
        _sequence_kind,
        custom_error_type="sequence_kind",
        custom_error_message='give exactly one of "text", "values" or "csv"',
    ),
]

# rnn: {"nonlinearity": "tanh"|"relu"}, gru: {"reset_after": bool}, slstm: {"heads": int}
Options = dict[str, bool | int | str]
# Asked-for options: names and values are checked against the kind (a 422 naming them).
OptionsIn = dict[str, Any]


# -- sessions -------------------------------------------------------------------------------
class _ModelCellItem(BaseModel):
    """An item that names its cell by `layer` and `direction`, layer 0 forward by default
    (each subclass declares both fields, with its own description). A single cell's
    session is the one-part model: its items name that part like any model's."""

    def as_item(self) -> dict:
        """The item as the engine reads it, with its layer and direction."""
        return self.model_dump()


class InterventionIn(_ModelCellItem):
    """Hold `signal` (a gate, candidate or state of the kind) at `value` for steps
    start <= s < stop, at `units` (null: every unit). Checked against the kind by the
    engine; a wrong item is a 422 naming it. `layer` (default 0) and `direction` (default
    forward) name the cell that holds it (a single cell's session has only 0, forward), and
    start/stop are that cell's steps (a backward cell's step k reads time T−1−k)."""

    model_config = ConfigDict(extra="forbid", strict=True)  # "1" is not a number here
    signal: str = Field(examples=["f"])
    start: int = Field(ge=0)
    stop: int = Field(ge=1)
    units: list[int] | None = Field(None, examples=[[0]])
    value: float = Field(allow_inf_nan=False, examples=[1.0])
    layer: int = Field(0, ge=0, description="the cell's layer (a single cell is layer 0)")
    direction: str = Field("forward", max_length=40, examples=["forward"],
                           description="the cell's direction (a single cell's is forward)")


class WeightEditIn(_ModelCellItem):
    """Set one weight of the cell: `param`[`row`, `col`] (`col` null or left out for a 1-D
    parameter: a bias, a peephole) = `value`. The cell changes, so the edit applies to
    every step. Checked against the cell's parameters by the engine; a wrong item is a 422
    naming it. `layer` (default 0) and `direction` (default forward) name the cell whose
    weight it is (a single cell's session has only 0, forward; a model's head and embedding
    are not editable)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    param: str = Field(examples=["weight_hh"])
    row: int = Field(ge=0, description="rows of weight_ih/weight_hh and the biases come in "
                                       "gate blocks of hidden_size rows (the session's "
                                       "`params` lists them)")
    col: int | None = Field(None, ge=0, examples=[0])
    value: float = Field(allow_inf_nan=False, examples=[0.5])
    layer: int = Field(0, ge=0, description="the cell's layer (a single cell is layer 0)")
    direction: str = Field("forward", max_length=40, examples=["forward"],
                           description="the cell's direction (a single cell's is forward)")


class StartStateIn(_Strict):
    """A run's starting state (zeros by default), as PyTorch takes h0 and c0: one row per
    layer and direction (layer by layer, forward before backward); a single cell's may be
    one row."""

    h: list[float] | list[list[float]] | None = Field(None, examples=[[0.1, -0.2, 0.0, 0.3]])
    c: list[float] | list[list[float]] | None = Field(None, description="LSTM cells only")

    @field_validator("h", "c", mode="before")
    @classmethod
    def _numbers(cls, value: Any) -> Any:
        """Say which value of which row is not a number (not both readings of the union)."""
        if value is None or not isinstance(value, list):
            return value
        nested = bool(value) and all(isinstance(row, list) for row in value)
        for r, row in enumerate(value if nested else [value]):
            for k, item in enumerate(row):
                if isinstance(item, bool) or not isinstance(item, (int, float)):
                    where = f"row {r}, value {k}" if nested else f"value {k}"
                    raise PydanticCustomError(
                        "state_number", "{where} ({item}) is not a number; give numbers, one "
                        "row per layer and direction", {"where": where,
                                                        "item": repr(item)[:40]})
        return value


class SessionCreate(_Strict):
    """A cell, its weights (one of `preset`, `seed`, `weights_id`; `seed` 0 when none is
    given) and a sequence. A preset fixes the cell and both sizes; uploaded weights fix the
    sizes; text fixes input_size to its vocabulary's length."""

    cell: CellKind | None = Field(None, examples=["lstm"], description="cell kind; default lstm")
    preset: str | None = Field(None, examples=["counter"])
    seed: int | None = Field(None, ge=0, le=MAX_SEED)
    weights_id: str | None = Field(None, pattern=r"^[0-9a-f]{64}$",
                                   description="sha256 from POST /api/weights")
    input_size: int | None = Field(None, ge=1)
    hidden_size: int | None = Field(None, ge=1)
    options: OptionsIn = Field(default_factory=dict, examples=[{"reset_after": False}],
                               description="options of the kind (GET /api/cells lists them)")
    dtype: Dtype = "float32"
    sequence: Sequence
    state: StartStateIn | None = Field(None, description="the starting state, e.g. a "
                                                         "decoder's (default zeros)")
    interventions: list[InterventionIn] = Field(
        default_factory=list, max_length=MAX_ITEMS,
        examples=[[{"signal": "f", "start": 10, "stop": 20, "units": None, "value": 1.0}]],
        description="signals held at a value (what if); part of the session")
    weight_edits: list[WeightEditIn] = Field(
        default_factory=list, max_length=MAX_ITEMS,
        examples=[[{"param": "weight_hh", "row": 3, "col": 1, "value": 0.5}]],
        description="weights changed (what if); in a model session each names its "
                    "cell's layer and direction; part of the session")


class SignalPublic(BaseModel):
    name: str
    kind: str
    label: str
    # "shaped": its per-step shape is `shape` (a Mamba's E channels, N states, E × N)
    size: Literal["hidden", "input", "projection", "shaped"]
    shape: list[str] = Field(default_factory=list,
                             description='per step, as dimension names: ["H"], ["E", "N"]')
    range: list[float] | None
    equation: str
    op: str
    args: list[str]
    stage: str
    description: str


class HeadPublic(BaseModel):
    """A model's head: logits = W·y + b on the last layer's output, then the activation."""

    kind: HeadKind
    outputs: int
    labels: list[str] = Field(description="one per output: the vocabulary's tokens, else "
                                          "the output indices")


class ParamPublic(BaseModel):
    """One canonical parameter of the session's cell."""

    name: str = Field(examples=["weight_hh"])
    shape: list[int]
    blocks: list[str] | None = Field(description="the gate letters of the rows' blocks of "
                                                 "hidden_size rows, in order; null: one row "
                                                 "per unit")
    columns: Literal["input", "hidden", "channel", "rank", "tap", "state"] | None = Field(
        description="what a column indexes; null for a 1-D parameter")
    rows: str | None = Field(None, description="what a row indexes where it is not a gate "
                                               "block's unit (a Mamba's channel, output); "
                                               "absent for gate-block kinds")

    @model_serializer(mode="wrap")
    def _without_empty_rows(self, handler):
        # `rows` is said only by kinds whose rows are not gate blocks, so every other kind's
        # parameters read as they always have
        out = handler(self)
        if out.get("rows") is None:
            out.pop("rows", None)
        return out


class BlockPublic(BaseModel):
    """The non-recurrent parts around one layer's cell in a residual language model
    (cells.models.blocks): the stream in, an optional causal convolution added to it, the
    norm the cell reads, the cell's output projected back, the residual add and an
    optional feed-forward."""

    parts: list[str] = Field(description="the parts it has, of conv, norm, out, ff_norm, ff")
    options: dict[str, Any] = Field(description="norm (rms or layer), eps, ff_activation, "
                                                "ff_gated")
    signals: list[str] = Field(description="the rows it makes, in order (block_in, conv, "
                                           "norm, cell_out, residual, ff, block_out)")
    width: int = Field(description="the residual stream's width E")
    names: list[str] = Field(description="the trace route's names of those rows: "
                                         "`block.` + signal, by time, for this layer")


class ModelCellPublic(BaseModel):
    direction: Direction
    kind: str
    options: Options
    input_size: int
    hidden_size: int
    output_size: int
    proj_size: int | None = Field(None, description="an LSTM with proj_size: h has this "
                                                    "many values (h = W_hr·m, m has H)")
    dims: dict[str, int] | None = Field(None, description="a cell whose signals have several "
                                                          "sizes (Mamba): each dimension a "
                                                          "signal's shape names, e.g. E, N")
    signals: list[SignalPublic]
    stages: list[str] = Field(default_factory=list, description="its stages, in computation "
                                                                "order")
    holdable: list[str] = Field(default_factory=list,
                                description="the signals an intervention in this cell may hold")
    params: list[ParamPublic] = Field(
        default_factory=list, description="this cell's parameters a weight edit may change "
                                          "(empty for an LSTM with proj_size)")
    state_sizes: dict[str, int] = Field(
        default_factory=dict, description='the starting state this cell takes: {"h": width, '
                                          '"c": width} (only the states it has); its row of '
                                          "`state` in POST /api/sessions")


class WeightPublic(BaseModel):
    """One weight of a session's cell: as the session uses it, and before its edits."""

    param: str
    row: int
    col: int | None
    value: float
    original: float


class SessionPublic(BaseModel):
    """The session as created (what a page needs to show its form)."""

    id: str
    cell: str
    options: Options = Field(description="every option of the kind, as used")
    dtype: Dtype
    input_size: int
    hidden_size: int
    steps: int
    signals: list[SignalPublic]
    vocabulary: str | list[str] | None = Field(
        description="tokens of the one-hot input, for text: a str when each is one code "
                    "point, else a list of graphemes")
    sequence: dict[str, Any] = Field(
        description='as given: {"text": str}, {"values": [[float]]} or {"csv": str}; for '
                    f'sequences of more than {MAX_SHOWN_VALUES:,} numbers {{"rows", "columns"}} '
                    'instead. '
                    'Text a whole model splits into words or subwords also has "tokens": '
                    'the text of each step. '
                    'Text one step per grapheme also has "clusters": [[step, code points]] '
                    "for each step of more than one code point (absent when every step is "
                    "one)")
    weights: dict[str, Any] = Field(description='{"preset": name} | {"seed": int} | the '
                                                "upload's record (WeightsPublic)")
    seed: int | None = Field(None, description="the seed, for seeded weights")
    preset: str | None = Field(None, description="the preset's name, for a preset")
    layers: int = Field(1, description="recurrent layers (1 for a single cell)")
    directions: list[Direction] = Field(
        default_factory=lambda: ["forward"], description="directions some layer runs in")
    head: HeadPublic | None = Field(None, description="the model's output layer, if any")
    cells: list[list[ModelCellPublic]] = Field(
        default_factory=list, description="[layer] -> one cell per direction, forward first")
    parts: list[dict[Direction, ModelCellPublic]] = Field(
        default_factory=list, description="[layer] -> {direction: part}: the same records as "
                                          "`cells`, by direction (a single cell is one layer, "
                                          "forward)")
    blocks: list[BlockPublic | None] = Field(
        default_factory=list, description="[layer] -> the parts around its cell in a "
                                          "residual language model, or null")
    final_norm: str | None = Field(None, description="the norm before the head (rms or "
                                                     "layer), or null")
    interventions: list[dict[str, Any]] = Field(
        default_factory=list, description="the held signals, as checked")
    reserved_tokens: list[str] = Field(
        default_factory=list, description="a character vocabulary's reserved tokens (<pad>, "
                                           "</s>): each is one step when typed whole")
    state: dict[str, list[list[float]] | list[float]] | None = Field(
        None, description='the starting state as given ({"h": rows, "c": rows}, one row per '
                          "layer and direction); null: zeros")
    holdable: list[str] = Field(default_factory=list,
                                description="the signals an intervention may hold")
    weight_edits: list[dict[str, Any]] = Field(
        default_factory=list, description="the changed weights, as checked (by parameter, "
                                          "row, column; in a model session by layer and "
                                          "direction first, each with its layer and "
                                          "direction)")
    params: list[ParamPublic] = Field(
        default_factory=list, description="the cell's parameters a weight edit may change "
                                          "(empty for a model session: each of its `cells` "
                                          "lists its own)")
    parallel_max_abs_diff: float | None = Field(
        None, description="for a kind with a parallel form (min_gru, min_lstm): the largest "
                          "|parallel − step by step| over every signal and step of the "
                          "session's cell and inputs; null otherwise")


class SensitivityPublic(BaseModel):
    """‖∂ of_t[unit] / ∂ v_s‖₂ for v = x, h, c and s in [start, t] (one number per step;
    `c` is null for kinds without a cell state)."""

    start: int
    t: int
    unit: int
    of: StateOf
    x: list[float]
    h: list[float]
    c: list[float] | None


class HiddenAttentionPublic(BaseModel):
    """Mamba's hidden attention ("The Hidden Attention of Mamba Models", Ali, Zimerman and
    Wolf 2024) of one channel over steps [start, t]: weights[t′ − start][s − start] is the
    exact linear weight of x_conv_s[channel] in y_t′[channel] (0 for s > t′; D on the
    diagonal); from_state what the state before `start` adds, so y = weights·x +
    from_state."""

    start: int
    t: int
    channel: int
    layer: int
    direction: str
    weights: list[list[float]]
    from_state: list[float]
    x: list[float]
    y: list[float]


SessionAppend = Sequence  # POST /api/sessions/{id}/append takes one more piece of sequence


class TraceWindow(BaseModel):
    start: int
    stop: int
    signals: dict[str, list[list[float | None]]] = Field(
        description="name -> one list of numbers per step (null only for an overflow)")


# -- catalogue ------------------------------------------------------------------------------
class CellKindPublic(BaseModel):
    kind: CellKind
    options: Options
    state: list[str]
    option_values: dict[str, list[bool | int | str]]
    stages: list[str]  # the stages this kind's signals occupy, in computation order
    signals: list[SignalPublic]


class LimitsPublic(BaseModel):
    max_hidden_size: int
    max_input_size: int
    max_steps: int
    max_upload_bytes: int
    max_seed: int
    train: dict[str, int | float] | None = Field(None, description="caps of POST /api/train")


class StreamPublic(BaseModel):
    send_queue_frames: int = Field(description="frames the server keeps for a slow client")
    max_play_rate: float = Field(description='the largest {"play": steps_per_second}')


class CellsPublic(BaseModel):
    kinds: list[CellKindPublic]
    stages: list[str]  # the computation order of one step
    limits: LimitsPublic
    stream: StreamPublic


class PresetPublic(BaseModel):
    name: str
    description: str
    cell: str
    options: Options
    input_size: int
    hidden_size: int
    vocabulary: str
    sample: str
    start: int = 0  # the step of the sample where the preset's story begins
    unit_labels: list[str] = Field(default_factory=list)


class PresetsPublic(BaseModel):
    presets: list[PresetPublic]


# -- weights ---------------------------------------------------------------------------------
class ShownPart(BaseModel):
    layer: int
    direction: Direction


class WeightsPublic(BaseModel):
    """What an uploaded file holds."""

    weights_id: str
    cell: str
    options: Options = Field(description="the options the file itself states")
    open_options: list[str] = Field(description="options of the kind the file leaves open "
                                                "(a session uses its own or the default)")
    input_size: int
    hidden_size: int
    dtype: str
    filename: str = Field(description="the file's name as uploaded")
    layers: int = Field(description="recurrent layers in the file")
    directions: list[Direction]
    shown: ShownPart = Field(description="the part a session uses")
    bytes: int | None = Field(description="the file's size")
    model: dict[str, Any] | None = Field(
        None, description="a whole model (sessions of it run every layer): layers, "
                          "directions, head, encoding, vocabulary_size")
    notices: list[str] = Field(
        default_factory=list, description="what loading left out or changed, in words: the "
                                          "tensors left out by name, int8 weights read as float")
    state_sizes: list[dict[str, Any]] | None = Field(
        None, description='the starting state a session of it takes, one row per layer and '
                          'direction as `state` in POST /api/sessions: [{"layer", '
                          '"direction", "sizes": {"h": width, "c": width}}]')
    branch: str | None = Field(None, description="the branch of an ONNX If chosen by the "
                                                 "model's inputs that the upload is read by "
                                                 '("then", "else", or where Ifs nest a JSON '
                                                 'object {"by_rate": "then", "by_mode": '
                                                 '"else"})')
    branches: list[dict[str, Any]] | None = Field(
        None, description="an ONNX model whose If node chooses its branch by the model's "
                          "inputs: each branch, or each way through Ifs nested in branches "
                          "(name, node, condition, choice {If node: branch}, conditions, "
                          "kind, layers, directions, input_size, hidden_size, head_outputs, "
                          "summary, and `branch`: the text the upload's `branch` field "
                          "takes to read it)")


# -- errors ----------------------------------------------------------------------------------
class ErrorPublic(BaseModel):
    detail: str = Field(examples=["sequence.text: unknown character(s) for preset 'counter': 'é'"])
    field: str | None = Field(None, description="the request field at fault, when there is one")


# -- WebSocket messages ----------------------------------------------------------------------
class SeekMessage(_Strict):
    seek: int = Field(ge=0)


class StepMessage(_Strict):
    step: int


class PlayMessage(_Strict):
    play: float = Field(gt=0, allow_inf_nan=False, description="steps per second")


class PauseMessage(_Strict):
    pause: Literal[True]


def _message_kind(value: Any) -> str | None:
    if isinstance(value, dict) and len(value) == 1:
        key = next(iter(value))
        return key if key in ("seek", "step", "play", "pause") else None
    return None


ClientMessage = Annotated[
    Annotated[SeekMessage, Tag("seek")]
    | Annotated[StepMessage, Tag("step")]
    | Annotated[PlayMessage, Tag("play")]
    | Annotated[PauseMessage, Tag("pause")],
    Discriminator(
        _message_kind,
        custom_error_type="message_kind",
        custom_error_message='send one of {"seek": t}, {"step": ±n}, {"play": steps_per_second}'
                             ' or {"pause": true}',
    ),
]


# -- training jobs ---------------------------------------------------------------------------
TrainState = Literal["queued", "running", "done", "failed", "cancelled"]


class TrainCreate(_Strict):
    """A character model to train on `text` (next-character cross-entropy, as `gatescope
    train` does). Caps on steps, text length, sizes and wall time are the server's
    Settings (GET /api/cells lists them under `limits.train`)."""

    text: str = Field(min_length=2, examples=["count (the (nested) brackets) ((ok)) done"])
    cell: CellKind = Field("lstm", description="cell kind")
    hidden_size: int = Field(32, ge=1)
    layers: int = Field(1, ge=1)
    steps: int = Field(200, ge=1, description="Adam updates")
    seq_len: int = Field(32, ge=1)
    batch: int | None = Field(None, ge=1, description="streams read side by side; default 8, "
                                                     "fewer for a text too short for 8")
    lr: float = Field(3e-3, gt=0, le=10, allow_inf_nan=False)
    seed: int = Field(0, ge=0, le=2**32 - 1)


class TrainAccepted(BaseModel):
    job: str


class TrainJobPublic(BaseModel):
    job: str
    state: TrainState
    step: int = Field(description="steps done so far")
    steps: int = Field(description="steps asked for")
    loss: float | None = Field(description="the loss (nats) of the last step done")
    session: str | None = Field(description="the trained model's session, once done")
    error: str | None = Field(None, description="why the job failed, or why it stopped early")
