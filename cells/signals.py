"""Signal descriptions: the one source the server, the page and the docs are generated from.

A cell step produces named vectors (the signal vocabulary). Each kind describes its own in
its module under cells/kinds/, with the pieces here: what they are, their range, a label,
the equation as the engine computes it, and how the value is formed from other signals of
the same step (``op`` and ``args``), so the page can show ``f_t[3] = σ(1.27) = 0.781``
without doing any cell math itself.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

# Computation order inside one time step; the page's stage mode walks these in order.
# "projection" is the step after the output of an LSTM with proj_size (h_t = W_hr·m_t).
STAGES = ("inputs", "gates", "forget", "write", "state", "output", "projection")

# How a value is formed from its args; display only (the engine computes the numbers).
OPS = (
    "input", "affine", "sigmoid", "tanh", "relu", "identity", "mul", "add",
    "one_minus_mul", "normalize", "scale",
    # after the LSTM: minGRU/minLSTM's positive g and balance share; sLSTM's exponential
    # gates, stabilizer, normalizer and normalized read-out
    "positive_g", "share", "exp_minus", "stabilized_forget", "max_log", "mul_add", "mul_div",
    # mLSTM: the memory written by v kᵀ, the normalizer's key sum, the query's read-out
    "outer_write", "key_sum", "query_read",
    # Mamba: the causal depthwise conv, SiLU, softplus, exp(Δ ⊗ A), (Δ ⊙ u) ⊗ B, h·C + D ⊙ u
    "depthwise_conv", "silu", "softplus", "exp_scale", "outer", "read_out",
    "mean_log_decay", "write_norm",
)
# A signal's shape per step by its size, where the kind does not give one (dimension names:
# the sizes a session reports)
SHAPE_OF_SIZE = {"hidden": ("H",), "input": ("I",), "projection": ("P",)}


def chosen_names(names, known, kind: str) -> tuple[str, ...]:
    """The signals a trace window asks for (all of `known` for None), each one of `known`,
    or a ValueError naming the unknown ones and the kind's."""
    names = tuple(known) if names is None else tuple(names)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown signal(s) {unknown} for a {kind}; known: {list(known)}")
    return names


def stages_of(signals) -> list[str]:
    """The stages some of `signals` occupy, in computation order (a kind's stage buttons)."""
    present = {s.stage for s in signals}
    return [stage for stage in STAGES if stage in present]


@dataclass(frozen=True)
class Signal:
    name: str
    kind: str  # input | pre | gate | candidate | product | state | output
    label: str  # "_{...}" or "_x" mark subscripts: "c_{t−1}", "h_t"
    size: str  # "hidden" (H values), "input" (I values) or "projection" (P values, proj_size)
    range: tuple[float, float] | None
    equation: str
    op: str
    args: tuple[str, ...]
    stage: str
    description: str
    # per step, as dimension names (("E", "N") for a matrix); None: from size (SHAPE_OF_SIZE)
    shape: tuple[str, ...] | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["shape"] = list(self.shape or SHAPE_OF_SIZE.get(self.size, ("H",)))
        d["range"] = list(self.range) if self.range is not None else None
        d["args"] = list(self.args)
        return d


UNIT = (0.0, 1.0)
SIGNED = (-1.0, 1.0)


def signal(name, kind, label, equation, op, args=(), stage="gates", description="",
           size="hidden", range=None, shape=None) -> Signal:
    """A Signal with the common defaults: H wide, computed among the gates, unbounded."""
    return Signal(name, kind, label, size, range, equation, op, tuple(args), stage, description,
                  None if shape is None else tuple(shape))


def x_input() -> Signal:
    return signal("x", "input", "x_t", "x_t", "input", stage="inputs", size="input",
                  description="the input at step t")


def h_prev_input() -> Signal:
    return signal("h_prev", "input", "h_{t−1}", "h_{t−1}", "input", stage="inputs",
                  description="the previous output, fed back")


def c_prev_input() -> Signal:
    return signal("c_prev", "state", "c_{t−1}", "c_{t−1}", "input", stage="inputs",
                  description="the previous cell state (the memory coming in)")


def gate(letter: str, name: str, role: str, read: str, stage: str) -> tuple[Signal, Signal]:
    """A sigmoid gate and its pre-activation: (`letter`_pre, `letter`)."""
    pre = signal(f"{letter}_pre", "pre", f"pre({letter}_t)", f"W_{letter}·{read} + b_{letter}",
                 "affine", stage=stage, description=f"the {name} gate before the sigmoid")
    value = signal(letter, "gate", f"{letter}_t",
                   f"{letter}_t = σ(W_{letter}·{read} + b_{letter})", "sigmoid",
                   [f"{letter}_pre"], stage=stage, range=UNIT,
                   description=f"{name} gate: {role}")
    return pre, value
