"""cells/text.py: one step per grapheme (UAX #29 extended grapheme clusters).

The cases are written by hand from the rules; ICU's segmenter (Node's Intl.Segmenter, an
independent implementation) is asked about the same texts when Node is installed.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest

from cells import text as T

E_ACUTE = "e\u0301"  # e + COMBINING ACUTE ACCENT
THUMB = "\U0001F44D\U0001F3FD"  # thumbs up + medium skin tone
FAMILY = "\U0001F469\u200d\U0001F469\u200d\U0001F467"  # woman ZWJ woman ZWJ girl
FRANCE = "\U0001F1EB\U0001F1F7"  # regional indicators F, R
RAINBOW_FLAG = "\U0001F3F3\ufe0f\u200d\U0001F308"
HANGUL = "\u1100\u1161\u11a8"  # jamo L V T: one syllable as a reader sees it

CASES = [
    ("abc", ["a", "b", "c"]),
    ("n" + E_ACUTE, ["n", E_ACUTE]),
    ("x" + THUMB + "y", ["x", THUMB, "y"]),
    (FAMILY, [FAMILY]),
    (FRANCE + "\U0001F1E9\U0001F1EA", [FRANCE, "\U0001F1E9\U0001F1EA"]),  # two flags
    ("\U0001F1EB" + FRANCE, ["\U0001F1EB\U0001F1EB", "\U0001F1F7"]),  # pairs from the left
    ("a\r\nb", ["a", "\r\n", "b"]),
    ("a\n\rb", ["a", "\n", "\r", "b"]),
    (RAINBOW_FLAG, [RAINBOW_FLAG]),
    ("\u2764\ufe0f", ["\u2764\ufe0f"]),  # red heart + emoji presentation selector
    (HANGUL + "\uac01", [HANGUL, "\uac01"]),
    ("\n\u0301\u0301", ["\n", "\u0301\u0301"]),  # nothing joins a control (GB4)
    ("a\u0308\u0301b", ["a\u0308\u0301", "b"]),  # several marks on one base
    ("\u0915\u093f", ["\u0915\u093f"]),  # Devanagari ka + vowel sign i (Mc)
    ("\u0600\u0661", ["\u0600\u0661"]),  # Arabic number sign prepends (GB9b)
    ("x\u200dy", ["x\u200d", "y"]),  # ZWJ joins pictographs only (GB11)
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_graphemes_by_hand(text, expected):
    assert T.graphemes(text) == expected
    assert "".join(T.graphemes(text)) == text


def test_devanagari_conjunct_is_two_graphemes_here():
    # Unicode 15.1's GB9c (consonant + virama + consonant) is not implemented: Python 3.11's
    # unicodedata has no Indic_Conjunct_Break, so "क्ष" is "क्" (a base and its virama) and "ष".
    assert T.graphemes("\u0915\u094d\u0937") == ["\u0915\u094d", "\u0937"]


def test_ascii_and_single_code_point_text_is_one_step_per_code_point():
    for text in ("count (the (nested) brackets)", "αβγ 漢字 — ½", "\U0001F600\U0001F600", "a\rb"):
        assert T.graphemes(text) == list(text)
        assert T.is_simple(text)
    assert not T.is_simple("a\r\nb") and not T.is_simple(E_ACUTE)


def test_vocabulary_one_hot_and_indices_go_by_graphemes():
    text = "n" + E_ACUTE + THUMB + "n"
    vocab = T.derive_vocabulary(text)
    assert vocab == sorted({"n", E_ACUTE, THUMB})
    rows = T.one_hot(text, vocab)
    assert rows.shape == (4, 3)
    assert [vocab[k] for k in rows.argmax(axis=1)] == ["n", E_ACUTE, THUMB, "n"]
    # a str vocabulary of characters stays what it was: each character one token
    assert T.derive_vocabulary("banana") == "abn"
    np.testing.assert_array_equal(T.indices("banana", "abn"), [1, 0, 2, 0, 2, 0])
    assert T.unknown_tokens("n" + E_ACUTE, "ne") == [E_ACUTE]
    with pytest.raises(ValueError, match="outside the vocabulary"):
        T.one_hot(E_ACUTE, "e\u0301")  # e and U+0301 as separate tokens: é is not one


def test_appended_says_when_the_last_grapheme_changes():
    assert T.appended("ne", "\u0301") == (1, [E_ACUTE])
    assert T.appended("n", "e") == (0, ["e"])
    assert T.appended("x\U0001F44D", "\U0001F3FD!") == (1, [THUMB, "!"])
    assert T.appended("\U0001F1EB", "\U0001F1F7") == (1, [FRANCE])
    assert T.appended(FRANCE, "\U0001F1F7") == (0, ["\U0001F1F7"])
    assert T.appended("a\r", "\nb") == (1, ["\r\n", "b"])
    rng = np.random.default_rng(3)
    alphabet = ["a", "\u0301", "\u200d", "\U0001F469", "\U0001F3FD", "\U0001F1EB", "\r", "\n"]
    for _ in range(300):
        whole = "".join(rng.choice(alphabet, int(rng.integers(2, 12))))
        cut = int(rng.integers(1, len(whole)))
        dropped, added = T.appended(whole[:cut], whole[cut:])
        before = T.graphemes(whole[:cut])
        assert before[:len(before) - dropped] + added == T.graphemes(whole), repr(whole)


@pytest.mark.skipif(shutil.which("node") is None, reason="Node (ICU's segmenter) not installed")
def test_agrees_with_icu():
    texts = [text for text, _ in CASES]
    rng = np.random.default_rng(11)
    alphabet = ["a", " ", "\u0301", "\u0308", "\u200d", "\U0001F469", "\U0001F467",
                "\U0001F3FD", "\U0001F1EB", "\U0001F1F7", "\r", "\n", "\ufe0f", "\u1100",
                "\u1161", "\u11a8", "\uac00", "\u2764", "\u0915", "\u093f"]
    texts += ["".join(rng.choice(alphabet, 12)) for _ in range(200)]
    script = ("const s = new Intl.Segmenter('en', {granularity: 'grapheme'});"
              "const texts = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
              "const split = (t) => [...s.segment(t)].map((g) => g.segment);"
              "console.log(JSON.stringify(texts.map(split)));")
    out = subprocess.run(["node", "-e", script], input=json.dumps(texts), capture_output=True,
                         text=True, check=True, timeout=60).stdout
    for text, icu in zip(texts, json.loads(out), strict=True):
        assert T.graphemes(text) == icu, repr(text)
