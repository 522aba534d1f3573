"""The pseudo LSTM of Written Memories (r2rt, 2016): the prototype with the state squashed
everywhere but the write, r = tanh(c_{t−1}) for the gates and the candidate, and the output
h_t = tanh(c_t) (no output gate on the output: o gates the state read for the candidate)."""

from __future__ import annotations

from ..signals import SIGNED, Signal, signal
from . import prototype_family as family
from .lstm import IFOG
from .spec import Layout, Spec

LAYOUT = Layout(family.BASE + ("c", "h"))


def signals() -> tuple[Signal, ...]:
    return (
        *family.shared_signals(pseudo=True),
        signal("c", "state", "c_t", f"c_t = {family.C_SUM}", "add", ["kept", "written"],
               stage="state", description="the new state"),
        signal("h", "output", "h_t", "h_t = tanh(c_t)", "tanh", ["c"], stage="output",
               range=SIGNED, description="the output: the squashed state"),
    )


PSEUDO_LSTM = Spec(
    name="pseudo_lstm", gate_letters="ifgo", block_order=IFOG, state_names=("c",),
    option_table=(), describe=signals, layout=lambda options: LAYOUT, prepare=family.prepare,
    forward=family.make_forward(LAYOUT, squash_read=True, normalize=False),
    backward=family.make_backward(squash_read=True, normalize=False), forget_letter="f",
)
