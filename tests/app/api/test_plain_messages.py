"""Messages about a sequence's numbers use plain numbers (never a NumPy repr such as
`np.float64(...)`) and count rows and columns from 1, as a person reads them."""

from __future__ import annotations

from tests.support import assert_error

SEED = {"cell": "lstm", "hidden_size": 2, "dtype": "float32"}


def test_a_number_too_big_for_the_dtype_is_named_plainly_by_row_and_column(client):
    body = {**SEED, "sequence": {"values": [[0.0, 0.5], [0.25, 1e300]]}}
    detail = assert_error(client.post("/api/sessions", json=body), 422, "sequence.values[1][1]",
                          "row 2, column 2: 1e+300 does not fit in float32")["detail"]
    assert "np." not in detail and "float64(" not in detail, detail


def test_a_value_that_is_not_a_number_says_its_row_and_column_from_1(client):
    body = {**SEED, "sequence": {"values": [[0.0, 0.5], [0.25, "x"]]}}
    assert_error(client.post("/api/sessions", json=body), 422, "sequence.values[1][1]",
                 "must be a number (row 2, column 2)")


def test_csv_rows_and_columns_count_from_1(client):
    body = {**SEED, "sequence": {"csv": "a,b\n0,1\n2,oops\n"}}
    assert_error(client.post("/api/sessions", json=body), 422, None,
                 "row 3, column 2: 'oops' is not a number")
    body = {**SEED, "sequence": {"csv": "0,1\n2,3,4\n"}}
    assert_error(client.post("/api/sessions", json=body), 422, None,
                 "row 2 has 3 columns but the first row has 2")
