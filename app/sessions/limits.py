"""The size limits a session is held to (the settings say them; the page asks for them
through GET /api/cells and checks its form first, but the server checks again here)."""

from __future__ import annotations

from app.core.settings import Settings
from app.errors import ApiError


def check_steps(settings: Settings, steps: int, field: str) -> None:
    if steps > settings.max_steps:
        raise ApiError(field, f"has {steps} steps; the limit is {settings.max_steps}")


def check_sizes(settings: Settings, input_size: int, hidden_size: int,
                field: str | None = None) -> None:
    """A cell's sizes; `field` names the request field at fault when it is not the size's
    own (an uploaded "file")."""
    if hidden_size > settings.max_hidden_size:
        raise ApiError(field or "hidden_size", f"{'hidden_size ' if field else ''}"
                       f"{hidden_size} is over the limit of {settings.max_hidden_size}")
    if input_size > settings.max_input_size:
        raise ApiError(field or "input_size", f"{'input_size ' if field else ''}"
                       f"{input_size} is over the limit of {settings.max_input_size}")


def check_inputs_size(settings: Settings, steps: int, input_size: int) -> None:
    limit = settings.max_input_values
    if steps * input_size > limit:
        raise ApiError("sequence", f"{steps} steps x {input_size} inputs is more than "
                                   f"{limit} numbers")
