"""POST /api/sessions with "interventions": held signals are part of the session (stored,
returned by GET, in its identity), the trace equals the engine's run with them, and a wrong
item is a 422 naming it."""

import numpy as np
import pytest

import cells
from tests.support import COUNTER_TEXT, assert_error, create_session, of_first_part

WRITE_IT_DOWN = [{"signal": "f", "start": 5, "stop": 30, "units": None, "value": 1.0},
                 {"signal": "i", "start": 5, "stop": 30, "units": None, "value": 0.0}]


def test_round_trip_and_trace_equal_the_engine(client):
    s = create_session(client, preset="counter", sequence={"text": COUNTER_TEXT},
                       interventions=WRITE_IT_DOWN)
    assert s["interventions"] == of_first_part(WRITE_IT_DOWN)
    again = client.get(f"/api/sessions/{s['id']}").json()
    assert again["interventions"] == of_first_part(WRITE_IT_DOWN)
    trace = client.get(f"/api/sessions/{s['id']}/trace", params={"names": "c,f,i"}).json()
    preset = cells.presets.get("counter")
    engine = preset.cell.run(preset.encode(COUNTER_TEXT), interventions=WRITE_IT_DOWN)
    for name in ("c", "f", "i"):
        np.testing.assert_array_equal(np.asarray(trace["signals"][name], np.float32),
                                      engine[name])
    c = np.asarray(trace["signals"]["c"])
    np.testing.assert_array_equal(c[5:30], np.repeat(c[4:5], 25, axis=0))  # written down


def test_interventions_are_part_of_the_identity(client):
    plain = create_session(client, preset="counter", sequence={"text": COUNTER_TEXT})
    held = create_session(client, preset="counter", sequence={"text": COUNTER_TEXT},
                          interventions=WRITE_IT_DOWN)
    assert plain["interventions"] == []
    services = client.app.state.sessions
    assert services.get(plain["id"]).key != services.get(held["id"]).key
    one = client.get(f"/api/sessions/{plain['id']}/trace", params={"names": "c"}).json()
    two = client.get(f"/api/sessions/{held['id']}/trace", params={"names": "c"}).json()
    assert one["signals"]["c"][:5] == two["signals"]["c"][:5]  # nothing changes before
    assert one["signals"]["c"][10] != two["signals"]["c"][10]


def test_survive_a_restart_and_sensitivity_sees_them(make_client):
    first = make_client()
    s = create_session(first, cell="lstm", hidden_size=3, seed=4, dtype="float64",
                       sequence={"values": np.ones((20, 2)).tolist()},
                       interventions=[{"signal": "f", "start": 0, "stop": 20, "units": [1],
                                       "value": 1.0},
                                      {"signal": "i", "start": 0, "stop": 20, "units": [1],
                                       "value": 0.0}])
    second = make_client()  # a new app on the same data directory
    assert second.get(f"/api/sessions/{s['id']}").json()["interventions"] == s["interventions"]
    body = second.get(f"/api/sessions/{s['id']}/sensitivity",
                      params={"t": 15, "unit": 1, "of": "c"}).json()
    # f = 1 on unit 1 with i = 0: c_15[1] = c_s[1] exactly, so the c path is 1 all along
    np.testing.assert_array_equal(body["c"], np.ones(16))


@pytest.mark.parametrize("item, fragment", [
    ({"signal": "q", "start": 0, "stop": 2, "value": 1.0}, "cannot be held"),
    ({"signal": "f", "start": 0, "stop": 99, "value": 1.0}, "inside the sequence"),
    ({"signal": "f", "start": 3, "stop": 3, "value": 1.0}, "non-empty range"),
    ({"signal": "f", "start": 0, "stop": 2, "value": 2.0}, "outside the range of f"),
    ({"signal": "f", "start": 0, "stop": 2, "units": [99], "value": 1.0}, "[99]"),
    ({"signal": "c", "start": 0, "stop": 2, "units": [], "value": 1.0}, "non-empty list"),
])
def test_bad_items_are_refused_by_name(client, item, fragment):
    r = client.post("/api/sessions", json={"preset": "counter",
                                           "sequence": {"text": COUNTER_TEXT},
                                           "interventions": [item]})
    body = assert_error(r, 422, "interventions", fragment)
    assert "interventions[0]" in body["detail"]


def test_schema_refusals(client):
    for item in ({"signal": "f", "start": 0, "stop": 2},  # no value
                 {"signal": "f", "start": 0, "stop": 2, "value": "1"},
                 {"signal": "f", "start": 0, "stop": 2, "value": 1, "extra": 1}):
        r = client.post("/api/sessions", json={"preset": "counter",
                                               "sequence": {"text": COUNTER_TEXT},
                                               "interventions": [item]})
        assert r.status_code == 422 and "interventions" in r.json()["detail"], r.text
    r = client.post("/api/sessions", content=b'{"preset": "counter", "sequence": {"text": "ab"},'
                    b' "interventions": [{"signal": "f", "start": 0, "stop": 1, "value": NaN}]}',
                    headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text


def test_difference_is_new_minus_original(client):
    plain = create_session(client, preset="counter", sequence={"text": COUNTER_TEXT})
    held = create_session(client, preset="counter", sequence={"text": COUNTER_TEXT},
                          interventions=WRITE_IT_DOWN)
    assert set(held["holdable"]) >= {"i", "f", "g", "o", "c"} and "x" not in held["holdable"]
    body = client.get(f"/api/sessions/{held['id']}/difference",
                      params={"from": plain["id"], "names": "h,c", "start": 2, "stop": 40}).json()
    preset = cells.presets.get("counter")
    xs = preset.encode(COUNTER_TEXT)
    new = preset.cell.run(xs, interventions=WRITE_IT_DOWN)
    orig = preset.cell.run(xs)
    for name in ("h", "c"):
        expected = new[name][2:40].astype(np.float64) - orig[name][2:40]
        np.testing.assert_array_equal(body["signals"][name], expected)
    other = create_session(client, cell="gru", hidden_size=3, seed=0,
                           sequence={"text": COUNTER_TEXT})
    assert_error(client.get(f"/api/sessions/{held['id']}/difference",
                            params={"from": other["id"]}), 422, "from", "differs in cell")
    assert client.get(f"/api/sessions/{held['id']}/difference",
                      params={"from": "0" * 22}).status_code == 404
