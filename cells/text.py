"""Text as a sequence: one step per grapheme (a character as a reader sees it), one-hot rows
over a vocabulary of tokens.

A grapheme is an extended grapheme cluster of Unicode's text segmentation (UAX #29), as far
as the standard library's `unicodedata` allows: CR LF; a base with its combining marks
(categories Mn, Me, Mc), variation selectors and emoji tags; emoji modifiers (skin tones);
zero-width-joiner sequences of pictographs (👩‍👩‍👧); regional-indicator pairs (flags 🇫🇷);
Hangul jamo sequences; prepended concatenation marks. Not here: the Indic conjunct rule of
Unicode 15.1 (GB9c: "क्ष", consonant + virama + consonant, is two graphemes here, "क्" and
"ष"), and Extended_Pictographic is approximated by the emoji blocks.

A vocabulary is a sequence of tokens: a `str` is its characters (each one token, as every
preset's), a list or tuple holds tokens of one or more code points (a derived vocabulary
of text with "é" = e + U+0301 in it).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

# Grapheme_Cluster_Break classes (UAX #29, table 2), the subset this module tells apart.
_OTHER, _CR, _LF, _CONTROL, _EXTEND, _ZWJ, _RI, _PREPEND, _SPACING = range(9)
_L, _V, _T, _LV, _LVT, _PICT = range(9, 15)

_ZWJ_CP = 0x200D
# Prepended_Concatenation_Mark and the other Prepend characters (they join what follows).
_PREPENDS = frozenset([*range(0x0600, 0x0606), 0x06DD, 0x070F, 0x0890, 0x0891, 0x08E2,
                       0x0D4E, 0x110BD, 0x110CD, 0x111C2, 0x111C3, 0x1193F, 0x11941,
                       0x11A3A, *range(0x11A84, 0x11A8A), 0x11D46])
# Extend characters that are not Mn/Me: ZWNJ, halfwidth sound marks, emoji modifiers, tags.
_EXTRA_EXTEND = ((0x200C, 0x200C), (0xFF9E, 0xFF9F), (0x1F3FB, 0x1F3FF), (0xE0020, 0xE007F))
# Extended_Pictographic, approximated: the emoji and symbol blocks emoji are drawn from.
_PICTOGRAPHS = ((0x00A9, 0x00A9), (0x00AE, 0x00AE), (0x203C, 0x203C), (0x2049, 0x2049),
                (0x2122, 0x2122), (0x2139, 0x2139), (0x2194, 0x21AA), (0x231A, 0x23FF),
                (0x24C2, 0x24C2), (0x25AA, 0x25FE), (0x2600, 0x27BF), (0x2934, 0x2935),
                (0x2B05, 0x2B55), (0x3030, 0x3030), (0x303D, 0x303D), (0x3297, 0x3299),
                (0x1F000, 0x1F1E5), (0x1F200, 0x1F3FA), (0x1F400, 0x1FAFF),
                (0x1FC00, 0x1FFFD))


def _within(cp: int, ranges) -> bool:
    return any(lo <= cp <= hi for lo, hi in ranges)


@lru_cache(maxsize=4096)
def _break_class(ch: str) -> int:
    cp = ord(ch)
    if ch == "\r":
        return _CR
    if ch == "\n":
        return _LF
    if cp == _ZWJ_CP:
        return _ZWJ
    if 0x1F1E6 <= cp <= 0x1F1FF:
        return _RI
    if cp in _PREPENDS:
        return _PREPEND
    if _within(cp, _EXTRA_EXTEND) or 0xFE00 <= cp <= 0xFE0F or 0xE0100 <= cp <= 0xE01EF:
        return _EXTEND
    category = unicodedata.category(ch)
    if category in ("Mn", "Me"):
        return _EXTEND
    if category == "Mc":
        return _SPACING
    if category in ("Cc", "Zl", "Zp", "Cf"):
        return _CONTROL
    if 0x1100 <= cp <= 0x115F or 0xA960 <= cp <= 0xA97C:
        return _L
    if 0x1160 <= cp <= 0x11A7 or 0xD7B0 <= cp <= 0xD7C6:
        return _V
    if 0x11A8 <= cp <= 0x11FF or 0xD7CB <= cp <= 0xD7FB:
        return _T
    if 0xAC00 <= cp <= 0xD7A3:
        return _LV if (cp - 0xAC00) % 28 == 0 else _LVT
    if _within(cp, _PICTOGRAPHS):
        return _PICT
    return _OTHER


# Classes that can join the character before or after them. Two neighbours of other classes
# always have a break between them (GB999), so only the places around these need the rules.
_JOINING = frozenset({_CR, _EXTEND, _ZWJ, _RI, _PREPEND, _SPACING, _L, _V, _T})


@dataclass(frozen=True)
class _Survey:
    """What a text needs: its joining characters ("" when every code point is a grapheme),
    and whether marks and joiners after a base are all (then one regular expression, in C,
    splits it) or flags, pictographs, jamo, prepends or CR LF need the rules."""

    joining: str
    controls: str = ""
    marks_only: bool = True


_SIMPLE = _Survey("")
_MARKS = frozenset({_EXTEND, _SPACING, _ZWJ})


# Kept for the last two texts: the server asks about a text several times in a row
# (checked, counted, indexed), and a str caches its hash, so a hit costs no pass over it.
@lru_cache(maxsize=2)
def _survey(text: str) -> _Survey:
    if text.isascii():
        return _Survey("\r", marks_only=False) if "\r\n" in text else _SIMPLE
    classes = {ch: _break_class(ch) for ch in set(text)}
    joining = sorted(ch for ch, c in classes.items() if c in _JOINING)
    if joining[:1] == ["\r"] and "\r\n" not in text:
        joining = joining[1:]  # a CR joins only an LF
    if not joining:
        return _SIMPLE
    # GB11 (a ZWJ between pictographs) is the one rule of marks that looks further back
    marks_only = (all(classes[ch] in _MARKS for ch in joining)
                  and not ("\u200d" in classes and _PICT in classes.values()))
    controls = "".join(ch for ch, c in classes.items() if c in (_CONTROL, _CR, _LF))
    return _Survey("".join(joining), controls, marks_only)


def _char_class(chars: str) -> str:
    return "".join(re.escape(ch) for ch in chars)


def _joins(before: int, after: int, pict_zwj: bool, ri_odd: bool) -> bool:
    """No break between two code points of classes `before` and `after` (GB3–GB13).
    `pict_zwj`: `before` is a ZWJ after a pictograph and its extenders (GB11); `ri_odd`: an
    odd number of regional indicators precede (GB12/13)."""
    if before == _CR:
        return after == _LF  # GB3, GB4
    if before in (_LF, _CONTROL) or after in (_CR, _LF, _CONTROL):
        return False  # GB4, GB5
    if before == _L:
        if after in (_L, _V, _LV, _LVT):
            return True  # GB6
    elif before in (_LV, _V):
        if after in (_V, _T):
            return True  # GB7
    elif before in (_LVT, _T) and after == _T:
        return True  # GB8
    if after in (_EXTEND, _ZWJ, _SPACING) or before == _PREPEND:
        return True  # GB9, GB9a, GB9b
    if after == _PICT and pict_zwj:
        return True  # GB11
    return before == _RI and after == _RI and ri_odd  # GB12, GB13


def _segment(text: str) -> list[str]:
    out: list[str] = []
    start = 0
    before = _break_class(text[0])
    in_pict = before == _PICT  # a pictograph followed by extenders so far
    pict_zwj = False
    ri_run = 1 if before == _RI else 0
    for k in range(1, len(text)):
        after = _break_class(text[k])
        if not _joins(before, after, pict_zwj, ri_run % 2 == 1):
            out.append(text[start:k])
            start = k
            ri_run = 0
        pict_zwj = in_pict and after == _ZWJ
        in_pict = after == _PICT or (in_pict and after == _EXTEND)
        ri_run = ri_run + 1 if after == _RI else 0
        before = after
    out.append(text[start:])
    return out


def is_simple(text: str) -> bool:
    """True when every code point of `text` is a grapheme of its own (no mark, joiner,
    modifier, flag half, jamo or CR LF in it): steps are then code points, as before."""
    return not _survey(text).joining


def graphemes(text: str) -> list[str]:
    """The user-perceived characters of `text`, in order; "".join(graphemes(t)) == t."""
    if not isinstance(text, str):
        raise ValueError(f"text must be a string, got {type(text).__name__}")
    survey = _survey(text) if text else _SIMPLE
    if not survey.joining:
        return list(text)
    if survey.marks_only:  # a base (not a control) and the marks after it (GB4, GB9, GB9a)
        base = f"[^{_char_class(survey.controls)}]" if survey.controls else "."
        return re.findall(f"{base}[{_char_class(survey.joining)}]*|.", text, re.DOTALL)
    # Runs of joining characters, each with the character before and after it: outside
    # them every code point is a grapheme; inside, the rules decide (regions that overlap
    # are merged, since a character after one run may be the one before the next).
    runs = re.compile(f"[{_char_class(survey.joining)}]+")
    out: list[str] = []
    done = 0  # text[:done] is in `out`
    region = None
    for match in runs.finditer(text):
        start, stop = max(match.start() - 1, 0), min(match.end() + 1, len(text))
        if region is not None and start < region[1]:
            region[1] = stop
            continue
        if region is not None:
            out.extend(_segment(text[region[0]:region[1]]))
            done = region[1]
        out.extend(text[done:start])
        region = [start, stop]
    out.extend(_segment(text[region[0]:region[1]]))
    out.extend(text[region[1]:])
    return out


def derive_vocabulary(text: str) -> str | list[str]:
    """The distinct graphemes of `text`, sorted: a vocabulary for text with no preset. A str
    when each is one code point (as for every text before graphemes), else a list."""
    if not isinstance(text, str) or not text:
        raise ValueError("text is empty; type at least one character")
    if is_simple(text):
        return "".join(sorted(set(text)))
    tokens = sorted(set(graphemes(text)))
    return "".join(tokens) if all(len(t) == 1 for t in tokens) else tokens


def unknown_tokens(text: str, vocabulary: str | Sequence[str]) -> list[str]:
    """The distinct graphemes of `text` that are not tokens of `vocabulary`, sorted."""
    known = set(vocabulary)
    pieces = text if is_simple(text) else graphemes(text)
    return sorted(g for g in set(pieces) if g not in known)


def indices(text: str, vocabulary: str | Sequence[str]) -> np.ndarray:
    """(steps,) int32 index of each grapheme of `text` in `vocabulary` (every one must be a
    token: check with `unknown_tokens` first). Text of simple characters over a str
    vocabulary goes through UTF-32 codes and a sorted search, with no Python loop."""
    if isinstance(vocabulary, str) and is_simple(text):
        codes = np.frombuffer(text.encode("utf-32-le"), np.uint32)
        vocab = np.frombuffer(vocabulary.encode("utf-32-le"), np.uint32)
        order = np.argsort(vocab, kind="stable")
        at = np.searchsorted(vocab[order], codes)
        return order[at].astype(np.int32)
    index = {token: k for k, token in enumerate(vocabulary)}
    pieces = graphemes(text)
    return np.fromiter((index[g] for g in pieces), np.int32, len(pieces))


def one_hot(text: str, vocabulary: str | Sequence[str], dtype=np.float32) -> np.ndarray:
    """(graphemes, len(vocabulary)) rows with a single 1 at each grapheme's token index."""
    if not isinstance(text, str) or not text:
        raise ValueError("text is empty; type at least one character")
    unknown = unknown_tokens(text, vocabulary)
    if unknown:
        shown = ", ".join(repr(ch) for ch in unknown[:20]) + (" …" if len(unknown) > 20 else "")
        raise ValueError(f"text has character(s) outside the vocabulary: {shown}")
    picked = indices(text, vocabulary)
    out = np.zeros((len(picked), len(vocabulary)), dtype)
    out[np.arange(len(picked)), picked] = 1
    return out


def _last_sure_break(text: str) -> int:
    """A position k with a grapheme break before text[k] whatever follows, at or before the
    start of the last grapheme: neither text[k - 1] nor text[k] may join a neighbour."""
    k = len(text) - 1
    while k > 0 and (_break_class(text[k - 1]) in _JOINING or _break_class(text[k]) in _JOINING):
        k -= 1
    return max(k, 0)


def appended(text: str, more: str) -> tuple[int, list[str]]:
    """(dropped, added): the graphemes of text + more are those of `text` without its last
    `dropped`, then `added`. `dropped` is 1 when `more` completes the last grapheme of
    `text` (a combining accent typed after its base, a skin tone after an emoji, the second
    half of a flag): that step's input changed. Only the end of `text` is looked at."""
    if not text:
        return 0, graphemes(more)
    k = _last_sure_break(text)
    old, new = graphemes(text[k:]), graphemes(text[k:] + more)
    same = 0
    while same < min(len(old), len(new)) and old[same] == new[same]:
        same += 1
    return len(old) - same, new[same:]
