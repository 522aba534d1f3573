"""JSON written in pieces, so that no single call holds the interpreter for long.

A session's record lists every joined grapheme of its text (400,000 pairs for a text of
accented letters). One call of pydantic's encoder writes that in ~40 ms without letting go of
the GIL, and meanwhile the event loop answers no one. Written a few thousand items at a time,
the loop and the other threads get their turns between the pieces.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic_core import to_json

PIECE = 4096  # items of a list per call: well under a millisecond each


def dumps(value: Any) -> bytes:
    """`value` (JSON types) as compact JSON, long lists a piece at a time."""
    if isinstance(value, dict):
        return b"{" + b",".join(to_json(str(key)) + b":" + dumps(item)
                                for key, item in value.items()) + b"}"
    if isinstance(value, list) and len(value) > PIECE:
        return b"[" + b",".join(to_json(value[start:start + PIECE])[1:-1]
                                for start in range(0, len(value), PIECE)) + b"]"
    return to_json(value)


def dump_model(model: BaseModel, big: str) -> bytes:
    """`model` as JSON, its field `big` (JSON types) written by `dumps`."""
    head = model.model_dump_json(exclude={big})
    return head[:-1].encode() + b',"' + big.encode() + b'":' + dumps(getattr(model, big)) + b"}"
