"""A model's input encoder: what turns text (or token ids, or numbers) into the (T, I) rows
its first layer reads.

Three kinds: raw numbers (the rows are given), one-hot rows over a vocabulary, or rows of an
embedding matrix (V, E) picked by token. A vocabulary is a tuple of tokens: characters, or
words when text is split on whitespace. Token k is row k of the embedding and column k of
the one-hot rows.

A character is a grapheme (cells/text.py): "é" typed as e + U+0301 is one token and one
step, for a model as for a single cell. This is the one place text becomes steps.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..text import graphemes

ENCODINGS = ("numbers", "one_hot", "embedding")
TOKENIZERS = ("chars", "words", "subword")  # subword: a tokenizer.json (subword_encoder.py)
_SHOWN_UNKNOWN = 20  # unknown tokens listed in a message before "…"


def vocabulary_tokens(vocabulary: str | Sequence[str]) -> tuple[str, ...]:
    """A vocabulary as a tuple of distinct tokens: a str is its characters (a subword
    vocabulary keeps its tokenizer)."""
    tokens = vocabulary if isinstance(vocabulary, tuple) else tuple(vocabulary)
    bad = [t for t in tokens if not isinstance(t, str) or not t]
    if bad:
        raise ValueError(f"vocabulary tokens must be non-empty strings; found {bad[:5]!r}")
    repeated = sorted(token for token, n in Counter(tokens).items() if n > 1)
    if repeated:
        raise ValueError(f"vocabulary repeats token(s) {_listed(repeated)}")
    return tokens


def tokenizer_of(tokens: Sequence[str]) -> str:
    """'chars' when every token is one character (one grapheme: "é" may be two code points),
    else 'words' (text split on whitespace)."""
    return "chars" if all(len(t) == 1 or len(graphemes(t)) == 1 for t in tokens) else "words"


@dataclass(frozen=True)
class Encoder:
    """How a model reads its input. `width` is the input size of the model's first layer."""

    encoding: str  # one of ENCODINGS
    width: int
    vocabulary: tuple[str, ...] | None = None
    tokenizer: str | None = None  # one of TOKENIZERS when there is a vocabulary
    embedding: np.ndarray | None = None  # (V, E) for encoding "embedding"

    def __post_init__(self):
        if self.encoding not in ENCODINGS:
            raise ValueError(f"encoding {self.encoding!r} is not one of {ENCODINGS}")
        if self.tokenizer is not None and self.tokenizer not in TOKENIZERS:
            raise ValueError(f"tokenizer {self.tokenizer!r} is not one of {TOKENIZERS}")
        if self.vocabulary is not None and len(self.vocabulary) != self.size:
            raise ValueError(
                f"the vocabulary has {len(self.vocabulary)} tokens but the "
                f"{self.encoding.replace('_', '-')} input takes {self.size}"
            )

    @property
    def size(self) -> int | None:
        """How many tokens the encoder knows (None for raw numbers)."""
        if self.encoding == "embedding":
            return len(self.embedding)
        return self.width if self.encoding == "one_hot" else None

    def split(self, text: str) -> list[str]:
        """The tokens of `text`: its characters (graphemes), or its whitespace-separated
        words."""
        if not isinstance(text, str):
            raise ValueError(f"text must be a string, got {type(text).__name__}")
        tokens = graphemes(text) if self.tokenizer == "chars" else text.split()
        if not tokens:
            raise ValueError("text is empty; type at least one token")
        return tokens

    def ids(self, text: str) -> np.ndarray:
        """(T,) token ids of `text`; unknown tokens are listed in the error."""
        if self.vocabulary is None:
            what = "raw numbers" if self.encoding == "numbers" else "token ids"
            raise ValueError(
                f"this model has no vocabulary, so it cannot read text; give {what}, or "
                "a vocabulary (vocabulary=..., or a vocab.json / vocab.txt beside the file)"
            )
        index = {token: k for k, token in enumerate(self.vocabulary)}
        tokens = self.split(text)
        if self.tokenizer == "chars" and len(tokens) == len(text):
            ids = _code_point_ids(text, index)
            if ids is not None:
                return ids
        unknown = sorted({t for t in tokens if t not in index})
        if unknown:
            raise ValueError(f"text has token(s) outside the vocabulary: {_listed(unknown)}")
        return np.fromiter((index[t] for t in tokens), np.int64, len(tokens))

    def rows(self, ids: np.ndarray, dtype: np.dtype) -> np.ndarray:
        """(T, width) input rows for token ids (T,)."""
        if self.encoding == "numbers":
            raise ValueError("this model reads raw numbers (T, I), not token ids")
        ids = np.asarray(ids)
        if ids.ndim != 1 or len(ids) == 0 or ids.dtype.kind not in "iu":
            raise ValueError(f"token ids must be a non-empty 1-D integer array, got {ids.shape}")
        bad = ids[(ids < 0) | (ids >= self.size)]
        if len(bad):
            raise ValueError(
                f"token id(s) {_listed(sorted(set(bad.tolist())))} outside 0..{self.size - 1}"
            )
        if self.encoding == "embedding":
            return self.embedding[ids].astype(dtype)  # (T, E)
        out = np.zeros((len(ids), self.width), dtype)  # (T, V)
        out[np.arange(len(ids)), ids] = 1
        return out


def _code_point_ids(text: str, index: dict) -> np.ndarray | None:
    """(T,) token ids of a text whose every grapheme is one code point, every code point
    looked up at once (training encodes its whole text: a dict lookup per character costs
    ~10 ms per 100 000); None when a code point is not a token (the caller names it)."""
    singles = sorted((ord(token), k) for token, k in index.items() if len(token) == 1)
    if not singles:
        return None
    codes = np.array([code for code, _ in singles], np.uint32)  # sorted
    ids = np.array([k for _, k in singles], np.int64)
    try:
        points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), np.uint32)
    except UnicodeEncodeError:
        return None
    at = np.minimum(np.searchsorted(codes, points), len(codes) - 1)
    return ids[at] if np.array_equal(codes[at], points) else None


def _listed(values: Sequence) -> str:
    shown = ", ".join(repr(v) for v in values[:_SHOWN_UNKNOWN])
    return shown + (" …" if len(values) > _SHOWN_UNKNOWN else "")
