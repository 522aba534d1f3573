"""The CSV of a text session names the input token of every step (issue 19)."""

from __future__ import annotations

import csv
import io

import numpy as np

from tests.support import create_session

TEXT = 'say "a, b"\n(ok)'


def rows_of(client, sid, **params):
    response = client.get(f"/api/sessions/{sid}/trace", params={"format": "csv", **params})
    assert response.status_code == 200, response.text
    return list(csv.reader(io.StringIO(response.text)))


def test_the_csv_export_of_a_text_session_has_a_token_column(client):
    s = create_session(client, cell="lstm", hidden_size=3, seed=1, sequence={"text": TEXT})
    rows = rows_of(client, s["id"])
    assert rows[0][:2] == ["t", "token"]
    assert [r[1] for r in rows[1:]] == list(TEXT)  # commas, quotes and the newline kept
    assert [int(r[0]) for r in rows[1:]] == list(range(len(TEXT)))
    window = client.get(f"/api/sessions/{s['id']}/trace", params={"names": "c"}).json()
    c_at = rows[0].index("c[0]")
    got = np.array([r[c_at:c_at + 3] for r in rows[1:]], np.float64)
    assert np.array_equal(got.astype(np.float32), np.array(window["signals"]["c"], np.float32))
    part = rows_of(client, s["id"], start=4, stop=8, names="h", tokens="true")
    assert [r[:2] for r in part[1:]] == [[str(t), TEXT[t]] for t in range(4, 8)]


def test_a_numbers_session_and_a_named_window_have_no_token_column(client):
    s = create_session(client, cell="lstm", hidden_size=2, sequence={"values": [[1.0], [2.0]]})
    assert "token" not in rows_of(client, s["id"])[0]
    t = create_session(client, preset="counter", sequence={"text": "(a)"})
    assert "token" not in rows_of(client, t["id"], names="c")[0]
