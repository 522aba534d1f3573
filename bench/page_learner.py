"""Page benchmark of the learner's path (issue 19), Playwright + Chromium, real server.

Measured inside the page with performance.now(), from the ArrowRight keydown to the next
animation frame after the page shows the new step:
  * a 100,000-row CSV session (numbers, 8 columns, LSTM H = 64), opened through the form's
    CSV picker as a user would (the text box then holds the 1.3 MB of CSV), against its peer
    in the same run: a 100,000-character text session of the same cell;
  * the composed layout at 1440×900: the dock beside the diagram with the sensitivity view
    shown, two cells compared beside the main one (lstm, gru, rnn at H = 64, T = 2,000) and
    the charts under them — key -> all three diagrams at the new step -> painted, and,
    separately, key -> the sensitivity view drawn for the new step (it asks the server);
    its peer: the same keys on the one session alone.
Target: key -> painted frame p50 <= 20 ms for the CSV session and the composed layout.
The load average is printed: on shared cores the figures move with it.
Run: .venv/bin/python bench/page_learner.py [--keys 100]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from page import LAUNCH, SERVE, free_port, pct  # noqa: E402
from page_explain import DIAGRAMS_READY, PROBE, SENS_READY, text_session  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ROWS = 100_000
COLUMNS = 8


def csv_text(rows: int) -> str:
    rng = random.Random(rows)
    head = ",".join(f"x{k}" for k in range(COLUMNS))
    body = "\n".join(",".join(f"{rng.uniform(-2, 2):.4f}" for _ in range(COLUMNS))
                     for _ in range(rows))
    return f"{head}\n{body}\n"


def keys(page, target_js: str, arg, count: int, start_t: int) -> dict:
    """ArrowRight `count` times from `start_t`; the page's key -> ready -> painted times."""
    page.evaluate(target_js, arg)
    page.evaluate(PROBE)
    page.locator("body").click(position={"x": 3, "y": 3})
    for k in range(1, count + 1):
        page.evaluate(f"() => {{ window.__bench.target = {start_t + k}; }}")
        page.keyboard.press("ArrowRight")
        page.wait_for_function("n => window.__bench.frame.length >= n", arg=k, timeout=60_000)
    b = page.evaluate("() => window.__bench")
    return {"done_p50": pct(b["done"], 50), "frame_p50": pct(b["frame"], 50),
            "frame_p99": pct(b["frame"], 99), "n": len(b["frame"])}


def at_t(page, t: int, diagrams: int = 1, sensitivity: bool = False) -> None:
    js = ("([t, n, s]) => { const a = document.querySelectorAll('svg[data-diagram]');"
          " return a.length === n && Array.from(a).every(e => e.dataset.t === String(t))"
          " && (!s || document.querySelector('#sensitivity')?.dataset.t === String(t)); }")
    page.wait_for_function(js, arg=[t, diagrams, sensitivity], timeout=180_000)


def csv_through_the_form(page, base: str, path: Path, start: int) -> None:
    """Open the page, pick the CSV file in the form and Run, then go to step `start`."""
    page.goto(f"{base}/?cell=lstm&weights=seed&seed=0&hidden=64&text=abc")
    at_t(page, 0)
    before = page.locator("svg[data-diagram]").get_attribute("data-session")
    page.locator("#sequence-csv").set_input_files(str(path))
    page.wait_for_function("() => document.querySelector('#sequence-text').value.length > 1e6",
                           timeout=60_000)
    page.get_by_role("button", name="Run").click()
    page.wait_for_function(
        f"() => document.querySelector('svg[data-diagram]')?.dataset.session !== '{before}'",
        timeout=300_000)
    page.get_by_label("Time step").fill(str(start))
    at_t(page, start)
    page.wait_for_timeout(500)  # the charts' first window drawn, the URL written


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keys", type=int, default=100)
    args = ap.parse_args()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    data = tempfile.mkdtemp(prefix="gatescope-bench-")
    env = {**os.environ, "GATESCOPE_DATA_DIR": data, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen([sys.executable, "-c", SERVE, str(port)], cwd=ROOT, env=env)
    folder = Path(tempfile.mkdtemp(prefix="gatescope-bench-csv-"))
    csv_path = folder / "rows.csv"
    csv_path.write_text(csv_text(ROWS))
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/api/cells", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        start = ROWS // 2
        text_id = text_session(base, "lstm", 64, ROWS)
        T, c_start = 2000, 400
        ids = [text_session(base, cell, 64, T) for cell in ("lstm", "gru", "rnn")]
        with sync_playwright() as p:
            browser = p.chromium.launch(**LAUNCH)
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            # the peer first: a 100,000-character text session
            page.goto(f"{base}/?session={text_id}&t={start}")
            at_t(page, start)
            page.wait_for_timeout(500)
            text = keys(page, DIAGRAMS_READY, 1, args.keys, start)
            csv_through_the_form(page, base, csv_path, start)
            rows = keys(page, DIAGRAMS_READY, 1, args.keys, start)
            # the composed layout: one session alone (the peer), then with two compared
            page.goto(f"{base}/?session={ids[0]}&t={c_start}")
            at_t(page, c_start, 1, sensitivity=True)
            alone = keys(page, DIAGRAMS_READY, 1, args.keys, c_start)
            page.goto(f"{base}/?compare={','.join(ids)}&t={c_start}")
            at_t(page, c_start, 3, sensitivity=True)
            page.get_by_role("button", name="Sensitivity", exact=True).click()
            page.wait_for_timeout(500)
            composed = keys(page, DIAGRAMS_READY, 3, args.keys, c_start)
            at_t(page, c_start + args.keys, 3, sensitivity=True)
            sens = keys(page, SENS_READY, None, args.keys, c_start + args.keys)
            browser.close()
    finally:
        server.terminate()
        server.wait(10)
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    print(f"CSV session, {ROWS:,} rows × {COLUMNS} columns through the form (lstm H = 64), "
          f"{rows['n']} keys:")
    print(f"  key -> painted p50 {rows['frame_p50']:.1f} ms, p99 {rows['frame_p99']:.1f} ms "
          f"(target p50 <= 20 ms)")
    ratio = rows["frame_p50"] / max(text["frame_p50"], 1e-9)
    print(f"  peer: {ROWS:,}-character text session p50 {text['frame_p50']:.1f} ms, p99 "
          f"{text['frame_p99']:.1f} ms; ratio {ratio:.2f}x")
    print(f"composed layout at 1440×900 (3 diagrams, dock with sensitivity, charts), "
          f"{composed['n']} keys:")
    print(f"  key -> all diagrams painted p50 {composed['frame_p50']:.1f} ms, p99 "
          f"{composed['frame_p99']:.1f} ms (target p50 <= 20 ms)")
    print(f"  key -> sensitivity view drawn p50 {sens['done_p50']:.1f} ms, painted p50 "
          f"{sens['frame_p50']:.1f} ms (a request to the server per step)")
    print(f"  peer: the one session alone p50 {alone['frame_p50']:.1f} ms; "
          f"ratio {composed['frame_p50'] / max(alone['frame_p50'], 1e-9):.2f}x")
    if errors:
        print("page errors:", *errors, sep="\n  ")


if __name__ == "__main__":
    main()
