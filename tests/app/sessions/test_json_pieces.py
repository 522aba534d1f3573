"""JSON written in pieces reads back as the value written whole (by the standard library)."""

from __future__ import annotations

import json

from pydantic import BaseModel

from app.sessions import json_pieces


def test_long_lists_in_pieces_read_back_whole():
    piece = json_pieces.PIECE
    value = {"text": "e\u0301\"\\\n" * 3, "clusters": [[k, 2] for k in range(3 * piece + 5)],
             "nested": {"values": [[0.5, -1e-300, 3]] * (piece + 1), "empty": []},
             "exact": list(range(piece))}
    assert json.loads(json_pieces.dumps(value)) == value


def test_a_model_with_its_big_field_in_pieces():
    class Record(BaseModel):
        id: str
        sequence: dict
        steps: int

    record = Record(id="a\u00e9", sequence={"clusters": [[k, 3] for k in range(10_000)]}, steps=7)
    assert json.loads(json_pieces.dump_model(record, "sequence")) == record.model_dump()
