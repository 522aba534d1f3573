"""Trace downloads: NPZ (one array per signal, no pickles) and CSV, as attachments."""

from __future__ import annotations

import io
import zipfile

import numpy as np

from tests.support import COUNTER_TEXT, counter_trace, create_session


def test_npz_holds_one_array_per_signal(client):
    s = create_session(client, preset="counter", sequence={"text": COUNTER_TEXT})
    response = client.get(f"/api/sessions/{s['id']}/trace",
                          params={"format": "npz", "start": 3, "stop": 20})
    assert response.status_code == 200
    assert response.headers["content-disposition"] == \
        f'attachment; filename="gatescope-{s["id"]}.npz"'
    archive = np.load(io.BytesIO(response.content), allow_pickle=False)
    expected = counter_trace()
    assert sorted(archive.files) == sorted([*expected.names, "t"])
    assert archive["t"].tolist() == list(range(3, 20))
    for name in expected.names:
        assert archive[name].dtype == np.float32
        assert np.array_equal(archive[name], expected.window(3, 20)[name]), name
    with zipfile.ZipFile(io.BytesIO(response.content)) as z:
        assert all(n.endswith(".npy") for n in z.namelist())


def test_npz_of_a_float64_session_and_chosen_names(client):
    s = create_session(client, cell="gru", hidden_size=3, dtype="float64",
                       sequence={"values": [[1.0], [2.0]]})
    response = client.get(f"/api/sessions/{s['id']}/trace",
                          params={"format": "npz", "names": "h,z"})
    archive = np.load(io.BytesIO(response.content), allow_pickle=False)
    assert sorted(archive.files) == ["h", "t", "z"]
    assert archive["h"].dtype == np.float64 and archive["h"].shape == (2, 3)


def test_csv_download_is_an_attachment(client):
    s = create_session(client, preset="counter", sequence={"text": "(a)"})
    response = client.get(f"/api/sessions/{s['id']}/trace", params={"format": "csv"})
    assert response.headers["content-disposition"] == \
        f'attachment; filename="gatescope-{s["id"]}.csv"'
    assert response.text.startswith("t,")


def test_cells_tells_the_stream_settings(make_client):
    client = make_client(send_queue_frames=6, max_play_rate=250.0)
    stream = client.get("/api/cells").json()["stream"]
    assert stream == {"send_queue_frames": 6, "max_play_rate": 250.0}
