"""Mamba's selective-SSM mixer (Gu and Dao 2023, "Mamba: Linear-Time Sequence Modeling with
Selective State Spaces"), as the reference implementations compute it (mamba_ssm's
`Mamba`, mambapy's `MambaBlock`):

    [x_in, z] = W_in·x_t + b_in                         (E channels each, E = expand·H)
    x_conv    = SiLU(Σ_k w[·, k] ⊙ x_in_{t−K+1+k} + b_conv)   (causal depthwise conv, K taps)
    [δ, B, C] = W_x·x_conv                              (dt_rank, N, N values)
    Δ         = softplus(W_dt·δ + b_dt)                 (E: one step size per channel)
    A         = −exp(A_log)                             (E × N, fixed)
    decay     = exp(Δ ⊗ A)       write = (Δ ⊙ x_conv) ⊗ B         (E × N)
    h_t       = decay ⊙ h_{t−1} + write                 (N states per channel)
    y         = h_t·C + D ⊙ x_conv      gate = SiLU(z)
    out       = W_out·(y ⊙ gate) + b_out                (H values)

Δ is the selectivity knob: one number per channel, chosen by the input, that at once opens
the write (Δ·B·x) and closes the retention (exp(ΔA) → 0 as Δ grows). The state is the
conv's delay line (the last K − 1 values of x_in) and h (E × N).

Sizes: input_size I and hidden_size H (the mixer's output, d_model; I = H in a Mamba
block), E = expand·H channels, N = d_state states per channel, R = dt_rank (ceil(H/16)
for "auto", as mambapy and mamba_ssm choose it), K = d_conv taps.

Canonical parameters are the reference modules' tensors under flat names: in_proj_weight
(2E, I) and in_proj_bias (2E,) (blocks x, z), conv_weight (E, K) (conv1d.weight without its
singleton axis), conv_bias (E,), x_proj_weight (R + 2N, E) (rows δ, B, C), dt_proj_weight
(E, R), dt_proj_bias (E,), A_log (E, N), D (E,), out_proj_weight (H, E), out_proj_bias (H,).
The biases of in_proj and out_proj are zero where the module has none.

The cell itself, its trace (which keeps B, C and out per step and, per block of steps, the
delay line and h it starts from, computing every other signal of any window again bit for
bit), the backward pass, the parallel scan and the hidden attention are in
cells/kinds/mamba_cell.py and mamba_math.py.
"""

from __future__ import annotations

import math

import numpy as np

from ..signals import UNIT, Signal, signal
from .spec import Layout, Option, Spec

D_STATE = Option("d_state", (16, 1, 2, 4, 8, 32, 64), 16)
D_CONV = Option("d_conv", (4, 1, 2, 3), 4)
EXPAND = Option("expand", (2, 1, 4), 2)
# "auto": ceil(H / 16), the rank every published Mamba has (48 at d_model 768); others by hand
DT_RANK = Option("dt_rank", ("auto", 1, 2, 4, 8, 16), "auto")

# Parameters in canonical order: name -> its shape as dimension names
PARAM_DIMS = {
    "in_proj_weight": ("2E", "I"), "in_proj_bias": ("2E",),
    "conv_weight": ("E", "K"), "conv_bias": ("E",),
    "x_proj_weight": ("R+2N", "E"), "dt_proj_weight": ("E", "R"), "dt_proj_bias": ("E",),
    "A_log": ("E", "N"), "D": ("E",),
    "out_proj_weight": ("H", "E"), "out_proj_bias": ("H",),
}
# The per-step signals of its layout (the E × N ones, decay, write and h, besides)
STORED = ("x_in", "z", "x_conv_pre", "x_conv", "delta_pre", "delta", "B", "C", "retention",
          "write_strength", "y", "gate", "out")
MATRIX_SIGNALS = ("decay", "write", "h")  # (E, N) per step


def dt_rank_of(option, H: int) -> int:
    return math.ceil(H / 16) if option == "auto" else int(option)


def dims(input_size: int, hidden_size: int, options: dict) -> dict:
    """Every dimension name a Mamba signal or parameter uses -> its size."""
    E = options["expand"] * hidden_size
    N, K = options["d_state"], options["d_conv"]
    R = dt_rank_of(options["dt_rank"], hidden_size)
    return {"I": input_size, "H": hidden_size, "E": E, "N": N, "K": K, "R": R,
            "lags": K - 1, "2E": 2 * E, "R+2N": R + 2 * N}


def param_shapes(input_size: int, hidden_size: int, options: dict) -> dict:
    d = dims(input_size, hidden_size, options)
    return {name: tuple(d[k] for k in shape) for name, shape in PARAM_DIMS.items()}


def _s(name, kind, label, equation, op, args=(), stage="gates", description="", shape=("E",),
       range=None) -> Signal:
    return signal(name, kind, label, equation, op, args, stage, description,
                  size="hidden" if shape == ("H",) else "shaped", range=range, shape=shape)


def signals(d_state=16, d_conv=4, expand=2, dt_rank="auto") -> tuple[Signal, ...]:
    return (
        signal("x", "input", "x_t", "x_t", "input", stage="inputs", size="input",
               description="the input at step t", shape=("I",)),
        _s("conv_prev", "state", "x_in_{t−K+1…t−1}", "x_in_{t−K+1…t−1}", "input",
           stage="inputs", shape=("lags", "E"),
           description=f"the conv's delay line: the last {d_conv - 1} values of x_in of "
                       "every channel"),
        _s("h_prev", "state", "h_{t−1}", "h_{t−1}", "input", stage="inputs", shape=("E", "N"),
           description=f"the previous state: {d_state} numbers per channel"),
        _s("x_in", "pre", "x_in_t", "x_in_t = W_x_in·x_t + b", "affine", ["x"],
           description="the input branch, one value per channel, before the conv"),
        _s("z", "pre", "z_t", "z_t = W_z·x_t + b", "affine", ["x"],
           description="the output gate before its SiLU"),
        _s("x_conv_pre", "pre", "conv_t",
           f"conv_t = Σ_k w_k ⊙ x_in_{{t−{d_conv - 1}+k}} + b_conv", "depthwise_conv",
           ["x_in", "conv_prev"],
           description=f"a {d_conv}-tap delay line per channel: this step's x_in and the "
                       f"{d_conv - 1} before it, weighted"),
        _s("x_conv", "candidate", "u_t", "u_t = SiLU(conv_t)", "silu", ["x_conv_pre"],
           description="what the SSM reads in each channel (the conv output after SiLU)"),
        _s("delta_pre", "pre", "pre(Δ_t)", "W_dt·(W_δ·u_t) + b_dt", "affine", ["x_conv"],
           description="the step size before softplus: a rank-dt_rank map of u_t"),
        _s("delta", "gate", "Δ_t", "Δ_t = softplus(W_dt·(W_δ·u_t) + b_dt)", "softplus",
           ["delta_pre"],
           description="the selectivity knob: a large Δ opens the write and closes the "
                       "retention at once; Δ → 0 keeps the state and ignores the input"),
        _s("B", "product", "B_t", "B_t = W_B·u_t", "affine", ["x_conv"], shape=("N",),
           description="how the input is written into the N states (shared by the channels)"),
        _s("C", "product", "C_t", "C_t = W_C·u_t", "affine", ["x_conv"], shape=("N",),
           description="how the N states are read out (shared by the channels)"),
        _s("decay", "gate", "exp(Δ_t A)", "exp(Δ_t ⊗ A),  A = −exp(A_log)", "exp_scale",
           ["delta"], stage="forget", shape=("E", "N"), range=UNIT,
           description="retention: the share of each state kept (A < 0, so in (0, 1])"),
        _s("retention", "product", "mean log-retention", "Δ_t · mean_n A_n",
           "mean_log_decay", ["delta"], stage="forget",
           description="the mean over the N states of log exp(Δ_t A): how much each channel "
                       "keeps (0: everything; very negative: nothing); a bank view's column"),
        _s("write", "product", "Δ_t B_t u_t", "(Δ_t ⊙ u_t) ⊗ B_t", "outer",
           ["delta", "x_conv", "B"], stage="write", shape=("E", "N"),
           description="what is written into each state"),
        _s("write_strength", "product", "write strength", "|Δ_t u_t| · ‖B_t‖",
           "write_norm", ["delta", "x_conv", "B"], stage="write",
           description="the size of what is written into each channel's N states "
                       "(‖Δ_t B_t u_t‖₂); a bank view's column"),
        _s("h", "state", "h_t", "h_t = exp(Δ_t A) ⊙ h_{t−1} + Δ_t B_t u_t", "add",
           ["decay", "h_prev", "write"], stage="state", shape=("E", "N"),
           description="the new state: N numbers per channel"),
        _s("y", "output", "y_t", "y_t = h_t·C_t + D ⊙ u_t", "read_out", ["h", "C", "x_conv"],
           stage="output", description="the read-out of each channel, plus the D bypass"),
        _s("gate", "gate", "SiLU(z_t)", "SiLU(z_t)", "silu", ["z"], stage="output",
           description="the output valve of each channel"),
        _s("out", "output", "out_t", "out_t = W_out·(y_t ⊙ SiLU(z_t)) + b_out", "affine",
           ["y", "gate"], stage="output", shape=("H",),
           description="the mixer's output: the gated channels mixed back to H values"),
    )


def init_params(input_size: int, hidden_size: int, seed: int, dtype: np.dtype,
                options: dict) -> dict:
    """As mambapy and mamba_ssm initialise: torch.nn.Linear's U(±1/√fan_in) for the
    projections and the conv; dt_proj U(±R^−½) with its bias the inverse softplus of a
    step size drawn log-uniformly in [0.001, 0.1]; A = −(1, 2, …, N) in every channel
    (S4D-real); D = 1; the projections' biases 0."""
    rng = np.random.default_rng(seed)
    shapes = param_shapes(input_size, hidden_size, options)
    d = dims(input_size, hidden_size, options)
    E, N, K, R = d["E"], d["N"], d["K"], d["R"]

    def linear(shape, fan_in):
        bound = 1 / math.sqrt(fan_in)
        return rng.uniform(-bound, bound, shape)

    dt = np.exp(rng.uniform(0, 1, E) * (math.log(0.1) - math.log(0.001)) + math.log(0.001))
    dt = np.maximum(dt, 1e-4)
    params = {
        "in_proj_weight": linear(shapes["in_proj_weight"], input_size),
        "in_proj_bias": np.zeros(2 * E),
        "conv_weight": linear((E, K), K), "conv_bias": linear(E, K),
        "x_proj_weight": linear(shapes["x_proj_weight"], E),
        "dt_proj_weight": rng.uniform(-R ** -0.5, R ** -0.5, (E, R)),
        "dt_proj_bias": dt + np.log(-np.expm1(-dt)),  # softplus⁻¹(dt)
        "A_log": np.log(np.tile(np.arange(1, N + 1, dtype=np.float64), (E, 1))),
        "D": np.ones(E),
        "out_proj_weight": linear(shapes["out_proj_weight"], E),
        "out_proj_bias": np.zeros(hidden_size),
    }
    return {k: v.astype(dtype) for k, v in params.items()}


def options_from_params(params: dict, given: dict) -> tuple[dict, int, int]:
    """The options and (input_size, hidden_size) the shapes of `params` imply; an option
    given that the shapes contradict raises ValueError naming it."""
    for name in ("in_proj_weight", "conv_weight", "x_proj_weight", "dt_proj_weight",
                 "A_log", "out_proj_weight"):
        if name not in params:
            raise ValueError(f"parameter {name} is missing for a mamba")
        if np.ndim(params[name]) != 2:
            raise ValueError(f"parameter {name} has shape {np.shape(params[name])}; "
                             f"expected {'(' + ', '.join(PARAM_DIMS[name]) + ')'}")
    E, N = np.shape(params["A_log"])
    H, E_out = np.shape(params["out_proj_weight"])
    two_E, I = np.shape(params["in_proj_weight"])
    K, R = np.shape(params["conv_weight"])[1], np.shape(params["dt_proj_weight"])[1]
    if two_E != 2 * E or E_out != E:
        raise ValueError(f"in_proj_weight {np.shape(params['in_proj_weight'])}, A_log "
                         f"{(E, N)} and out_proj_weight {(H, E_out)} disagree on the "
                         f"channels E (expected in_proj (2E, I), out_proj (H, E))")
    if E % H:
        raise ValueError(f"the channels E = {E} are not a multiple of hidden_size {H} "
                         "(E = expand·H)")
    implied = {"d_state": int(N), "d_conv": int(K), "expand": int(E // H),
               "dt_rank": "auto" if R == math.ceil(H / 16) else int(R)}
    for name, value in given.items():
        if name in implied and value != implied[name] and not (
                name == "dt_rank" and dt_rank_of(value, H) == R):
            raise ValueError(f"option {name}={value!r} does not match the weights "
                             f"({name} {implied[name]!r})")
    return implied, int(I), int(H)


def layout(options: dict) -> Layout:
    """The stored per-step signals by name (each its own array in the trace, not H-wide
    columns of one row: their widths differ)."""
    return Layout(STORED, output="out")


MAMBA = Spec(
    name="mamba", gate_letters="xz", block_order=(0, 1), state_names=("conv", "h"),
    option_table=(D_STATE, D_CONV, EXPAND, DT_RANK), describe=signals, layout=layout,
    # its own cell and trace (mamba_cell.Mamba) run it: the row-buffer loops do not apply
    prepare=None, forward=None, backward=None, recurrent=False,
    # conv_prev, B, C and the projections are not held; Δ, decay, the output gate and the
    # state are (per channel: an (E, N) signal is held in all N states of a channel)
    unholdable=frozenset({"conv", "x_in", "z", "x_conv_pre", "delta_pre", "B", "C", "write",
                          "retention", "write_strength", "y", "out"}),
    parallel=True, own_cell=True, dims=dims,
    param_layout=lambda I, H, options: [
        # blocks: None (the gate blocks of the other kinds are H rows; in_proj's two are E
        # rows each, x then z, as "rows" says)
        {"name": name, "shape": list(shape), "blocks": None,
         "rows": {"in_proj_weight": "x, z", "in_proj_bias": "x, z", "x_proj_weight": "δ, B, C",
                  "out_proj_weight": "output", "out_proj_bias": "output"}.get(name, "channel"),
         "columns": {"in_proj_weight": "input", "out_proj_weight": "channel",
                     "x_proj_weight": "channel", "dt_proj_weight": "rank",
                     "conv_weight": "tap", "A_log": "state"}.get(name)}
        for name, shape in param_shapes(I, H, options).items()],
)


