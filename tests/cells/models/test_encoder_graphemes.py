"""One text encoder: a character model steps per grapheme, as a single cell does."""

import numpy as np

import cells
from cells.models.encoder import Encoder, tokenizer_of
from cells.models.model import Model

E_ACUTE = "e\u0301"  # "é" typed as e + U+0301: two code points, one character
VOCABULARY = ["a", "b", E_ACUTE]
TEXT = f"a{E_ACUTE}b{E_ACUTE}"


def test_a_combining_accent_is_one_token():
    assert tokenizer_of(VOCABULARY) == "chars"
    encoder = Encoder("one_hot", 3, tuple(VOCABULARY), "chars")
    assert encoder.split(TEXT) == ["a", E_ACUTE, "b", E_ACUTE]
    assert encoder.ids(TEXT).tolist() == [0, 2, 1, 2]


def test_a_char_model_steps_like_a_cell():
    cell = cells.create("gru", input_size=3, hidden_size=4, seed=1, dtype="float64")
    model = Model([{"forward": cell}], Encoder("one_hot", 3, tuple(VOCABULARY), "chars"))
    trace = model.run(TEXT)
    assert len(trace) == 4 == len(cells.text.graphemes(TEXT))
    alone = cell.run(cells.text.one_hot(TEXT, VOCABULARY, np.float64))
    np.testing.assert_array_equal(trace.layer(0)["h"], alone["h"])


def test_char_model_trains_on_text_with_combining_marks():
    vocabulary = cells.text.derive_vocabulary(TEXT * 3)
    assert vocabulary == ["a", "b", E_ACUTE]
    model = cells.char_model("lstm", vocabulary, hidden_size=3, seed=0)
    assert model.encoder.tokenizer == "chars"
    assert len(model.run(TEXT)) == 4
