"""Page benchmark of the explanation views (issue 14), Playwright + Chromium, real server.

Measured inside the page with performance.now(), from the ArrowRight keydown:
  * the sensitivity view following the cursor at H = 256 (window 256): until its data-t is
    the new step (the answer drawn) and the next animation frame; beside it, in the same
    run, the main diagram's key -> painted frame (the peer) and the bare HTTP time of one
    sensitivity request (urllib, outside the page);
  * the compare view with three sessions (lstm, gru, rnn at H = 256), the line chart
    overlaying the other two: key -> every diagram's data-t the new step -> next animation
    frame; beside it the same keys on one session (the peer);
  * a what-if session (f = 1, i = 0 held) with its original run overlaid in the line chart
    and h_new − h_orig on its second axis: key -> painted frame, against the same peer;
  * the prediction view of a model with a head (a torch-written Embedding -> LSTM H = 256
    -> Linear, uploaded): key -> its cursor line and the diagram at the new step -> next
    animation frame, with the Plotly calls on its heatmap counted (a step moves only the
    cursor; the heatmap is drawn again only when its window changes).
The keys cross the middle of the charts' window, so the next window (overlays included) is
prepared in idle slots while they are measured.
Targets: sensitivity p50 <= 100 ms; compare key -> painted frame p50 <= 33 ms. The load
average is printed: on shared cores the figures move with it.
Run: .venv/bin/python bench/page_explain.py [--keys 60]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from page import LAUNCH, SERVE, free_port, pct, post  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

# keydown -> (the sensitivity view's data-t | all diagrams' data-t) equal to the target ->
# next animation frame.
PROBE = """
() => {
  const b = window.__bench = { t0: 0, target: -1, done: [], frame: [] };
  document.addEventListener('keydown', () => { b.t0 = performance.now(); }, true);
  const check = () => {
    if (!b.t0) return;
    const ok = window.__ready(b.target);
    if (!ok) return;
    const t0 = b.t0; b.t0 = 0;
    b.done.push(performance.now() - t0);
    requestAnimationFrame(() => b.frame.push(performance.now() - t0));
  };
  new MutationObserver(check).observe(document.body,
    { attributes: true, subtree: true, attributeFilter: ['data-t'] });
}
"""
SENS_READY = """() => { window.__ready = (t) =>
  document.querySelector('#sensitivity')?.dataset.t === String(t); }"""
PREDICTION_READY = """() => { window.__ready = (t) =>
  document.querySelector('#prediction-cursor')?.dataset.t === String(t)
  && document.querySelector('svg[data-diagram]')?.dataset.t === String(t); }"""
# every Plotly call on the prediction view's heatmap from now on
COUNT_PREDICTION_PLOTLY = """() => { const P = window.Plotly; window.__predictionCalls = 0;
  for (const k of ['react', 'newPlot', 'restyle', 'relayout', 'update', 'redraw']) {
    const f = P[k];
    P[k] = function (gd, ...rest) {
      if (gd?.closest?.('[data-view="prediction"]')) window.__predictionCalls += 1;
      return f.call(this, gd, ...rest); };
  } }"""
# the peer: one whole redraw of the heatmap (what each step cost when the cursor was a
# Plotly shape), timed to the next animation frame, ten times -> the times in ms
REDRAW_PREDICTION = """async () => { const gd = document.querySelector('#prediction-heatmap');
  const out = [];
  for (let k = 0; k < 10; k += 1) {
    const t0 = performance.now();
    const layout = { ...gd.layout, shapes: [{ type: 'line', x0: 100 + k, x1: 100 + k,
      yref: 'paper', y0: 0, y1: 1 }] };
    await Plotly.react(gd, gd.data, layout);
    await new Promise((r) => requestAnimationFrame(r));
    out.push(performance.now() - t0);
  }
  return out; }"""
DIAGRAMS_READY = """n => { window.__ready = (t) => {
  const all = document.querySelectorAll('svg[data-diagram]');
  return all.length === n && Array.from(all).every(s => s.dataset.t === String(t)); }; }"""


def text_session(base: str, cell: str, hidden: int, steps: int, **extra) -> str:
    rng = random.Random(steps)
    text = "".join(rng.choice("abcdefgh()[] ") for _ in range(steps))
    return post(f"{base}/api/sessions", {"cell": cell, "hidden_size": hidden, "seed": 0,
                                         "sequence": {"text": text}, **extra})["id"]


def overlaid(ids: list[str]) -> str:
    """JS: the front line chart overlays `ids`."""
    return ("document.querySelector('#charts .chart-set.front .chart-row.line')"
            f"?.dataset.overlay === '{','.join(ids)}'")


def model_session(page, base: str, hidden: int, steps: int) -> str:
    """A torch-written text model with a head (Embedding -> LSTM -> Linear), uploaded with
    its vocabulary through the HTTP API, run on `steps` characters."""
    import json

    import torch
    from safetensors.torch import save_file

    vocabulary = list("abcdefgh()[] ")
    torch.manual_seed(0)

    class TextModel(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(len(vocabulary), 16)
            self.lstm = torch.nn.LSTM(16, hidden)
            self.fc = torch.nn.Linear(hidden, len(vocabulary))

    folder = Path(tempfile.mkdtemp(prefix="gatescope-bench-model-"))
    save_file(TextModel().state_dict(), str(folder / "model.safetensors"))
    up = page.request.post(f"{base}/api/weights", multipart={
        "file": {"name": "model.safetensors", "mimeType": "application/octet-stream",
                 "buffer": (folder / "model.safetensors").read_bytes()},
        "vocabulary": {"name": "vocab.json", "mimeType": "application/json",
                       "buffer": json.dumps(vocabulary).encode()}}).json()
    rng = random.Random(steps)
    text = "".join(rng.choice(vocabulary) for _ in range(steps))
    return post(f"{base}/api/sessions", {"cell": up["cell"], "weights_id": up["weights_id"],
                                         "sequence": {"text": text}})["id"]


def keys_until(page, url: str, ready_js: str, arg, keys: int, start_t: int, wait_js: str,
               before=None) -> dict:
    page.goto(url)
    page.wait_for_function(wait_js, arg=start_t, timeout=120_000)
    if before:
        before()
    page.evaluate(ready_js, arg)
    page.evaluate(PROBE)
    page.locator("svg[data-diagram]").first.focus()
    page.keyboard.press("Escape")
    page.locator("body").click(position={"x": 3, "y": 3})
    for k in range(1, keys + 1):
        page.evaluate(f"() => {{ window.__bench.target = {start_t + k}; }}")
        page.keyboard.press("ArrowRight")
        page.wait_for_function("n => window.__bench.frame.length >= n", arg=k, timeout=30_000)
    b = page.evaluate("() => window.__bench")
    return {"done_p50": pct(b["done"], 50), "done_p99": pct(b["done"], 99),
            "frame_p50": pct(b["frame"], 50), "frame_p99": pct(b["frame"], 99),
            "n": len(b["frame"])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keys", type=int, default=60)
    args = ap.parse_args()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    data = tempfile.mkdtemp(prefix="gatescope-bench-")
    env = {**os.environ, "GATESCOPE_DATA_DIR": data, "PYTHONPATH": str(ROOT)}
    import subprocess

    server = subprocess.Popen([sys.executable, "-c", SERVE, str(port)], cwd=ROOT, env=env)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/api/cells", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        H, T, start = 256, 2000, 400
        sid = text_session(base, "lstm", H, T)
        http = []
        for k in range(30):
            t0 = time.perf_counter()
            urllib.request.urlopen(f"{base}/api/sessions/{sid}/sensitivity?t={start + k}&unit=0",
                                   timeout=60).read()
            http.append((time.perf_counter() - t0) * 1000)
        ids = [sid, text_session(base, "gru", H, T), text_session(base, "rnn", H, T)]
        diagram_at = ("t => document.querySelector('svg[data-diagram]')?.dataset.t === String(t)"
                      " && document.querySelector('#sensitivity')?.dataset.t === String(t)")
        all_at = ("t => { const a = document.querySelectorAll('svg[data-diagram]');"
                  " return a.length === 3 && Array.from(a).every(s => s.dataset.t === String(t))"
                  f" && {overlaid(ids[1:])}; }}")
        hold = [{"signal": s, "start": 300, "stop": T, "units": None, "value": v}
                for s, v in (("f", 1.0), ("i", 0.0))]
        held = text_session(base, "lstm", H, T, interventions=hold)
        held_at = ("t => document.querySelector('svg[data-diagram]')?.dataset.t === String(t)"
                   f" && {overlaid([sid])}")
        with sync_playwright() as p:
            browser = p.chromium.launch(**LAUNCH)
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            sens = keys_until(page, f"{base}/?session={sid}&t={start}", SENS_READY, None,
                              args.keys, start, diagram_at)
            one = keys_until(page, f"{base}/?session={sid}&t={start}", DIAGRAMS_READY, 1,
                             args.keys, start, diagram_at)
            three = keys_until(page, f"{base}/?compare={','.join(ids)}&t={start}",
                               DIAGRAMS_READY, 3, args.keys, start, all_at)
            whatif = keys_until(page, f"{base}/?session={held}&orig={sid}&t={start}",
                                DIAGRAMS_READY, 1, args.keys, start, held_at)
            model = model_session(page, base, H, T)
            # from t = 100 the keys stay inside the heatmap's first window (400 steps)
            p_start = 100
            p_at = ("t => document.querySelector('#prediction-cursor')?.dataset.t === String(t)"
                    " && document.querySelector('#prediction-heatmap .main-svg') !== null")

            def count_calls():
                page.wait_for_timeout(300)  # the first draws settle
                page.evaluate(COUNT_PREDICTION_PLOTLY)

            pred = keys_until(page, f"{base}/?session={model}&t={p_start}", PREDICTION_READY,
                              None, args.keys, p_start, p_at, before=count_calls)
            pred["plotly"] = page.evaluate("() => window.__predictionCalls")
            pred["redraw"] = page.evaluate(REDRAW_PREDICTION)
            browser.close()
    finally:
        server.terminate()
        server.wait(10)
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (2 cores, shared)")
    print(f"sensitivity view, H={H}, window 256, T={T}, {sens['n']} keys:")
    print(f"  key -> view drawn p50 {sens['done_p50']:.1f} ms, p99 {sens['done_p99']:.1f} ms;"
          f" -> painted p50 {sens['frame_p50']:.1f} ms, p99 {sens['frame_p99']:.1f} ms"
          f" (target p50 <= 100 ms)")
    print(f"  peer: one HTTP sensitivity request p50 {pct(http, 50):.1f} ms, p99 "
          f"{pct(http, 99):.1f} ms; main diagram key -> painted p50 {one['frame_p50']:.1f} ms")
    print(f"  ratio view/diagram p50 {sens['frame_p50'] / max(one['frame_p50'], 1e-9):.1f}x")
    print(f"compare view, 3 sessions (lstm, gru, rnn) H={H}, {three['n']} keys:")
    print(f"  key -> all three diagrams p50 {three['done_p50']:.1f} ms; -> painted p50 "
          f"{three['frame_p50']:.1f} ms, p99 {three['frame_p99']:.1f} ms (target p50 <= 33 ms)")
    print(f"  peer: one session key -> painted p50 {one['frame_p50']:.1f} ms, p99 "
          f"{one['frame_p99']:.1f} ms; "
          f"ratio {three['frame_p50'] / max(one['frame_p50'], 1e-9):.1f}x")
    print(f"what-if view (lstm H={H}, f = 1, i = 0 held, the original run overlaid), "
          f"{whatif['n']} keys:")
    print(f"  key -> painted p50 {whatif['frame_p50']:.1f} ms, p99 {whatif['frame_p99']:.1f} ms;"
          f" ratio to one session {whatif['frame_p50'] / max(one['frame_p50'], 1e-9):.1f}x")
    print(f"prediction view (Embedding -> LSTM H={H} -> Linear, T={T}), {pred['n']} keys:")
    print(f"  key -> cursor and diagram p50 {pred['done_p50']:.1f} ms; -> painted p50 "
          f"{pred['frame_p50']:.1f} ms, p99 {pred['frame_p99']:.1f} ms; Plotly calls on its "
          f"heatmap: {pred['plotly']}; ratio to one session "
          f"{pred['frame_p50'] / max(one['frame_p50'], 1e-9):.1f}x")
    print(f"  peer: one redraw of its heatmap with the cursor as a Plotly shape (each step's "
          f"cost before) -> painted p50 {pct(pred['redraw'], 50):.1f} ms")


if __name__ == "__main__":
    main()
