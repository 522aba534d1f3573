"""CSV as a person writes it: a BOM is dropped, only an all-non-numeric first row is a
header, rows split on newlines only, and a bad cell is named by row and column."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support import assert_error, create_session

SEED = {"cell": "lstm", "hidden_size": 2}


def inputs(client, csv_text):
    s = create_session(client, **SEED, sequence={"csv": csv_text})
    x = client.get(f"/api/sessions/{s['id']}/trace", params={"names": "x"}).json()
    return np.array(x["signals"]["x"], np.float64).tolist()


def test_a_bom_is_dropped_and_its_row_kept(client):
    assert inputs(client, "\ufeff1,2\n3,4\n") == [[1.0, 2.0], [3.0, 4.0]]
    assert inputs(client, "\ufeffa,b\n3,4\n") == [[3.0, 4.0]]


@pytest.mark.parametrize(("text", "where"), [
    ("1,a\n2,3\n", "row 1, column 2: 'a' is not a number"),  # a half-numeric first row
    ("a,b\n1,2\n3,abc\n", "row 3, column 2: 'abc' is not a number"),
    ("1;2\n3;4\n", "row 2, column 1: '3;4' is not a number"),  # ';' never splits
    ("1,2\n3,NaN\n", "row 2, column 2: 'NaN' is not finite"),
    ("1,2\ninf,3\n", "row 2, column 1: 'inf' is not finite"),
])
def test_bad_cells_are_named_by_row_and_column(client, text, where):
    assert_error(client.post("/api/sessions", json={**SEED, "sequence": {"csv": text}}), 422,
                 "sequence.csv", where)


def test_only_newlines_split_rows(client):
    assert inputs(client, "1\r\n2\n\n3\r\n") == [[1.0], [2.0], [3.0]]
