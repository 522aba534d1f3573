"""The cell kinds, one module each, and what they offer as plain data.

Everything else asks this module: the kind list (``KINDS``), each kind's options with
their allowed values and defaults (declared once, in the kind's module, as ``Option``s),
its signals and its stages (``kind_info``).
"""

from __future__ import annotations

from ..signals import Signal, stages_of
from .gru import GRU
from .lstm import LSTM
from .mamba import MAMBA
from .min_gru import MIN_GRU
from .min_lstm import MIN_LSTM
from .mlstm import MLSTM
from .normalized_lstm import NORMALIZED_LSTM
from .peephole_lstm import PEEPHOLE_LSTM
from .prototype_lstm import PROTOTYPE_LSTM
from .pseudo_lstm import PSEUDO_LSTM
from .rnn import RNN
from .slstm import SLSTM
from .spec import Option, Spec

SPECS: dict[str, Spec] = {s.name: s for s in (
    RNN, LSTM, PEEPHOLE_LSTM, GRU, PROTOTYPE_LSTM, NORMALIZED_LSTM, PSEUDO_LSTM,
    MIN_GRU, MIN_LSTM, SLSTM, MLSTM, MAMBA)}
KINDS = tuple(SPECS)
OPTIONS: dict[str, Option] = {o.name: o for s in SPECS.values() for o in s.option_table}
OPTION_VALUES = {name: o.values for name, o in OPTIONS.items()}  # name -> allowed values
# Signal kinds that can be held at a value (a gate, candidate or state).
HOLDABLE_KINDS = ("gate", "candidate", "state")

__all__ = ["HOLDABLE_KINDS", "KINDS", "OPTIONS", "OPTION_VALUES", "SPECS", "Option", "Spec",
           "check_options", "describe", "holdable", "kind_info", "signal_dims", "spec_for"]


def spec_for(kind) -> Spec:
    if kind not in SPECS:
        raise ValueError(f"unknown cell kind {kind!r}; known kinds: {', '.join(KINDS)}")
    return SPECS[kind]


def check_options(spec: Spec, options: dict) -> dict:
    """The kind's defaults updated with `options`; unknown names or values raise ValueError."""
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        allowed = ", ".join(spec.options) or "none"
        raise ValueError(f"unknown option(s) {unknown} for a {spec.name}; its options: {allowed}")
    out = dict(spec.options)
    for name, value in options.items():
        allowed = OPTIONS[name].values
        # the same type as the allowed value it equals (True is not 1, nor 1.0 1)
        if not any(value == a and type(value) is type(a) for a in allowed):
            raise ValueError(f"option {name} must be one of {list(allowed)}, got {value!r}")
        out[name] = value
    return out


def describe(kind: str, **options) -> tuple[Signal, ...]:
    """The signals a kind produces, in computation order, without any weights."""
    spec = spec_for(kind)
    return spec.describe(**check_options(spec, options))


def holdable(spec: Spec, options: dict) -> tuple[Signal, ...]:
    """The signals an intervention may hold: the gates, candidates and states the step
    computes (and the kind's recurrent state, such as a GRU's h), not its inputs."""
    spec = spec.for_options(options)
    signals = spec.describe(**options)
    return tuple(s for s in signals
                 if (s.kind in HOLDABLE_KINDS or s.name in spec.state_names)
                 and s.op != "input" and s.name not in spec.unholdable)


def signal_dims(kind: str, input_size: int, hidden_size: int, options: dict) -> dict | None:
    """The size of each dimension a kind's signal shapes name (a Mamba's E, N, …), or None
    for a kind whose signals are H (or I) wide."""
    spec = spec_for(kind)
    if spec.dims is None:
        return None
    return spec.dims(input_size, hidden_size, check_options(spec, options))


def kind_info(kind: str) -> dict:
    """What a kind offers, as plain data: its options (allowed values, default), its state
    names, the stages its signals occupy (in computation order) and its signals with the
    default options. The one source the server and the page build their controls from."""
    spec = spec_for(kind)
    signals = spec.describe(**spec.options)
    return {
        "kind": kind,
        "options": {o.name: {"values": list(o.values), "default": o.default}
                    for o in spec.option_table},
        "state": list(spec.state_names),
        "stages": stages_of(signals),
        "signals": [s.to_dict() for s in signals],
    }
