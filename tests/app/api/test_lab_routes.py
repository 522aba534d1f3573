"""GET /api/lab and /api/lab/{name}: the experiments and their committed results, exactly
as cells.lab reads them; unknown names and runs not yet committed are 404s that say so."""

import pytest

import cells.lab
from cells.lab.runner import RESULTS
from tests.support import assert_error


def test_every_experiment_is_listed_with_whether_it_has_results(client):
    listed = client.get("/api/lab").json()
    assert [e["name"] for e in listed] == cells.lab.names()
    for e in listed:
        assert e["has_results"] == (RESULTS / f"{e['name']}.json").is_file()
        assert e["title"] and e["source"]


@pytest.mark.parametrize("name", sorted(p.stem for p in RESULTS.glob("*.json")))
def test_results_are_the_committed_file(client, name):
    body = client.get(f"/api/lab/{name}").json()
    expected = cells.lab.results(name)
    assert body["arms"] == expected["arms"] and body["log"] == expected["log"]
    assert body["paper"] == expected["paper"]


def test_unknown_experiment_is_a_404_naming_the_known_ones(client):
    r = client.get("/api/lab/..%2Fsecrets")
    assert r.status_code == 404
    assert_error(client.get("/api/lab/no-such"), 404, "name", "no-such",
                 "experiments: written-memories")
