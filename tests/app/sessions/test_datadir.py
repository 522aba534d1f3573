"""The data directory: restarts lose nothing; files are written whole; ids cannot escape."""

from __future__ import annotations

import io
import json
import os

import numpy as np

import cells
from app.sessions.config import SessionConfig
from app.sessions.datadir import Store
from tests.support import COUNTER_TEXT, counter_trace, create_session


def test_a_restarted_server_serves_the_same_sessions(make_client, settings):
    first = make_client()
    preset = create_session(first, preset="counter", sequence={"text": COUNTER_TEXT})
    first.post(f"/api/sessions/{preset['id']}/append", json={"text": "()"})
    seeded = create_session(first, cell="gru", hidden_size=3, seed=9,
                            sequence={"values": [[1.0, 2.0], [3.0, 4.0]]})
    before = first.get(f"/api/sessions/{seeded['id']}/trace").content
    first.__exit__(None, None, None)  # the server stops; its caches are gone

    second = make_client()
    again = second.get(f"/api/sessions/{preset['id']}").json()
    assert again["steps"] == len(COUNTER_TEXT) + 2
    trace = second.get(f"/api/sessions/{preset['id']}/trace").json()["signals"]
    expected = counter_trace(COUNTER_TEXT + "()")
    assert np.array_equal(np.array(trace["c"], np.float32), expected["c"])
    assert second.get(f"/api/sessions/{seeded['id']}/trace").content == before
    with second.websocket_connect(f"/api/sessions/{preset['id']}/stream") as ws:
        ws.send_json({"seek": len(COUNTER_TEXT) + 1})
        assert ws.receive_json()["steps"] == len(COUNTER_TEXT) + 2


def test_uploaded_weights_survive_a_restart(make_client, tmp_path):
    cell = cells.create("lstm", input_size=2, hidden_size=3, seed=1)
    path = tmp_path / "w.npz"
    cells.save(cell, path)
    first = make_client()
    weights_id = first.post("/api/weights",
                            files={"file": ("w.npz", path.read_bytes())}).json()["weights_id"]
    first.__exit__(None, None, None)
    second = make_client()
    s = create_session(second, weights_id=weights_id, sequence={"values": [[1.0, 0.0]]})
    h = second.get(f"/api/sessions/{s['id']}/trace", params={"names": "h"}).json()
    assert np.array_equal(np.array(h["signals"]["h"], np.float32),
                          cell.run(np.array([[1.0, 0.0]]))["h"])


def test_session_config_layout(client, settings):
    s = create_session(client, cell="rnn", hidden_size=2, sequence={"csv": "1\n2\n"})
    path = settings.data_dir / "sessions" / f"{s['id']}.json"
    config = json.loads(path.read_text())
    assert config["cell"] == "rnn" and config["weights"] == {"seed": 0}
    # Numbers are kept as binary .npy beside the JSON, the CSV text as given.
    assert config["csv"] == "1\n2\n" and "values" not in config
    numbers = np.load(settings.data_dir / "sessions" / config["values_file"], allow_pickle=False)
    assert numbers.dtype == np.float64 and numbers.tolist() == [[1.0], [2.0]]
    assert len(config["key"]) == 64
    assert not list((settings.data_dir / "tmp").iterdir())  # no partial files left behind


def test_writes_are_atomic_and_ids_are_checked(tmp_path):
    store = Store(tmp_path)
    config = SessionConfig(id=store.new_session_id(), cell="lstm", options={}, dtype="float32",
                           input_size=1, hidden_size=1, weights={"seed": 0}, vocabulary="a",
                           steps=1, text="a").with_key()
    store.save_session(config)
    assert store.load_session(config.id) == config
    for bad in ("../../etc/passwd", "a/b", "short", "x" * 200, "", "AAAA AAAA AAAA AAAA"):
        assert store.session_path(bad) is None
        assert store.load_session(bad) is None
    assert store.weights_meta("../" + "0" * 61) is None
    assert os.listdir(tmp_path / "tmp") == []


def test_upload_copies_are_cleaned_up(tmp_path):
    store = Store(tmp_path)
    sha, path = store.receive_upload(io.BytesIO(b"abc"), "../../x y.npz", ".npz", 100)
    assert path.name == "x_y.npz" and path.parent.parent == tmp_path / "tmp"
    store.discard(path)
    assert os.listdir(tmp_path / "tmp") == []
