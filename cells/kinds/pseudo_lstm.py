"""The pseudo LSTM of Written Memories (r2rt, 2016): the prototype with the state squashed
everywhere but the write, r = tanh(c_{t−1}) for the gates and the candidate, and the output
h_t = tanh(c_t) (no output gate on the output: o gates the state read for the candidate).

Option `diffs` adds any combination of the article's three "LSTM diffs" (its eight
architectures; "123" is the basic LSTM): see cells.kinds.lstm_diffs."""

from __future__ import annotations

from ..signals import SIGNED, Signal, signal
from . import lstm_diffs
from . import prototype_family as family
from .lstm import IFOG
from .spec import Layout, Option, Spec

LAYOUT = Layout(family.BASE + ("c", "h"))
DIFFS = Option("diffs", lstm_diffs.DIFFS, "")


def signals(diffs: str = "") -> tuple[Signal, ...]:
    if diffs:
        return lstm_diffs.signals(diffs)
    return (
        *family.shared_signals(pseudo=True),
        signal("c", "state", "c_t", f"c_t = {family.C_SUM}", "add", ["kept", "written"],
               stage="state", description="the new state"),
        signal("h", "output", "h_t", "h_t = tanh(c_t)", "tanh", ["c"], stage="output",
               range=SIGNED, description="the output: the squashed state"),
    )


def prepare(params: dict, options: dict, H: int) -> dict:
    prep = family.prepare(params, options, H)
    return lstm_diffs.prepare(prep, options["diffs"], H) if options["diffs"] else prep


_forward = family.make_forward(LAYOUT, squash_read=True, normalize=False)
_backward = family.make_backward(squash_read=True, normalize=False)


def forward(buf, state, p, holds=None):
    return (lstm_diffs.forward if p.get("diffs") else _forward)(buf, state, p, holds)


def backward(cols, state0, d_in, carry, p, holds=None, params=True, totals=False):
    return (lstm_diffs.backward if p.get("diffs") else _backward)(
        cols, state0, d_in, carry, p, holds, params=params, totals=totals)


PSEUDO_LSTM = Spec(
    name="pseudo_lstm", gate_letters="ifgo", block_order=IFOG, state_names=("c",),
    option_table=(DIFFS,), describe=signals,
    layout=lambda options: lstm_diffs.layout(options["diffs"]) if options.get("diffs")
    else LAYOUT,
    prepare=prepare, forward=forward, backward=backward, forget_letter="f",
    states=lambda options: lstm_diffs.states(options.get("diffs", "")),
)
