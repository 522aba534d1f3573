"""A million steps at input 8, hidden 128 stay under 400 MB of peak memory."""

import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent("""
    import numpy as np, cells
    cell = cells.create("lstm", input_size=8, hidden_size=128, seed=0)
    xs = np.random.default_rng(0).standard_normal((1_000_000, 8), dtype=np.float32)
    trace = cell.run(xs)
    w = trace.window(500_000, 500_100)
    again = trace.window(500_000, 500_100)
    assert all(np.array_equal(w[k], again[k]) for k in w)
    assert len(trace) == 1_000_000 and np.isfinite(trace.final_state["h"]).all()
    # VmHWM is this process image's own peak; ru_maxrss would carry the parent's
    # (the pytest process) across exec.
    peak_kb = int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0])
    print(peak_kb // 1024, trace.nbytes // 2**20)
""")


def test_million_steps_peak_memory_under_400_mb():
    root = Path(__file__).resolve().parents[3]
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         timeout=600, cwd=root,
                         env={"OPENBLAS_NUM_THREADS": "1", "PATH": "", "PYTHONPATH": str(root)})
    assert out.returncode == 0, out.stderr
    peak_mb, held_mb = map(int, out.stdout.split())
    assert peak_mb < 400, f"peak RSS {peak_mb} MB"
    assert held_mb < 150, f"trace holds {held_mb} MB"
