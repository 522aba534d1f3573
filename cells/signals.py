"""Signal descriptions: the one source the server, the page and the docs are generated from.

A cell step produces named vectors (the DESIGN vocabulary). Each kind describes them here:
what they are, their range, a label, the equation as the engine computes it, and how the
value is formed from other signals of the same step (``op`` and ``args``), so the page can
show ``f_t[3] = σ(1.27) = 0.781`` without doing any cell math itself.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

# Computation order inside one time step; the page's stage mode walks these in order.
STAGES = ("inputs", "gates", "forget", "write", "state", "output")

# How a value is formed from its args; display only (the engine computes the numbers).
OPS = (
    "input", "affine", "sigmoid", "tanh", "relu", "identity", "mul", "add",
    "one_minus_mul", "normalize", "scale",
)


@dataclass(frozen=True)
class Signal:
    name: str
    kind: str  # input | pre | gate | candidate | product | state | output
    label: str  # "_{...}" or "_x" mark subscripts: "c_{t−1}", "h_t"
    size: str  # "hidden" (H values) or "input" (I values)
    range: tuple[float, float] | None
    equation: str
    op: str
    args: tuple[str, ...]
    stage: str
    description: str

    def to_dict(self) -> dict:
        d = asdict(self)
        d["range"] = list(self.range) if self.range is not None else None
        d["args"] = list(self.args)
        return d


UNIT = (0.0, 1.0)
SIGNED = (-1.0, 1.0)


def _s(name, kind, label, equation, op, args=(), stage="gates", description="",
       size="hidden", range=None) -> Signal:
    return Signal(name, kind, label, size, range, equation, op, tuple(args), stage, description)


def _x() -> Signal:
    return _s("x", "input", "x_t", "x_t", "input", stage="inputs", size="input",
              description="the input at step t")


def _h_prev() -> Signal:
    return _s("h_prev", "input", "h_{t−1}", "h_{t−1}", "input", stage="inputs",
              description="the previous output, fed back")


def _c_prev() -> Signal:
    return _s("c_prev", "state", "c_{t−1}", "c_{t−1}", "input", stage="inputs",
              description="the previous cell state (the memory coming in)")


def rnn_signals(nonlinearity: str = "tanh") -> tuple[Signal, ...]:
    act = {"tanh": ("tanh", SIGNED), "relu": ("relu", None)}[nonlinearity]
    return (
        _x(), _h_prev(),
        _s("h_pre", "pre", "pre(h_t)", "W_{ih}·x_t + b_{ih} + W_{hh}·h_{t−1} + b_{hh}", "affine",
           description="the affine sum before the non-linearity"),
        _s("h", "output", "h_t",
           f"h_t = {act[0]}(W_{{ih}}·x_t + b_{{ih}} + W_{{hh}}·h_{{t−1}} + b_{{hh}})",
           act[0], ["h_pre"], stage="output", range=act[1],
           description="the new hidden state and output"),
    )


def _lstm_gate(letter: str, name: str, role: str, read: str,
               stage: str) -> tuple[Signal, Signal]:
    pre = _s(f"{letter}_pre", "pre", f"pre({letter}_t)", f"W_{letter}·{read} + b_{letter}",
             "affine", stage=stage, description=f"the {name} gate before the sigmoid")
    gate = _s(letter, "gate", f"{letter}_t", f"{letter}_t = σ(W_{letter}·{read} + b_{letter})",
              "sigmoid", [f"{letter}_pre"], stage=stage, range=UNIT,
              description=f"{name} gate: {role}")
    return pre, gate


def lstm_signals(peephole: bool = False) -> tuple[Signal, ...]:
    concat = "[h_{t−1}, x_t]"
    reads = {
        "i": concat + (" + p_i ⊙ c_{t−1}" if peephole else ""),
        "f": concat + (" + p_f ⊙ c_{t−1}" if peephole else ""),
        "o": concat + (" + p_o ⊙ c_t" if peephole else ""),
    }
    i_pre, i = _lstm_gate("i", "input", "how much of the candidate is written", reads["i"], "gates")
    f_pre, f = _lstm_gate("f", "forget", "how much of c_{t−1} is kept", reads["f"], "gates")
    # With peepholes the output gate looks at the new c_t, so it can only open after c_t.
    o_stage = "output" if peephole else "gates"
    o_pre, o = _lstm_gate("o", "output", "how much of tanh(c_t) is shown as h_t", reads["o"],
                          o_stage)
    g_pre = _s("g_pre", "pre", "pre(c̃_t)", f"W_c·{concat} + b_c", "affine",
               description="the candidate before the tanh")
    g = _s("g", "candidate", "c̃_t", f"c̃_t = tanh(W_c·{concat} + b_c)", "tanh", ["g_pre"],
           range=SIGNED, description="candidate: the new value that may be written")
    gates = (i_pre, f_pre, g_pre, i, f, g) + ((o_pre, o) if not peephole else ())
    tail = ((o_pre, o) if peephole else ())
    return (
        _x(), _h_prev(), _c_prev(), *gates,
        _s("kept", "product", "f_t ⊙ c_{t−1}", "f_t ⊙ c_{t−1}", "mul", ["f", "c_prev"],
           stage="forget", description="what the forget valve lets through of the old memory"),
        _s("written", "product", "i_t ⊙ c̃_t", "i_t ⊙ c̃_t", "mul", ["i", "g"], stage="write",
           description="what the input valve lets in of the candidate"),
        _s("c", "state", "c_t", "c_t = f_t ⊙ c_{t−1} + i_t ⊙ c̃_t", "add", ["kept", "written"],
           stage="state", description="the new cell state (the memory going out)"),
        *tail,
        _s("tanh_c", "output", "tanh(c_t)", "tanh(c_t)", "tanh", ["c"], stage="output",
           range=SIGNED, description="the cell state squashed to [−1, 1]"),
        _s("h", "output", "h_t", "h_t = o_t ⊙ tanh(c_t)", "mul", ["o", "tanh_c"], stage="output",
           range=SIGNED, description="the new hidden state and output"),
    )


def gru_signals(reset_after: bool = True) -> tuple[Signal, ...]:
    concat = "[h_{t−1}, x_t]"
    r_pre = _s("r_pre", "pre", "pre(r_t)", f"W_r·{concat} + b_r", "affine",
               description="the reset gate before the sigmoid")
    z_pre = _s("z_pre", "pre", "pre(z_t)", f"W_z·{concat} + b_z", "affine",
               description="the update gate before the sigmoid")
    r = _s("r", "gate", "r_t", f"r_t = σ(W_r·{concat} + b_r)", "sigmoid", ["r_pre"], range=UNIT,
           description="reset gate: how much of h_{t−1} the candidate sees")
    z = _s("z", "gate", "z_t", f"z_t = σ(W_z·{concat} + b_z)", "sigmoid", ["z_pre"], range=UNIT,
           description="update gate: how much of h_{t−1} is kept")
    if reset_after:
        # PyTorch / ONNX linear_before_reset=1: r scales the recurrent product, after the matmul.
        n_eq = "W_{in}·x_t + b_{in} + r_t ⊙ (W_{hn}·h_{t−1} + b_{hn})"
        reset = (
            _s("n_rec", "pre", "W_{hn}·h_{t−1} + b_{hn}", "W_{hn}·h_{t−1} + b_{hn}", "affine",
               description="the recurrent part of the candidate, before the reset gate"),
            _s("n_rec_reset", "product", "r_t ⊙ (W_{hn}·h_{t−1} + b_{hn})",
               "r_t ⊙ (W_{hn}·h_{t−1} + b_{hn})", "mul", ["r", "n_rec"],
               description="the reset gate applied after the matmul"),
        )
    else:
        # Cho et al. 2014 / seed 004 / ONNX linear_before_reset=0: r gates h_{t−1} first.
        n_eq = "W_{in}·x_t + b_{in} + W_{hn}·(r_t ⊙ h_{t−1}) + b_{hn}"
        reset = (
            _s("h_reset", "product", "r_t ⊙ h_{t−1}", "r_t ⊙ h_{t−1}", "mul", ["r", "h_prev"],
               description="the reset gate applied to h_{t−1} before the matmul"),
        )
    return (
        _x(), _h_prev(), r_pre, z_pre, r, z, *reset,
        _s("n_pre", "pre", "pre(n_t)", n_eq, "affine", description="the candidate before the tanh"),
        _s("n", "candidate", "n_t", f"n_t = tanh({n_eq})", "tanh", ["n_pre"], range=SIGNED,
           description="candidate: the new value that may replace h_{t−1}"),
        _s("kept", "product", "z_t ⊙ h_{t−1}", "z_t ⊙ h_{t−1}", "mul", ["z", "h_prev"],
           stage="forget", description="what the update gate keeps of the old state"),
        _s("written", "product", "(1 − z_t) ⊙ n_t", "(1 − z_t) ⊙ n_t", "one_minus_mul", ["z", "n"],
           stage="write", description="what the update gate lets in of the candidate"),
        _s("h", "output", "h_t", "h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t−1}", "add",
           ["kept", "written"], stage="state", range=SIGNED,
           description="the new hidden state and output"),
    )


def seed004_signals(variant: str) -> tuple[Signal, ...]:
    """prototype / normalized / pseudo LSTM of seed 004; the state s is named c."""
    pseudo = variant == "pseudo"
    read_label = "tanh(c_{t−1})" if pseudo else "c_{t−1}"
    read = _s("read", "state", read_label, read_label, "tanh" if pseudo else "identity",
              ["c_prev"], description="the state as the gates read it"
              + (" (squashed)" if pseudo else ""))
    roles = (("i", "write", "how much of the candidate is written"),
             ("f", "forget", "how much of c_{t−1} is kept"),
             ("o", "read", "how much of the state the candidate sees"))
    pres, gates = [], []
    for letter, name, role in roles:
        affine = f"W_{letter}·{read_label} + U_{letter}·x_t + b_{letter}"
        pres.append(_s(f"{letter}_pre", "pre", f"pre({letter}_t)", affine, "affine",
                       description=f"the {name} gate before the sigmoid"))
        gates.append(_s(letter, "gate", f"{letter}_t", f"{letter}_t = σ({affine})", "sigmoid",
                        [f"{letter}_pre"], range=UNIT, description=f"{name} gate: {role}"))
    g_eq = f"W·(o_t ⊙ {read_label}) + U·x_t + b"
    c_sum = "f_t ⊙ c_{t−1} + i_t ⊙ c̃_t"
    if variant == "normalized":
        state = (
            _s("c_raw", "state", "ĉ_t", f"ĉ_t = {c_sum}", "add", ["kept", "written"],
               stage="state", description="the new state before normalisation"),
            _s("c_scale", "state", "√(var(ĉ_t) + 1)",
               "√(var(ĉ_t) + 1)  (variance over the units)", "scale", ["c_raw"], stage="state",
               description="the divisor that bounds the state (one value, shown per unit)"),
            _s("c", "state", "c_t", "c_t = ĉ_t / √(var(ĉ_t) + 1)", "normalize",
               ["c_raw", "c_scale"], stage="state", description="the new, normalised state"),
        )
    else:
        state = (_s("c", "state", "c_t", f"c_t = {c_sum}", "add", ["kept", "written"],
                    stage="state", description="the new state"),)
    out = (_s("h", "output", "h_t", "h_t = tanh(c_t)", "tanh", ["c"], stage="output", range=SIGNED,
              description="the output: the squashed state")
           if pseudo else
           _s("h", "output", "h_t", "h_t = c_t", "identity", ["c"], stage="output",
              description="the output is the state itself"))
    return (
        _x(), _c_prev(), read, *pres, *gates,
        _s("read_gated", "product", f"o_t ⊙ {read_label}", f"o_t ⊙ {read_label}", "mul",
           ["o", "read"], description="the gated prior state the candidate is computed from"),
        _s("g_pre", "pre", "pre(c̃_t)", g_eq, "affine", description="the candidate before the tanh"),
        _s("g", "candidate", "c̃_t", f"c̃_t = tanh({g_eq})", "tanh", ["g_pre"], range=SIGNED,
           description="candidate write"),
        _s("kept", "product", "f_t ⊙ c_{t−1}", "f_t ⊙ c_{t−1}", "mul", ["f", "c_prev"],
           stage="forget", description="what the forget gate keeps of the old state"),
        _s("written", "product", "i_t ⊙ c̃_t", "i_t ⊙ c̃_t", "mul", ["i", "g"], stage="write",
           description="what the write gate lets in of the candidate"),
        *state, out,
    )
