"""The normalized prototype of Written Memories (r2rt, 2016): the prototype's new state
divided by √(var(ĉ_t) + 1), the variance over the H units (ddof 0), a soft bound on the
state; the output is the state."""

from __future__ import annotations

from ..signals import Signal, signal
from . import prototype_family as family
from .lstm import IFOG
from .spec import Layout, Spec

LAYOUT = Layout(family.BASE + ("c_raw", "c_scale", "c", "h"))


def signals() -> tuple[Signal, ...]:
    return (
        *family.shared_signals(pseudo=False),
        signal("c_raw", "state", "ĉ_t", f"ĉ_t = {family.C_SUM}", "add", ["kept", "written"],
               stage="state", description="the new state before normalisation"),
        signal("c_scale", "state", "√(var(ĉ_t) + 1)",
               "√(var(ĉ_t) + 1)  (variance over the units)", "scale", ["c_raw"], stage="state",
               description="the divisor that bounds the state (one value, shown per unit)"),
        signal("c", "state", "c_t", "c_t = ĉ_t / √(var(ĉ_t) + 1)", "normalize",
               ["c_raw", "c_scale"], stage="state", description="the new, normalised state"),
        signal("h", "output", "h_t", "h_t = c_t", "identity", ["c"], stage="output",
               description="the output is the state itself"),
    )


NORMALIZED_LSTM = Spec(
    name="normalized_lstm", gate_letters="ifgo", block_order=IFOG, state_names=("c",),
    option_table=(), describe=signals, layout=lambda options: LAYOUT, prepare=family.prepare,
    forward=family.make_forward(LAYOUT, squash_read=False, normalize=True),
    backward=family.make_backward(squash_read=False, normalize=True), forget_letter="f",
    # the divisor is one number computed from all of ĉ_t; hold ĉ_t or c_t instead
    unholdable=frozenset({"c_scale"}),
)
