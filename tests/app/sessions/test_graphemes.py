"""Text sessions step per grapheme: steps, the derived vocabulary, append (one grapheme
typed = one step, an accent typed after its base changes that step), messages."""

from __future__ import annotations

import numpy as np

import cells
from tests.support import assert_error, create_session

E_ACUTE = "e\u0301"  # e + COMBINING ACUTE ACCENT: one grapheme, two code points
THUMB = "\U0001F44D\U0001F3FD"  # thumbs up + skin tone


def _trace(client, session_id) -> dict:
    response = client.get(f"/api/sessions/{session_id}/trace")
    assert response.status_code == 200, response.text
    return response.json()["signals"]


def _engine(text: str, vocabulary, hidden_size=3, seed=7) -> cells.Trace:
    """The same session run by the engine, its one-hot rows built here from the graphemes."""
    tokens = list(vocabulary)
    steps = cells.text.graphemes(text)
    rows = np.zeros((len(steps), len(tokens)), np.float32)
    rows[np.arange(len(steps)), [tokens.index(g) for g in steps]] = 1
    cell = cells.create("lstm", input_size=len(tokens), hidden_size=hidden_size, seed=seed)
    return cell.run(rows)


def test_typing_n_e_accent_in_two_appends_equals_the_session_made_at_once(client):
    start = "en" + E_ACUTE  # its vocabulary: e, n and é (e + U+0301)
    typed = create_session(client, cell="lstm", hidden_size=3, seed=7, sequence={"text": start})
    assert typed["steps"] == 3
    assert typed["vocabulary"] == sorted({"e", "n", E_ACUTE})
    assert typed["sequence"] == {"text": start, "clusters": [[2, 2]]}
    sid = typed["id"]
    steps = []
    for piece in ("n", "e", "\u0301"):  # "né" as n, e, U+0301: the accent completes the e
        response = client.post(f"/api/sessions/{sid}/append", json={"text": piece})
        assert response.status_code == 200, response.text
        steps.append(response.json()["steps"])
    assert steps == [4, 5, 5]
    grown = client.get(f"/api/sessions/{sid}").json()
    whole = start + "n" + E_ACUTE
    assert grown["sequence"] == {"text": whole, "clusters": [[2, 2], [4, 2]]}
    at_once = create_session(client, cell="lstm", hidden_size=3, seed=7, sequence={"text": whole})
    assert at_once["steps"] == grown["steps"] == 5
    assert at_once["vocabulary"] == grown["vocabulary"]
    mine, theirs = _trace(client, sid), _trace(client, at_once["id"])
    assert mine == theirs
    expected = _engine(whole, grown["vocabulary"])
    for name, rows in mine.items():
        assert np.array_equal(np.array(rows, np.float32), expected[name]), name


def test_an_append_of_whole_graphemes_extends_the_trace(client, app_state):
    made = create_session(client, cell="lstm", hidden_size=3, seed=7,
                          sequence={"text": "a" + THUMB + "\U0001F44D"})
    assert made["steps"] == 3
    response = client.post(f"/api/sessions/{made['id']}/append", json={"text": "a" + THUMB})
    assert response.json()["steps"] == 5
    text = "a" + THUMB + "\U0001F44Da" + THUMB
    expected = _engine(text, made["vocabulary"])
    for name, rows in _trace(client, made["id"]).items():
        assert np.array_equal(np.array(rows, np.float32), expected[name]), name


def test_a_skin_tone_appended_after_its_emoji_joins_it(client):
    made = create_session(client, cell="lstm", hidden_size=3, seed=7,
                          sequence={"text": "a" + THUMB + "\U0001F44D"})
    grown = client.post(f"/api/sessions/{made['id']}/append", json={"text": "\U0001F3FD"}).json()
    assert grown["steps"] == 3  # the last step is now a second 👍🏽
    expected = _engine("a" + THUMB + THUMB, made["vocabulary"])
    for name, rows in _trace(client, made["id"]).items():
        assert np.array_equal(np.array(rows, np.float32), expected[name]), name


def test_unknown_graphemes_are_named_as_a_reader_sees_them(client, counter_session):
    sid = counter_session["id"]
    assert_error(client.post(f"/api/sessions/{sid}/append", json={"text": "a" + E_ACUTE}),
                 422, "text", repr(E_ACUTE), "counter")
    made = create_session(client, cell="gru", hidden_size=2, seed=1, sequence={"text": "ab"})
    # "b" is known, but b + U+0301 is another grapheme: the step would change its input
    assert_error(client.post(f"/api/sessions/{made['id']}/append", json={"text": "\u0301"}),
                 422, "text", repr("b\u0301"))


def test_a_vocabulary_of_graphemes_is_stored_as_a_list_and_read_back(make_client):
    first = make_client()
    made = create_session(first, cell="lstm", hidden_size=3, seed=7,
                          sequence={"text": "n" + E_ACUTE})
    assert made["vocabulary"] == [E_ACUTE, "n"]  # sorted by code points: e < n
    again = make_client()  # a new app on the same data directory
    read = again.get(f"/api/sessions/{made['id']}").json()
    assert read == made
    assert _trace(again, made["id"]) == _trace(first, made["id"])


def test_text_of_single_code_points_keeps_a_str_vocabulary_and_its_steps(client):
    text = "count ½ — 漢字 \U0001F600"
    made = create_session(client, cell="lstm", hidden_size=3, seed=7, sequence={"text": text})
    assert made["steps"] == len(text)
    assert made["vocabulary"] == "".join(sorted(set(text)))
    assert made["sequence"] == {"text": text}
