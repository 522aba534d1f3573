"""Bounded disk: numbers are stored compactly, and a byte budget evicts least recently used
uploads no session uses first, then the oldest sessions."""

from __future__ import annotations

import json
import os

import numpy as np

import cells
from tests.support import create_session


def stored_bytes(data_dir) -> int:
    """Bytes of sessions and uploads (not partial writes or locks)."""
    return sum(f.stat().st_size for f in data_dir.rglob("*") if f.is_file()
               and f.relative_to(data_dir).parts[0] in ("sessions", "weights"))


def upload(client, tmp_path, seed, hidden=8):
    path = tmp_path / f"w{seed}.safetensors"
    cells.save(cells.create("lstm", input_size=4, hidden_size=hidden, seed=seed), path)
    response = client.post("/api/weights", files={"file": (path.name, path.read_bytes())})
    assert response.status_code == 201, response.text
    return response.json()["weights_id"]


def test_numbers_are_stored_as_binary_beside_a_small_config(client, settings):
    values = np.random.default_rng(0).standard_normal((20_000, 4)).tolist()
    body = json.dumps({"cell": "lstm", "hidden_size": 2, "sequence": {"values": values}})
    s = client.post("/api/sessions", content=body,
                    headers={"content-type": "application/json"}).json()
    folder = settings.data_dir / "sessions"
    config = folder / f"{s['id']}.json"
    numbers = folder / json.loads(config.read_text())["values_file"]
    assert config.stat().st_size < 2000
    assert numbers.stat().st_size < 20_000 * 4 * 8 + 200 < len(body) // 2
    assert np.array_equal(np.load(numbers, allow_pickle=False), np.array(values))


def test_the_budget_evicts_unused_uploads_first_then_old_sessions(make_client, settings,
                                                                  tmp_path):
    client = make_client()
    unused_old = upload(client, tmp_path, 1)
    unused_new = upload(client, tmp_path, 2)
    used = upload(client, tmp_path, 3)
    # Least recently used goes first: make the first upload's last use a minute older than
    # the second's (a clock may stamp both uploads alike).
    weights = settings.data_dir / "weights"
    newer = (weights / f"{unused_new}.json").stat().st_mtime_ns
    os.utime(weights / f"{unused_old}.json", ns=(newer - 60 * 10**9,) * 2)
    session = create_session(client, weights_id=used, sequence={"values": [[0.0] * 4]})
    one_upload = (weights / f"{used}.safetensors").stat().st_size
    # Room for about two uploads and the session: the oldest unused upload must go.
    usage = stored_bytes(settings.data_dir)
    tight = make_client(max_store_bytes=usage - one_upload // 2)
    create_session(tight, cell="gru", hidden_size=2, sequence={"text": "ab"})
    assert not (weights / f"{unused_old}.safetensors").exists()
    assert (weights / f"{unused_new}.safetensors").exists()
    assert (weights / f"{used}.safetensors").exists()
    assert tight.get(f"/api/sessions/{session['id']}").status_code == 200
    # Far too little room: sessions go too, oldest first, and then their uploads.
    tiny = make_client(max_store_bytes=one_upload // 4)
    newest = create_session(tiny, cell="rnn", hidden_size=2, sequence={"text": "xy"})
    assert tiny.get(f"/api/sessions/{session['id']}").status_code == 404
    assert tiny.get(f"/api/sessions/{newest['id']}").status_code == 200
    assert not (weights / f"{used}.safetensors").exists()
    assert stored_bytes(settings.data_dir) < one_upload


def test_an_upload_in_use_is_marked(client, settings, tmp_path):
    used = upload(client, tmp_path, 4)
    s = create_session(client, weights_id=used, sequence={"values": [[0.0] * 4]})
    assert os.listdir(settings.data_dir / "weights" / f"{used}.refs") == [s["id"]]
