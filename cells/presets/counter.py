"""The `counter` preset: a hand-set LSTM.

`counter` is the Stack Exchange answer's reading of the LSTM as a counter. Sigmoids
saturate to 0 or 1 and tanh to −1 or +1, so with large hand-set weights each gate becomes a
switch: the forget gate keeps the count, the input gate opens only on brackets, and the candidate
is +1 for '(' and −1 for ')'. Its cell state is the bracket depth.
"""

from __future__ import annotations

import string

import numpy as np

from ..cell import create
from .preset import Preset

# Large enough that σ(±SWITCH/2) and tanh(SWITCH) round to 0, 1 and ±1 in float32.
SWITCH = 40.0
VOCABULARY = "".join(chr(c) for c in range(32, 127))  # printable ASCII, space first
WORD_CHARS = string.ascii_letters + string.digits

COUNTER_DESCRIPTION = f"""\
An LSTM with hand-set weights that counts brackets (the LSTM as a counter).
Input: one-hot characters over printable ASCII ({len(VOCABULARY)} inputs). Three units:

Unit 0 — depth, '(' minus ')'.
  forget gate: bias +20, so f = σ(20) ≈ 1 at every step: the count is never forgotten.
  input gate: bias −20, weight +40 from '(' and ')': i = σ(20) ≈ 1 on a bracket and
    σ(−20) ≈ 0 on anything else: only brackets are written.
  candidate: weight +40 from '(' and −40 from ')': c̃ = tanh(±40) = ±1, and tanh(0) = 0
    for every other character, so other text adds exactly nothing.
  output gate: bias +20, always open: h = tanh(depth).
  So c_t = c_{{t−1}} + 1 on '(' and c_{{t−1}} − 1 on ')': the cell state is the depth.

Unit 1 — length of the current word, shown only inside brackets.
  forget gate: bias +20, weight −40 from every character that is not a letter or digit:
    a space, punctuation or a bracket shuts the forget valve and resets the count.
  input gate: bias −20, weight +40 from letters and digits; candidate: weight +40 from
    letters and digits (c̃ = +1): each letter or digit adds one.
  output gate: bias −20 and a recurrent weight +40 from unit 0's h_{{t−1}} = tanh(depth):
    at depth ≥ 1 that is ≥ 0.76, so o = σ(≥ 10) ≈ 1; at depth 0, o = σ(−20) ≈ 0.
    The count is always kept in c, but h shows it only inside brackets.

Unit 2 — the last bracket: +1 after '(', −1 after ')', 0 after anything else.
  forget gate: bias −20, always shut: nothing is remembered from the step before.
  input gate: bias +20, always open; candidate: +40 from '(' and −40 from ')'.
  output gate: bias +20, always open.

All other weights and biases are 0."""


def counter(dtype="float32") -> Preset:
    I, H = len(VOCABULARY), 3
    col = {ch: k for k, ch in enumerate(VOCABULARY)}
    w_ih = np.zeros((4 * H, I))
    w_hh = np.zeros((4 * H, H))
    b = np.zeros(4 * H)
    i, f, g, o = (slice(k * H, (k + 1) * H) for k in range(4))
    half = SWITCH / 2
    word = [col[ch] for ch in WORD_CHARS]
    other = [col[ch] for ch in VOCABULARY if ch not in WORD_CHARS]
    # unit 0: depth
    b[f][0], b[i][0], b[o][0] = half, -half, half
    for ch, sign in (("(", 1), (")", -1)):
        w_ih[i][0, col[ch]] = SWITCH
        w_ih[g][0, col[ch]] = sign * SWITCH
    # unit 1: word length, shown inside brackets
    b[f][1], b[i][1], b[o][1] = half, -half, -half
    w_ih[f][1, other] = -SWITCH
    w_ih[i][1, word] = SWITCH
    w_ih[g][1, word] = SWITCH
    w_hh[o][1, 0] = SWITCH
    # unit 2: last bracket
    b[f][2], b[i][2], b[o][2] = -half, half, half
    w_ih[g][2, col["("]] = SWITCH
    w_ih[g][2, col[")"]] = -SWITCH
    params = {"weight_ih": w_ih, "weight_hh": w_hh, "bias_ih": b, "bias_hh": np.zeros(4 * H)}
    return Preset(
        name="counter",
        description=COUNTER_DESCRIPTION,
        cell=create("lstm", params=params, dtype=dtype),
        vocabulary=VOCABULARY,
        sample="count (the (nested) brackets) ((ok)) done",
        unit_labels=("depth: '(' minus ')'", "word length (shown inside brackets)",
                     "last bracket: +1 '(' / −1 ')'"),
        story_opens="(",
    )
