"""Domain errors: what the service, the stream and training raise about a problem, and the
one-line form every answer gives it.

HTTP errors are `{"detail": "<field>: <problem>", "field": "<field>"}` with a 4xx status
(a 5xx only for a fault of the server or its data directory); WebSocket errors are
`{"error": "<field>: <problem>", "field": "<field>"}` text messages. The service raises
`ApiError` naming the request field; pydantic's validation errors are rewritten into the
same one-line shape, as sentences for a person ("hidden_size: must be at least 1", never
"Input should be greater than or equal to 1"). The HTTP handlers that send them are in
app/api/errors.py.
"""

from __future__ import annotations

import json


class ApiError(Exception):
    def __init__(self, field: str | None, message: str, status_code: int = 422):
        super().__init__(message)
        self.field = field
        self.message = message
        self.status_code = status_code

    @property
    def detail(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class NotFound(ApiError):
    def __init__(self, field: str | None, message: str):
        super().__init__(field, message, status_code=404)


class DamagedState(ApiError):
    """Something in the data directory cannot be read (a truncated config, say): the
    server's fault, not the request's, so a 500, still as JSON naming what is damaged."""

    def __init__(self, field: str | None, message: str):
        super().__init__(field, message, status_code=500)


def error_body(detail: str, field: str | None = None) -> dict:
    return {"detail": detail, "field": field}


def ws_error(detail: str, field: str | None = None) -> str:
    """The WebSocket form of an error: a JSON text message."""
    return json.dumps({"error": detail, "field": field})


# -- pydantic's errors, as sentences ---------------------------------------------------------
def _location(loc: tuple) -> str:
    """('body', 'sequence', 'values', 3, 1) -> 'sequence.values[3][1]'."""
    parts = [p for p in loc if p not in ("body", "query", "path", "header", "form")]
    text = ""
    for p in parts:
        if isinstance(p, int):
            text += f"[{p}]"
        else:
            text += f".{p}" if text else str(p)
    return text or "body"


def _row_and_column(loc: tuple) -> str:
    """' (row 4, column 2)' for a number of a sequence's values at [3][1]: the field names
    the place as the JSON indexes it, the words as a person counts rows, from 1."""
    if len(loc) >= 3 and loc[-3] == "values" and all(isinstance(p, int) for p in loc[-2:]):
        return f" (row {loc[-2] + 1}, column {loc[-1] + 1})"
    if len(loc) >= 2 and loc[-2] == "values" and isinstance(loc[-1], int):
        return f" (row {loc[-1] + 1})"
    return ""


def _drop_union_tags(loc: tuple) -> tuple:
    """pydantic puts the tagged-union member ('text', 'values', ...) into the location twice:
    ('sequence', 'values', 'values', 0) -> ('sequence', 'values', 0)."""
    out: list = []
    for p in loc:
        if out and p == out[-1] and isinstance(p, str):
            continue
        out.append(p)
    return tuple(out)


def _number(n) -> str:
    """Bounds as a person reads them: 2**63 - 1 is "2^63 - 1", not 19 digits."""
    if isinstance(n, int) and n == 2**63 - 1:
        return "2^63 - 1 (the largest 64-bit integer)"
    return f"{n:,}" if isinstance(n, int) and abs(n) >= 10_000 else str(n)


def _count(n, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _sentence(error: dict) -> str:
    """One pydantic error as a person would say it."""
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    sentences = {
        "missing": "is required",
        "extra_forbidden": "is not a field of this request (Extra fields are refused)",
        "int_parsing": "must be a whole number", "int_type": "must be a whole number",
        "int_from_float": "must be a whole number",
        "float_parsing": "must be a number", "float_type": "must be a number",
        "finite_number": "must be a finite number (NaN and Infinity are refused)",
        "bool_parsing": "must be true or false", "bool_type": "must be true or false",
        "string_type": "must be text", "list_type": "must be a list",
        "dict_type": "must be an object", "model_type": "must be an object",
        "model_attributes_type": "must be an object",
    }
    if kind in sentences:
        return sentences[kind]
    if kind == "too_short":
        return f"needs at least {_count(ctx.get('min_length', 1), 'item', 'items')}"
    if kind == "too_long":
        return f"may have at most {_count(ctx.get('max_length', 0), 'item', 'items')}"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_too_long":
        return f"may be at most {_count(ctx.get('max_length', 0), 'character', 'characters')}"
    if kind == "greater_than_equal":
        return f"must be at least {ctx.get('ge')}"
    if kind == "greater_than":
        return f"must be more than {ctx.get('gt')}"
    if kind == "less_than_equal":
        return f"must be at most {_number(ctx.get('le'))}"
    if kind == "less_than":
        return f"must be less than {ctx.get('lt')}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}"
    if kind == "string_pattern_mismatch":
        return "is not in the expected form"
    if kind == "enum":
        return f"must be one of {ctx.get('expected')}"
    return error.get("msg", "is not valid")


def describe_errors(errors: list[dict], skip_first_location: bool = False,
                    whole: str = "body") -> tuple[str, str | None]:
    """(detail, field of the first error) for pydantic errors; at most five are told.

    `skip_first_location` drops the union member pydantic puts first in the location of a
    WebSocket message ('seek', 'seek') -> 'seek'. `whole` names the entire input (the
    request body, or a WebSocket message) in messages about it."""
    messages = []
    first_field = None
    for error in errors[:5]:
        loc = tuple(error.get("loc", ()))
        if error.get("type") == "json_invalid":  # loc is ("body", character position)
            field = whole
            ctx = error.get("ctx") or {}
            position = f" at character {loc[-1]}" if loc and isinstance(loc[-1], int) else ""
            message = f"is not JSON{position}: {ctx.get('error', error.get('msg'))}"
        else:
            if skip_first_location:
                loc = loc[1:] or loc
            field = _location(_drop_union_tags(loc)) if loc else None
            message = _sentence(error) + _row_and_column(_drop_union_tags(loc))
        first_field = first_field or field
        messages.append(f"{field}: {message}" if field else message)
    return "; ".join(messages) or "the request is not valid", first_field
