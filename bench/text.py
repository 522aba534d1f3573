"""Benchmark text encoding: steps per grapheme (cells/text.py) against the code-point
path it replaced, on 1M-character texts, in the same run.

For each text: the server's work before a trace can start (check the characters against
the vocabulary, then the index of each step). The peer is the code-point path as it was
(a set comprehension for unknown characters, then UTF-32 codes and a sorted search). Text
with no character that joins a neighbour takes the code-point path again (the fast path),
so ASCII and other single-code-point text should cost about the same; text with combining
marks pays for the segmentation. Prints best-of-5 figures and ratios; asserts nothing.

    .venv/bin/python bench/text.py
"""

from __future__ import annotations

import sys
import time
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cells.text as T  # noqa: E402

N = 1_000_000


def code_point_path(text: str, vocabulary: str) -> np.ndarray:
    """The encoding before graphemes: one step per code point."""
    known = set(vocabulary)
    unknown = {ch for ch in text if ch not in known}
    assert not unknown
    codes = np.frombuffer(text.encode("utf-32-le"), np.uint32)
    vocab = np.frombuffer(vocabulary.encode("utf-32-le"), np.uint32)
    order = np.argsort(vocab, kind="stable")
    return order[np.searchsorted(vocab[order], codes)].astype(np.int32)


def grapheme_path(text: str, vocabulary) -> np.ndarray:
    assert not T.unknown_tokens(text, vocabulary)
    return T.indices(text, vocabulary)


def fresh_grapheme_path(text: str, vocabulary) -> np.ndarray:
    T._survey.cache_clear()  # the first look at a text is part of the cost
    return grapheme_path(text, vocabulary)


def best(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    rng = np.random.default_rng(0)
    cases = [("ASCII", list("abcdefgh ij\n.,")),
             ("Greek + CJK (one code point each)", list("αβγδεζ漢字かな ")),
             ("accents as e + U+0301", ["a", "e\u0301", "i", "o", " "]),
             ("emoji with skin tones", ["a", " ", "\U0001F44D\U0001F3FD", "\U0001F44D"])]
    print(f"{'text':36s} {'code points':>11s} {'steps':>9s} {'before ms':>10s} "
          f"{'after ms':>9s} {'ratio':>6s}")
    for name, alphabet in cases:
        text = "".join(rng.choice(alphabet, N))
        before_vocab = "".join(sorted(set(text)))
        after_vocab = T.derive_vocabulary(text)
        after = best(partial(fresh_grapheme_path, text, after_vocab))
        before = best(partial(code_point_path, text, before_vocab))
        steps = len(grapheme_path(text, after_vocab))
        print(f"{name:36s} {len(text):>11d} {steps:>9d} {before * 1e3:>10.1f} "
              f"{after * 1e3:>9.1f} {after / before:>6.2f}")


if __name__ == "__main__":
    main()
