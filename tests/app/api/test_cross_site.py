"""State-changing requests from another site's page are refused (403).

A multipart form or a text/plain POST is a "simple" request: any page the user visits can
send one without asking, so only the browser's Origin / Sec-Fetch-Site tell it apart.
"""

from __future__ import annotations

import json

import pytest

import cells
from tests.support import COUNTER_TEXT, assert_error

BODY = json.dumps({"preset": "counter", "sequence": {"text": "(a)"}})


def weights_file(tmp_path):
    path = tmp_path / "w.safetensors"
    cells.save(cells.create("lstm", input_size=2, hidden_size=3, seed=0), path)
    return path.read_bytes()


@pytest.mark.parametrize("headers", [
    {"origin": "http://evil.example"},
    {"origin": "null"},
    {"origin": "http://testserver:8080"},  # another port is another origin
    {"sec-fetch-site": "cross-site"},
    {"origin": "http://testserver", "sec-fetch-site": "cross-site"},
])
def test_foreign_writes_are_refused(client, tmp_path, counter_session, headers):
    assert_error(client.post("/api/sessions", content=BODY,
                             headers={"content-type": "text/plain", **headers}), 403)
    assert_error(client.post("/api/weights", files={"file": ("w.safetensors",
                                                             weights_file(tmp_path))},
                             headers=headers), 403)
    assert_error(client.post(f"/api/sessions/{counter_session['id']}/append",
                             json={"text": "("}, headers=headers), 403)
    assert client.get(f"/api/sessions/{counter_session['id']}").json()["steps"] == \
        len(COUNTER_TEXT)  # nothing was appended


@pytest.mark.parametrize("headers", [
    {}, {"origin": "http://testserver"}, {"sec-fetch-site": "same-origin"},
    {"sec-fetch-site": "none"},  # typed into the address bar
])
def test_own_page_and_other_clients_may_write(client, tmp_path, headers):
    response = client.post("/api/sessions", json=json.loads(BODY), headers=headers)
    assert response.status_code == 201, response.text
    response = client.post("/api/weights", headers=headers,
                           files={"file": ("w.safetensors", weights_file(tmp_path))})
    assert response.status_code == 201, response.text


def test_listed_origins_may_write(make_client):
    client = make_client(allowed_origins=("http://notebook.example",))
    response = client.post("/api/sessions", json=json.loads(BODY),
                           headers={"origin": "http://notebook.example"})
    assert response.status_code == 201, response.text


def test_reads_from_anywhere_are_not_writes(client, counter_session):
    response = client.get(f"/api/sessions/{counter_session['id']}",
                          headers={"origin": "http://evil.example"})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers  # the browser hides it
