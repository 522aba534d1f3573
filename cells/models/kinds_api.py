"""The engine as models use it: only the public API of `cells` (create, describe,
kind_info), imported when called, so models keep working wherever the kinds live."""

from __future__ import annotations

from functools import cache


def create(kind: str, **arguments):
    import cells

    return cells.create(kind, **arguments)


def describe(kind: str, **options):
    import cells

    return cells.describe(kind, **options)


@cache
def option_defaults(kind: str) -> dict:
    import cells

    return {name: o["default"] for name, o in cells.kind_info(kind)["options"].items()}


@cache
def gate_blocks(kind: str) -> int:
    """How many H-row gate blocks the kind's weight_ih holds (4 for an LSTM)."""
    return create(kind, input_size=1, hidden_size=1).params["weight_hh"].shape[0]
