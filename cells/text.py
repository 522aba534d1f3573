"""Text as a sequence: one-hot rows over a vocabulary of characters."""

from __future__ import annotations

import numpy as np


def derive_vocabulary(text: str) -> str:
    """The distinct characters of `text`, sorted: a vocabulary for text with no preset."""
    if not isinstance(text, str) or not text:
        raise ValueError("text is empty; type at least one character")
    return "".join(sorted(set(text)))


def one_hot(text: str, vocabulary: str, dtype=np.float32) -> np.ndarray:
    """(len(text), len(vocabulary)) rows with a single 1 at each character's index."""
    if not isinstance(text, str) or not text:
        raise ValueError("text is empty; type at least one character")
    index = {ch: k for k, ch in enumerate(vocabulary)}
    unknown = sorted({ch for ch in text if ch not in index})
    if unknown:
        shown = ", ".join(repr(ch) for ch in unknown[:20]) + (" …" if len(unknown) > 20 else "")
        raise ValueError(f"text has character(s) outside the vocabulary: {shown}")
    out = np.zeros((len(text), len(vocabulary)), dtype)
    out[np.arange(len(text)), [index[ch] for ch in text]] = 1
    return out
