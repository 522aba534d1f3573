"""The counter preset counts '(' minus ')' on nested brackets mixed with other text."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cells
from cells.presets import VOCABULARY

FILLER = st.text(alphabet=[c for c in VOCABULARY if c not in "()"], max_size=4)


@st.composite
def bracketed(draw, depth_max=20):
    """A balanced-or-not bracket string up to depth 20, with text between brackets."""
    depth, out = 0, []
    for _ in range(draw(st.integers(1, 60))):
        out.append(draw(FILLER))
        if depth < depth_max and (depth == 0 or draw(st.booleans())):
            out.append("(")
            depth += 1
        else:
            out.append(")")
            depth -= 1
    return "".join(out)


@settings(max_examples=80, deadline=None)
@given(bracketed(), st.sampled_from(["float32", "float64"]))
def test_counter_cell_state_is_the_depth(text, dtype):
    preset = cells.presets.get("counter", dtype=dtype)
    c = preset.cell.run(preset.encode(text))["c"][:, 0]
    depth = np.cumsum([1 if ch == "(" else -1 if ch == ")" else 0 for ch in text])
    assert np.abs(c - depth).max() < 1e-3
    assert max(depth) <= 20


def test_depth_twenty_exactly():
    preset = cells.presets.get("counter")
    text = "".join(f"({chr(97 + k)} " for k in range(20)) + ")" * 20
    trace = preset.cell.run(preset.encode(text))
    c = trace["c"][:, 0]
    assert round(float(c.max())) == 20 and abs(c[-1]) < 1e-3
    # The story: forget valve open everywhere, input valve open only on brackets.
    brackets = np.array([ch in "()" for ch in text])
    assert trace["f"][:, 0].min() > 0.999
    assert trace["i"][brackets, 0].min() > 0.999 and trace["i"][~brackets, 0].max() < 1e-3
    np.testing.assert_array_equal(np.sign(trace["g"][brackets, 0]),
                                  [1 if ch == "(" else -1 for ch in text if ch in "()"])


def test_word_length_and_last_bracket_units():
    preset = cells.presets.get("counter")
    trace = preset.cell.run(preset.encode("ab (cde) x"))
    c = trace["c"]
    assert [round(float(v)) for v in c[:, 1]] == [1, 2, 0, 0, 1, 2, 3, 0, 0, 1]
    assert [round(float(v)) for v in c[:, 2]] == [0, 0, 0, 1, 0, 0, 0, -1, 0, 0]
    h = trace["h"][:, 1]
    assert h[1] < 1e-3 and h[5] > 0.9  # word length shown only inside brackets


def test_preset_api():
    assert "counter" in cells.presets.names()
    p = cells.presets.get("counter")
    assert p.cell.input_size == len(p.vocabulary) and p.encode(p.sample).shape[0] == len(p.sample)
    assert "forget" in p.description and "+40" in p.description
    with pytest.raises(ValueError, match="outside the vocabulary: 'é'"):
        p.encode("(é)")
    with pytest.raises(ValueError, match="unknown preset"):
        cells.presets.get("nope")


def test_text_helpers():
    assert cells.text.derive_vocabulary("hello") == "ehlo"
    np.testing.assert_array_equal(cells.text.one_hot("ab", "ab"), np.eye(2))
    with pytest.raises(ValueError, match="empty"):
        cells.text.one_hot("", "ab")
