"""Page benchmark on a Mamba of the 130M configuration (Playwright + Chromium against a real
server on loopback): key (ArrowRight) → painted frame with the bank of every channel shown.

The model is mambapy's LM at 24 layers, d_model 768, d_state 16, expand 2 and a 50,280-token
vocabulary (random weights, written by mambapy as bench/mamba_model.py writes it), uploaded
with a word vocabulary of that many tokens; the session runs 1,000 of them. The server is
started with the limits such a session needs raised by GATESCOPE_* variables (the upload
size, the file's tensor bytes, the numbers a run holds; the defaults stay as they are). The page
shows the last layer's bank (1,536 channel rows) and its drill-down. In the same run, the
peer: a small Mamba session (one layer, H = 16) with its bank shown.

Measured as bench/page.py measures it: inside the page, keydown → the diagram's data-t
changes (DOM) → the next animation frame (painted), p50 / p99.
Target: key → painted frame p50 ≤ 33 ms on the 130M session.
Run: .venv/bin/python bench/page_mamba.py [--keys 100] [--tokens 1000] [--layers 24]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from page import LAUNCH, PROBE, SERVE, free_port, pct  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
VOCABULARY, D_MODEL, D_STATE, EXPAND, D_CONV = 50_280, 768, 16, 2, 4
TARGET_MS = 33.0
# The limits a 130M session needs raised, for this server only: its file (~640 MiB), its
# largest tensor (the 154 MB embedding, and the head), and the numbers its run holds per
# step (156,624: every layer's rows and the head's logits and probabilities over 50,280
# tokens; 157 million over 1,000 steps).
LIMITS = {"MAX_UPLOAD_BYTES": 2**30, "MAX_FILE_TENSOR_BYTES": 2**31,
          "MAX_INPUT_VALUES": 200_000_000}


def write_model(folder: Path, layers: int) -> Path:
    """mambapy's LM with random weights, its state dict written by safetensors, and a word
    vocabulary of VOCABULARY tokens beside it."""
    import torch
    from safetensors.torch import save_file

    sys.path.insert(0, str(ROOT))
    from cells.presets.recipes.selective_copy import language_model

    torch.manual_seed(0)
    module = language_model(VOCABULARY, d_model=D_MODEL, n_layers=layers, d_state=D_STATE,
                            expand_factor=EXPAND, d_conv=D_CONV, pscan=True)
    path = folder / "model.safetensors"
    save_file({k: v.detach().contiguous() for k, v in module.state_dict().items()}, str(path))
    (folder / "vocab.txt").write_text("".join(f"w{k}\n" for k in range(VOCABULARY)))
    return path


def upload(base: str, path: Path) -> str:
    import httpx

    with open(path, "rb") as weights, open(path.parent / "vocab.txt", "rb") as vocabulary:
        response = httpx.post(f"{base}/api/weights", timeout=600,
                              files={"file": ("model.safetensors", weights),
                                     "vocabulary": ("vocab.txt", vocabulary)})
    if response.status_code != 201:
        raise SystemExit(f"upload refused: {response.status_code} {response.text}")
    return response.json()["weights_id"]


def create(base: str, body: dict) -> str:
    """A session's id (a 130M one runs the whole model first: minutes on a loaded machine)."""
    request = urllib.request.Request(f"{base}/api/sessions", data=json.dumps(body).encode(),
                                     method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=1800) as answer:
            return json.loads(answer.read())["id"]
    except urllib.error.HTTPError as error:
        raise SystemExit(f"session refused: {error.code} {error.read().decode()}") from None


def measure(page, base: str, sid: str, layer: int, keys: int) -> dict:
    page.goto(f"{base}/?session={sid}&t=0&layer={layer}")
    page.wait_for_function(
        "() => document.querySelector('svg[data-diagram]')?.dataset.t === '0'", timeout=300_000)
    page.wait_for_function(
        "() => { const b = document.querySelector('[data-view=bank]');"
        " return b && !b.hidden && b.dataset.t === '0'; }", timeout=300_000)
    page.evaluate(PROBE)
    page.locator("body").click(position={"x": 3, "y": 3})
    for k in range(1, keys + 1):
        page.keyboard.press("ArrowRight")
        page.wait_for_function(
            "t => document.querySelector('svg[data-diagram]').dataset.t === String(t)"
            " && document.querySelector('[data-view=bank]').dataset.t === String(t)",
            arg=k, timeout=120_000)
    page.wait_for_timeout(100)
    b = page.evaluate("() => window.__bench")
    rows = page.locator("[data-view=bank] .bank-rows span").count()
    return {"dom_p50": pct(b["dom"], 50), "dom_p99": pct(b["dom"], 99),
            "frame_p50": pct(b["frame"], 50), "frame_p99": pct(b["frame"], 99),
            "keys": len(b["frame"]), "rows": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keys", type=int, default=100)
    ap.add_argument("--tokens", type=int, default=1000)
    ap.add_argument("--layers", type=int, default=24)
    args = ap.parse_args()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as data_dir, tempfile.TemporaryDirectory() as folder:
        t0 = time.perf_counter()
        path = write_model(Path(folder), args.layers)
        print(f"model written by mambapy in {time.perf_counter() - t0:.1f} s "
              f"({path.stat().st_size / 2**20:.0f} MiB)")
        env = {**os.environ, "GATESCOPE_DATA_DIR": data_dir, "PYTHONPATH": str(ROOT),
               **{f"GATESCOPE_{k}": str(v) for k, v in LIMITS.items()}}
        proc = subprocess.Popen([sys.executable, "-c", SERVE, str(port)], cwd=ROOT, env=env)
        try:
            for _ in range(300):
                try:
                    urllib.request.urlopen(f"{base}/api/cells", timeout=1)
                    break
                except OSError:
                    time.sleep(0.1)
            t0 = time.perf_counter()
            weights_id = upload(base, path)
            print(f"uploaded in {time.perf_counter() - t0:.1f} s")
            text = " ".join(f"w{(k * 7919) % VOCABULARY}" for k in range(args.tokens))
            t0 = time.perf_counter()
            big = create(base, {"weights_id": weights_id, "sequence": {"text": text}})
            print(f"session of {args.tokens} tokens created in {time.perf_counter() - t0:.1f} s")
            small = create(base, {
                "cell": "mamba", "hidden_size": 16, "seed": 0,
                "sequence": {"values": [[((k * 37) % 11) / 5 - 1] for k in range(2000)]}})
            with sync_playwright() as p:
                browser = p.chromium.launch(**LAUNCH)
                page = browser.new_page(viewport={"width": 1500, "height": 1100})
                errors: list[str] = []
                page.on("pageerror", lambda e: errors.append(str(e)))
                print(f"load average at start: {os.getloadavg()} on {os.cpu_count()} cores")
                print(f"{'session':>34}  {'bank rows':>9}  {'key→DOM p50/p99 ms':>20}"
                      f"  {'key→frame p50/p99 ms':>22}")
                for name, sid, layer in (
                        ("small Mamba (H 16, E 32)", small, 0),
                        (f"130M Mamba (layer {args.layers - 1} of {args.layers})", big,
                         args.layers - 1)):
                    r = measure(page, base, sid, layer, args.keys)
                    print(f"{name:>34}  {r['rows']:>9}  {r['dom_p50']:>9.1f} / "
                          f"{r['dom_p99']:<8.1f}  {r['frame_p50']:>10.1f} / {r['frame_p99']:<9.1f}")
                print(f"target: key→frame p50 ≤ {TARGET_MS:.0f} ms on the 130M session")
                print(f"load average (1, 5, 15 min): {os.getloadavg()} on {os.cpu_count()} cores")
                if errors:
                    print("page errors:", *errors, sep="\n  ")
                browser.close()
        finally:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
