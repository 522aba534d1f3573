"""Page benchmark (Playwright + Chromium against a real server).

Measures, inside the page with performance.now():
  * keypress (ArrowRight) -> the diagram showing the new step: when the SVG's data-t
    changes (DOM updated) and at the next animation frame (painted), p50 / p99;
  * steps per second while playing at 30 steps/s: on the page's clock (from the Play click
    to the pause key, as the page saw them) and on the wall clock around them (which also
    counts Playwright's round trips); whether the diagram or the charts' cursor skipped a
    position, and how many positions the charts' cursor was outside the drawn window;
at H = 64, 256 and 1,024 (T = 2,000), and once more on a T = 100,000 trace. The play runs
long enough for the charts' window to slide at least once.

Targets: key -> DOM p50 <= 2 ms and key -> painted frame p50 <= 20 ms at H = 64 and 256
(H = 1,024 reported); play at 30 steps/s with no skipped cursor positions. The machine's
load average is printed with the figures: on shared cores they move with it.
Run: .venv/bin/python bench/page.py [--keys 200] [--play-seconds 20]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
SERVE = (
    "import sys, uvicorn\nfrom app.main import create_app\n"
    "uvicorn.run(create_app(), host='127.0.0.1', port=int(sys.argv[1]), log_level='warning')\n"
)
LAUNCH = {
    "executable_path": "/usr/bin/chromium",
    "args": [
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--no-first-run",
    ],
}

# Installed in the page: keydown time -> data-t mutation -> next animation frame.
PROBE = """
() => {
  const svgNow = () => document.querySelector('svg[data-diagram]');
  const b = window.__bench = { t0: 0, dom: [], frame: [], cursor: [], shown: [], play: [] };
  document.addEventListener('keydown', (ev) => {
    b.t0 = performance.now();
    if (ev.key === ' ') b.play.push(performance.now());
  }, true);
  document.querySelector('#play')
    .addEventListener('click', () => b.play.push(performance.now()), true);
  const watch = () => {
    const obs = new MutationObserver(() => {
      b.shown.push(+svgNow().dataset.t);
      if (!b.t0) return;
      const t0 = b.t0; b.t0 = 0;
      b.dom.push(performance.now() - t0);
      requestAnimationFrame(() => b.frame.push(performance.now() - t0));
    });
    obs.observe(svgNow(), { attributes: true, attributeFilter: ['data-t'] });
  };
  watch();
  const cur = document.querySelector('#chart-cursor');
  new MutationObserver(() => b.cursor.push([+cur.dataset.t, cur.style.display !== 'none']))
    .observe(cur, { attributes: true, attributeFilter: ['data-t'] });
}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url: str, body: dict) -> dict:
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=300) as r:
        return json.loads(r.read())


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1))))]


def session_for(base: str, hidden: int, steps: int) -> str:
    rng = random.Random(hidden * 7 + steps)
    text = "".join(rng.choice("abcdefgh()[] ") for _ in range(steps))
    body = {"cell": "lstm", "hidden_size": hidden, "seed": 0, "sequence": {"text": text}}
    return post(f"{base}/api/sessions", body)["id"]


def measure(page, base: str, sid: str, keys: int, play_seconds: float, start_t: int = 0) -> dict:
    page.goto(f"{base}/?session={sid}&t={start_t}")
    page.wait_for_function(
        f"() => document.querySelector('svg[data-diagram]')?.dataset.t === '{start_t}'",
        timeout=60_000,
    )
    page.wait_for_function(
        "() => document.querySelector('#chart-cursor')?.style.display === 'block'", timeout=60_000
    )
    page.evaluate(PROBE)
    page.locator("body").click(position={"x": 3, "y": 3})
    for k in range(1, keys + 1):
        page.keyboard.press("ArrowRight")
        page.wait_for_function(
            "t => document.querySelector('svg[data-diagram]').dataset.t === String(t)",
            arg=start_t + k,
        )
    page.wait_for_timeout(100)
    b = page.evaluate("() => window.__bench")
    # play at 30 steps/s
    page.select_option("#speed", "30")
    page.evaluate("() => { const b = window.__bench; b.cursor = []; b.shown = []; b.play = []; }")
    t_before = int(page.locator("svg[data-diagram]").get_attribute("data-t"))
    wall0 = time.perf_counter()
    page.get_by_role("button", name="Play").click()
    page.wait_for_timeout(int(play_seconds * 1000))
    page.keyboard.press(" ")
    wall = time.perf_counter() - wall0
    page.wait_for_timeout(300)
    after = page.evaluate("() => window.__bench")
    t_after = int(page.locator("svg[data-diagram]").get_attribute("data-t"))
    played_ms = after["play"][-1] - after["play"][0] if len(after["play"]) >= 2 else 0.0

    def skips(positions: list[int]) -> int:
        pairs = zip(positions, positions[1:], strict=False)
        return sum(1 for a, b2 in pairs if b2 - a not in (0, 1))

    cursor = [t for t, _ in after["cursor"]]
    return {
        "dom_p50": pct(b["dom"], 50),
        "dom_p99": pct(b["dom"], 99),
        "frame_p50": pct(b["frame"], 50),
        "frame_p99": pct(b["frame"], 99),
        "keys": len(b["dom"]),
        "play_sps": (t_after - t_before) / (played_ms / 1000) if played_ms else 0.0,
        "wall_sps": (t_after - t_before) / wall,
        "cursor_positions": len(cursor),
        "skipped": skips(cursor) + skips(after["shown"]),
        "off_window": sum(1 for _, shown in after["cursor"] if not shown),
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--keys", type=int, default=200)
    ap.add_argument("--play-seconds", type=float, default=20.0)
    ap.add_argument("--long-steps", type=int, default=100_000)
    args = ap.parse_args()

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as data_dir:
        env = {**os.environ, "GATESCOPE_DATA_DIR": data_dir, "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen([sys.executable, "-c", SERVE, str(port)], cwd=ROOT, env=env)
        try:
            for _ in range(300):
                try:
                    urllib.request.urlopen(f"{base}/api/cells", timeout=1)
                    break
                except OSError:
                    time.sleep(0.1)
            runs = [
                (64, 2_000, 0),
                (256, 2_000, 0),
                (1024, 2_000, 0),
                (64, args.long_steps, args.long_steps // 2),
            ]
            with sync_playwright() as p:
                browser = p.chromium.launch(**LAUNCH)
                page = browser.new_page(viewport={"width": 1500, "height": 1100})
                errors: list[str] = []
                page.on("pageerror", lambda e: errors.append(str(e)))
                print(f"load average at start: {os.getloadavg()} on {os.cpu_count()} cores")
                print(
                    f"{'H':>5} {'T':>8}  {'key→DOM p50/p99 ms':>20}  {'key→frame p50/p99 ms':>22}"
                    f"  {'play steps/s page/wall':>22}  {'skips':>11}  {'off-window':>10}"
                )
                for hidden, steps, start in runs:
                    sid = session_for(base, hidden, steps)
                    r = measure(page, base, sid, args.keys, args.play_seconds, start)
                    print(
                        f"{hidden:>5} {steps:>8}  {r['dom_p50']:>9.1f} / {r['dom_p99']:<8.1f}"
                        f"  {r['frame_p50']:>10.1f} / {r['frame_p99']:<9.1f}"
                        f"  {r['play_sps']:>12.1f} / {r['wall_sps']:<7.1f}"
                        f"  {r['skipped']:>3} of {r['cursor_positions']:<5}  {r['off_window']:>10}"
                    )
                print(
                    "targets: key→DOM p50 ≤ 2 ms, key→frame p50 ≤ 20 ms at H = 64 and 256;"
                    " 30 steps/s with 0 skips"
                )
                print(f"load average (1, 5, 15 min): {os.getloadavg()} on {os.cpu_count()} cores")
                if errors:
                    print("page errors:", *errors, sep="\n  ")
                browser.close()
        finally:
            proc.terminate()
            proc.wait(timeout=10)


if __name__ == "__main__":
    main()
