"""Text through a model's own subword tokenizer (a tokenizer.json read with the
`tokenizers` library): its ids go to the embedding, and each step is shown as the piece of
the typed text it covers, so the page's time axis reads as the text does."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .encoder import Encoder


@dataclass(frozen=True)
class SubwordEncoder(Encoder):
    """An Encoder whose vocabulary is a cells.formats.vocabulary_files.Subwords."""

    _tokenizer: object = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self):
        super().__post_init__()
        from tokenizers import Tokenizer

        object.__setattr__(self, "_tokenizer", Tokenizer.from_str(self.vocabulary.json))

    def _encode(self, text: str):
        if not isinstance(text, str):
            raise ValueError(f"text must be a string, got {type(text).__name__}")
        encoding = self._tokenizer.encode(text, add_special_tokens=False)
        if not encoding.ids:
            raise ValueError("text is empty; type at least one token")
        return encoding

    def split(self, text: str) -> list[str]:
        """Each token as the text it covers (a byte-level token's own string, "Ġthe", where
        a character is split across tokens)."""
        encoding = self._encode(text)
        pieces = [text[a:b] for a, b in encoding.offsets]
        return [piece or token for piece, token in zip(pieces, encoding.tokens, strict=True)]

    def ids(self, text: str) -> np.ndarray:
        return np.asarray(self._encode(text).ids, np.int64)
