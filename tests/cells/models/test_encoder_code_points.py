"""Encoder.ids looks a text's code points up all at once when every grapheme is one code
point: the same ids as one dictionary lookup per token, and the same errors."""

import numpy as np
import pytest

import cells
from cells.text import graphemes


def _one_by_one(encoder, text):
    index = {token: k for k, token in enumerate(encoder.vocabulary)}
    return np.array([index[token] for token in graphemes(text)], np.int64)


@pytest.mark.parametrize("text", [
    "the cat sat\n" * 50,  # one code point per grapheme: the vectorized lookup
    "ab\ud800\nz" * 7,  # a lone surrogate is a token too
    "e\u0301a\u00e9b",  # a combining mark makes a two-code-point grapheme: the dict path
    "\U0001f600a\u00e9",  # beyond the Basic Multilingual Plane
])
def test_ids_equal_one_lookup_per_token(text):
    model = cells.char_model("lstm", cells.text.derive_vocabulary(text), 3)
    ids = model.encoder.ids(text)
    assert ids.dtype == np.int64
    np.testing.assert_array_equal(ids, _one_by_one(model.encoder, text))


def test_unknown_characters_are_named():
    model = cells.char_model("lstm", "abc", 3)
    with pytest.raises(ValueError, match="'z'"):
        model.encoder.ids("abz" * 100)
    with pytest.raises(ValueError, match="'~'"):
        model.encoder.ids("~")  # sorts after every token of the vocabulary
