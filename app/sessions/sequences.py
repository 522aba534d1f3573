"""Sequences from requests: text, a JSON table of numbers, or CSV; checked, then encoded.

A session stores its sequence (app/sessions/config.py): text as text, numbers (from JSON
or CSV) as float64, so the inputs can be rebuilt exactly by any process.
"""

from __future__ import annotations

import csv
import functools
import io
import re
from dataclasses import dataclass
from functools import cached_property

import numpy as np

import cells.text
from app.errors import ApiError
from app.schemas import CsvSequence, TextSequence, ValuesSequence

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
    csv: str | None = None  # the CSV text the values came from, as given

    @property
    def kind(self) -> str:
        return "text" if self.text is not None else "values"

    @cached_property
    def steps(self) -> int:
        """Text: one step per grapheme (cells/text.py)."""
        return len(cells.text.graphemes(self.text)) if self.text is not None \
            else len(self.values)

    @property
    def width(self) -> int | None:
        return len(self.values[0]) if self.values else None


def piece_from_request(sequence: TextSequence | ValuesSequence | CsvSequence,
                       field: str = "sequence") -> Piece:
    """`field` prefixes the names in messages ("sequence" in a new session, "" in append)."""
    prefix = f"{field}." if field else ""
    if isinstance(sequence, TextSequence):
        return Piece(text=sequence.text)
    if isinstance(sequence, ValuesSequence):
        return Piece(values=_rectangular(sequence.values, f"{prefix}values"))
    return Piece(values=parse_csv(sequence.csv, f"{prefix}csv"), csv=sequence.csv)


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
    """Rows of numbers from CSV text.

    Rows are split on newlines only (a spreadsheet's `;` is a column separator elsewhere,
    never a row separator here); a UTF-8 byte-order mark is dropped and its row kept; the
    first row is a header only if every one of its cells is non-numeric. Rows and columns
    in messages are counted from 1, as a person counts them in a spreadsheet.
    """
    if "\0" in text:
        raise ApiError(field, "contains a NUL character; CSV must be text")
    text = text.removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text))
    rows: list[list[float]] = []
    width = None
    try:
        for cells_in_row in reader:
            if not any(cell.strip() for cell in cells_in_row):
                continue  # blank line
            row = reader.line_num
            stripped = [cell.strip() for cell in cells_in_row]
            if width is None and not any(_looks_numeric(c) for c in stripped):
                width = len(stripped)  # header: names the columns, sets their count
                continue
            if width is None:
                width = len(stripped)
            if len(stripped) != width:
                raise ApiError(field, f"row {row} has {len(stripped)} columns but the first "
                                      f"row has {width}; give one column per input feature")
            rows.append([_number(cell, field, row, column)
                         for column, cell in enumerate(stripped, start=1)])
    except csv.Error as exc:
        raise ApiError(field, f"is not valid CSV: {exc}") from exc
    if not rows:
        raise ApiError(field, "has no rows of numbers")
    return rows


def _looks_numeric(cell: str) -> bool:
    return bool(_NUMBER.fullmatch(cell) or _NON_FINITE.fullmatch(cell))


def _number(cell: str, field: str, row: int, column: int) -> float:
    if _NUMBER.fullmatch(cell):
        value = float(cell)
        if np.isfinite(value):
            return value
    elif not _NON_FINITE.fullmatch(cell):
        shown = cell if len(cell) <= 40 else cell[:40] + "…"
        raise ApiError(field, f"row {row}, column {column}: {shown!r} is not a number")
    raise ApiError(field, f"row {row}, column {column}: {cell!r} is not finite; "
                          "NaN and Infinity are refused")


def unknown_characters(text: str, vocabulary: str | list[str]) -> list[str]:
    """The graphemes of `text` that are not tokens of `vocabulary`."""
    return cells.text.unknown_tokens(text, vocabulary)


def check_text(text: str, vocabulary: str | list[str], field: str, whose: str) -> None:
    """Refuse graphemes outside `vocabulary`, listing them."""
    unknown = unknown_characters(text, vocabulary)
    if unknown:
        shown = ", ".join(repr(ch) for ch in unknown[:_SHOWN_CHARACTERS])
        more = f" and {len(unknown) - _SHOWN_CHARACTERS} more" if len(unknown) > 20 else ""
        raise ApiError(field, f"unknown character(s) for {whose}: {shown}{more}")


class Inputs:
    """A session's inputs as held in memory: text as indices into its vocabulary (one-hot
    rows are made a window at a time: 1M steps x 100 characters would be 400 MB dense),
    numbers as one (T, I) array in the session's dtype."""

    def __init__(self, dtype: str, width: int, indices: np.ndarray | None = None,
                 values: np.ndarray | None = None):
        self.dtype = np.dtype(dtype)
        self.width = width
        self.indices = indices  # (T,) int32, text
        self.values = values  # (T, I) in dtype, numbers

    @classmethod
    def from_text(cls, text: str, vocabulary: str | list[str], dtype: str,
                  start: int = 0) -> Inputs:
        """Steps [start, …) of `text`, one per grapheme; every grapheme must be a token of
        `vocabulary` (check_text first)."""
        indices = cells.text.indices(text, vocabulary)
        return cls(dtype, len(vocabulary), indices=indices[start:] if start else indices)

    @classmethod
    def from_values(cls, values, dtype: str, field: str) -> Inputs:
        wide = np.asarray(values, dtype=np.float64)
        with np.errstate(over="ignore"):
            xs = wide.astype(dtype)
        if not np.isfinite(xs).all():
            # the field indexes the JSON; the words count from 1 as the CSV messages do,
            # the number as a person writes it (a NumPy repr would read "np.float64(…)")
            row, column = (int(i) for i in np.argwhere(~np.isfinite(xs))[0])
            raise ApiError(f"{field}[{row}][{column}]", f"row {row + 1}, column {column + 1}: "
                                  f"{float(wide[row, column])!r} does not fit in {dtype}")
        return cls(dtype, xs.shape[1], values=np.ascontiguousarray(xs))

    @property
    def steps(self) -> int:
        return len(self.indices) if self.indices is not None else len(self.values)

    @property
    def nbytes(self) -> int:
        return int((self.indices if self.indices is not None else self.values).nbytes)

    def rows(self, start: int, stop: int) -> np.ndarray:
        """Dense (stop - start, I) inputs of steps [start, stop)."""
        if self.values is not None:
            return self.values[start:stop]
        picked = self.indices[start:stop]
        out = np.zeros((len(picked), self.width), self.dtype)
        out[np.arange(len(picked)), picked] = 1
        return out

    def appended(self, more: Inputs) -> Inputs:
        if self.indices is not None:
            return Inputs(self.dtype.name, self.width,
                          indices=np.concatenate([self.indices, more.indices]))
        return Inputs(self.dtype.name, self.width,
                      values=np.concatenate([self.values, more.values]))


def as_inputs(piece: Piece, vocabulary: str | list[str] | None, dtype: str,
              field: str) -> Inputs:
    """The inputs of a piece: text as indices over the vocabulary, or the numbers."""
    if piece.text is not None:
        return Inputs.from_text(piece.text, vocabulary, dtype)
    return Inputs.from_values(piece.values, dtype, field)


@functools.lru_cache(maxsize=16)
def clusters(text: str) -> list[list[int]]:
    """[step, code points] of each step of `text` longer than one code point: with the text,
    the page finds each step's grapheme without splitting text itself. Kept for the last
    few texts: segmenting a million graphemes takes a second, and every GET of the session
    asks (callers only read the list)."""
    if cells.text.is_simple(text):
        return []
    return [[step, len(g)] for step, g in enumerate(cells.text.graphemes(text)) if len(g) > 1]
