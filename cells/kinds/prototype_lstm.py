"""The prototype LSTM of Written Memories (r2rt, 2016): the gates read the state itself,
the candidate reads the gated state o ⊙ c_{t−1}, and the output is the state (h_t = c_t).
Its state is unbounded: with f ≈ 1 and writes every step it grows without limit."""

from __future__ import annotations

from ..signals import Signal, signal
from . import prototype_family as family
from .lstm import IFOG
from .spec import Layout, Spec

LAYOUT = Layout(family.BASE + ("c", "h"))


def signals() -> tuple[Signal, ...]:
    return (
        *family.shared_signals(pseudo=False),
        signal("c", "state", "c_t", f"c_t = {family.C_SUM}", "add", ["kept", "written"],
               stage="state", description="the new state"),
        signal("h", "output", "h_t", "h_t = c_t", "identity", ["c"], stage="output",
               description="the output is the state itself"),
    )


PROTOTYPE_LSTM = Spec(
    name="prototype_lstm", gate_letters="ifgo", block_order=IFOG, state_names=("c",),
    option_table=(), describe=signals, layout=lambda options: LAYOUT, prepare=family.prepare,
    forward=family.make_forward(LAYOUT, squash_read=False, normalize=False),
    backward=family.make_backward(squash_read=False, normalize=False), forget_letter="f",
)
