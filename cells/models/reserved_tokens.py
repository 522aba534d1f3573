"""Character vocabularies with reserved tokens: `<pad>`, `</s>`, `<unk>`, `[CLS]` beside
single characters (graphemes), as character models ship them. The text stays one step per
character; a reserved token is one step when typed whole (`ab</s>` is a, b, </s>)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..formats.vocabulary_files import Subwords
from ..text import graphemes
from .encoder import Encoder, tokenizer_of
from .subword_encoder import SubwordEncoder

# <pad>, </s>, <unk>, <|endoftext|>, [PAD], [CLS]: bracketed, no spaces inside.
RESERVED = re.compile(r"<[^<>\s]+>|\[[^\[\]\s]+\]")


def reserved_tokens(tokens: Sequence[str]) -> tuple[str, ...] | None:
    """The reserved tokens of a character vocabulary (every other token one character), or
    None when the vocabulary is not one."""
    longer = tuple(t for t in tokens if len(t) != 1 and len(graphemes(t)) != 1)
    if not longer or not all(RESERVED.fullmatch(t) for t in longer):
        return None
    return longer


def vocabulary_tokenizer(tokens: Sequence[str]) -> str:
    """'subword' for a tokenizer.json's vocabulary; 'chars' for characters with or without
    reserved tokens; else as tokenizer_of says."""
    if isinstance(tokens, Subwords):
        return "subword"
    return "chars" if reserved_tokens(tokens) is not None else tokenizer_of(tokens)


@dataclass(frozen=True)
class ReservedCharsEncoder(Encoder):
    """A character encoder whose vocabulary also holds reserved tokens."""

    def split(self, text: str) -> list[str]:
        if not isinstance(text, str):
            raise ValueError(f"text must be a string, got {type(text).__name__}")
        # the longest reserved token first, so </s> is not read as <, /, s, >
        reserved = sorted(reserved_tokens(self.vocabulary) or (), key=len, reverse=True)
        pieces = re.split("(" + "|".join(map(re.escape, reserved)) + ")", text)
        tokens = []
        for index, piece in enumerate(pieces):  # odd pieces are the reserved tokens
            tokens.extend([piece] if index % 2 else graphemes(piece) if piece else [])
        if not tokens:
            raise ValueError("text is empty; type at least one token")
        return tokens


def encoder_for(encoding: str, width: int, tokens, tokenizer, embedding=None) -> Encoder:
    """The Encoder, the subword one for a tokenizer.json's vocabulary, or the reserved-token
    one for characters with reserved tokens."""
    if isinstance(tokens, Subwords):
        if embedding is not None and len(tokens) < len(embedding):
            tokens = tokens.padded(len(embedding))
        return SubwordEncoder(encoding, width, tokens, "subword", embedding)
    special = tokens is not None and tokenizer == "chars" and reserved_tokens(tokens)
    return (ReservedCharsEncoder if special else Encoder)(encoding, width, tokens, tokenizer,
                                                          embedding)
