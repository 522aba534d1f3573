"""Sequences from requests: text, a JSON table of numbers, or CSV; checked, then encoded.

A session stores its sequence as given (`{"text": ...}` or `{"values": [[...]]}`; CSV is
stored as the values it parsed to), so the inputs can be rebuilt exactly by any process.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

import numpy as np

import cells
from app.api.errors import ApiError
from app.api.schemas import CsvSequence, TextSequence, ValuesSequence

# A decimal number as people write it in CSV; float() alone would also take "1_0", "nan"
# and "infinity", which are not numbers a spreadsheet writes.
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_NON_FINITE = re.compile(r"[+-]?(?:nan|inf|infinity)", re.IGNORECASE)
_SHOWN_CHARACTERS = 20


@dataclass(frozen=True)
class Piece:
    """A checked piece of sequence: text, or a rectangular table of finite numbers."""

    text: str | None = None
    values: list[list[float]] | None = None

    @property
    def kind(self) -> str:
        return "text" if self.text is not None else "values"

    @property
    def steps(self) -> int:
        return len(self.text) if self.text is not None else len(self.values)

    @property
    def width(self) -> int | None:
        return len(self.values[0]) if self.values else None

    def stored(self) -> dict:
        return {"text": self.text} if self.text is not None else {"values": self.values}


def piece_from_request(sequence: TextSequence | ValuesSequence | CsvSequence,
                       field: str = "sequence") -> Piece:
    """`field` prefixes the names in messages ("sequence" in a new session, "" in append)."""
    prefix = f"{field}." if field else ""
    if isinstance(sequence, TextSequence):
        return Piece(text=sequence.text)
    if isinstance(sequence, ValuesSequence):
        return Piece(values=_rectangular(sequence.values, f"{prefix}values"))
    return Piece(values=parse_csv(sequence.csv, f"{prefix}csv"))


def piece_from_stored(stored: dict, start: int = 0) -> Piece:
    """The stored sequence from step `start` on."""
    if "text" in stored:
        return Piece(text=stored["text"][start:])
    return Piece(values=stored["values"][start:])


def _rectangular(values: list[list[float]], field: str) -> list[list[float]]:
    width = len(values[0])
    if width == 0:
        raise ApiError(f"{field}[0]", "a row needs at least one number (one per input feature)")
    for index, row in enumerate(values):
        if len(row) != width:
            raise ApiError(f"{field}[{index}]", f"has {len(row)} numbers but row 0 has {width}; "
                                                "every row needs one number per input feature")
    return values


def parse_csv(text: str, field: str = "sequence.csv") -> list[list[float]]:
    """Rows of numbers from CSV text; a first row that is not all numbers is a header."""
    if "\0" in text:
        raise ApiError(field, "contains a NUL character; CSV must be text")
    reader = csv.reader(io.StringIO(text))
    rows: list[list[float]] = []
    width = None
    try:
        for cells_in_row in reader:
            if not any(cell.strip() for cell in cells_in_row):
                continue  # blank line
            line = reader.line_num
            stripped = [cell.strip() for cell in cells_in_row]
            if width is None and not rows and not all(_looks_numeric(c) for c in stripped):
                width = len(stripped)  # header: names the columns, sets their count
                continue
            if width is None:
                width = len(stripped)
            if len(stripped) != width:
                raise ApiError(field, f"line {line} has {len(stripped)} columns but the first "
                                      f"row has {width}; give one column per input feature")
            rows.append([_number(cell, field, line, column)
                         for column, cell in enumerate(stripped, start=1)])
    except csv.Error as exc:
        raise ApiError(field, f"is not valid CSV: {exc}") from exc
    if not rows:
        raise ApiError(field, "has no rows of numbers")
    return rows


def _looks_numeric(cell: str) -> bool:
    return bool(_NUMBER.fullmatch(cell) or _NON_FINITE.fullmatch(cell))


def _number(cell: str, field: str, line: int, column: int) -> float:
    if _NUMBER.fullmatch(cell):
        value = float(cell)
        if np.isfinite(value):
            return value
    elif not _NON_FINITE.fullmatch(cell):
        shown = cell if len(cell) <= 40 else cell[:40] + "…"
        raise ApiError(field, f"line {line}, column {column}: {shown!r} is not a number")
    raise ApiError(field, f"line {line}, column {column}: {cell!r} is not finite; "
                          "NaN and Infinity are refused")


def unknown_characters(text: str, vocabulary: str) -> list[str]:
    known = set(vocabulary)
    return sorted({ch for ch in text if ch not in known})


def check_text(text: str, vocabulary: str, field: str, whose: str) -> None:
    """Refuse characters outside `vocabulary`, listing them."""
    unknown = unknown_characters(text, vocabulary)
    if unknown:
        shown = ", ".join(repr(ch) for ch in unknown[:_SHOWN_CHARACTERS])
        more = f" and {len(unknown) - _SHOWN_CHARACTERS} more" if len(unknown) > 20 else ""
        raise ApiError(field, f"unknown character(s) for {whose}: {shown}{more}")


def as_inputs(piece: Piece, vocabulary: str | None, dtype: str, field: str) -> np.ndarray:
    """The (T, I) inputs of a piece: one-hot text or the numbers in the session's dtype."""
    if piece.text is not None:
        return cells.text.one_hot(piece.text, vocabulary, dtype=np.dtype(dtype))
    with np.errstate(over="ignore"):
        xs = np.asarray(piece.values, dtype=np.float64).astype(dtype)
    if not np.isfinite(xs).all():
        row, column = np.argwhere(~np.isfinite(xs))[0]
        raise ApiError(f"{field}[{row}][{column}]",
                       f"{piece.values[row][column]!r} does not fit in {dtype}")
    return xs
