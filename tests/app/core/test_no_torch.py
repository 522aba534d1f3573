"""The running app never imports torch: only the conformance tests use it. Nor does it
import onnx or ml_dtypes until a file needs them (each costs most of a second of CPU in
every server, worker and command that starts).

Checked in a fresh interpreter (this one has torch loaded by other tests) that serves the
page, creates sessions from a seed, a preset and uploaded weights, reads a trace and
streams frames.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

SCRIPT = textwrap.dedent(
    """
    import sys, tempfile, warnings
    warnings.filterwarnings("ignore")
    from pathlib import Path
    import numpy as np
    from fastapi.testclient import TestClient
    import cells
    from app.core.factory import create_app
    from app.core.settings import Settings

    data = Path(tempfile.mkdtemp())
    app = create_app(Settings(data_dir=data, allowed_hosts=("testserver",)))
    print(sorted(name for name in ("onnx", "ml_dtypes") if name in sys.modules))
    with TestClient(app) as client:
        assert client.get("/").status_code == 200
        assert client.get("/api/cells").status_code == 200
        r = client.post("/api/sessions", json={"cell": "gru", "hidden_size": 4,
                        "input_size": 2, "seed": 1, "sequence": {"values": [[0, 1], [1, 0]]}})
        assert r.status_code == 201, r.text
        sid = r.json()["id"]
        assert client.get(f"/api/sessions/{sid}/trace?start=0&stop=2").status_code == 200
        with client.websocket_connect(f"/api/sessions/{sid}/stream",
                                      headers={"origin": "http://testserver"}) as ws:
            ws.send_json({"seek": 1})
            assert ws.receive_json()["t"] == 1
        r = client.post("/api/sessions", json={"preset": "counter", "sequence": {"text": "(a)"}})
        assert r.status_code == 201, r.text
        cells.save(cells.create("lstm", input_size=2, hidden_size=3), data / "w.safetensors")
        with open(data / "w.safetensors", "rb") as f:
            r = client.post("/api/weights", files={"file": ("w.safetensors", f.read())})
        assert r.status_code == 201, r.text
    print("torch" in sys.modules)
    """
)


def test_the_app_runs_without_importing_torch():
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-2:] == ["[]", "False"]
