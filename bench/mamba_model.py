"""A Mamba of the 130M configuration (24 layers, d_model 768, d_state 16, expand 2, a
50,280-token vocabulary; random weights written by mambapy) over 1,000 tokens: gatescope's
forward, keeping every layer's signals for any window, against mambapy's forward (logits
only, no autograd) in the same run, one BLAS thread each, float32; then the peak resident
memory of a process that loads the model and runs it. Targets: ≤ 1.5× mambapy's CPU time,
peak RSS < 1.5 GB. It also checks that the logits agree.

Times are CPU time (time.process_time) and wall-clock time of ours and mambapy's taking
turns; printed are the medians and the median per-pair ratio.
Run: .venv/bin/python bench/mamba_model.py [--repeats N] [--tokens T] [--layers L]
"""

import os

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import cells  # noqa: E402
from cells.presets.recipes.selective_copy import language_model  # noqa: E402

torch.set_num_threads(1)
VOCABULARY, D_MODEL, D_STATE, EXPAND, D_CONV = 50_280, 768, 16, 2, 4
TIME_TARGET, RSS_TARGET = 1.5, 1.5 * 2**30

# run in a fresh process: load the model and run it, then report the peak RSS
_MEASURE = """
import os, sys
sys.path.insert(0, {root!r})
import numpy as np, cells
model = cells.load_model({path!r})
trace = model.run(np.load({ids!r}))
signals = trace.layer({last})["h"] if "h" in trace.layer({last}).names else None
for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"):
        print(int(line.split()[1]) * 1024)
"""


def paired(ours, theirs, repeats: int):
    ours(), theirs()
    cpu, wall = ([], []), ([], [])
    for _ in range(repeats):
        for k, fn in enumerate((ours, theirs)):
            c0, w0 = time.process_time(), time.perf_counter()
            fn()
            cpu[k].append(time.process_time() - c0)
            wall[k].append(time.perf_counter() - w0)
    return {name: (statistics.median(a), statistics.median(b),
                   statistics.median(x / y for x, y in zip(a, b, strict=True)))
            for name, (a, b) in (("cpu", cpu), ("wall", wall))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=1000)
    parser.add_argument("--layers", type=int, default=24)
    args = parser.parse_args()
    torch.manual_seed(0)
    module = language_model(VOCABULARY, d_model=D_MODEL, n_layers=args.layers,
                            d_state=D_STATE, expand_factor=EXPAND, d_conv=D_CONV, pscan=True)
    module.eval()
    ids = np.random.default_rng(1).integers(0, VOCABULARY, args.tokens)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.safetensors"
        from safetensors.torch import save_file

        save_file({k: v.detach().contiguous() for k, v in module.state_dict().items()},
                  str(path))
        np.save(Path(folder) / "ids.npy", ids)
        model = cells.load_model(path)
        tokens = torch.from_numpy(ids)[None]

        def theirs():
            with torch.no_grad():
                return module(tokens)

        def ours():
            return model.run(ids)

        expected = theirs()[0].numpy()
        got = ours()["logits"]
        diff = float(np.abs(got - expected).max())
        print(f"Mamba {args.layers} layers × d_model {D_MODEL} (E {EXPAND * D_MODEL}, N "
              f"{D_STATE}), vocabulary {VOCABULARY:,}, {args.tokens} tokens, float32, one "
              f"thread; logits max |ours − mambapy| = {diff:.2e}")
        result = paired(ours, theirs, args.repeats)
        for clock, (a, b, ratio) in result.items():
            print(f"  {clock:4s}: gatescope {a:7.2f} s   mambapy {b:7.2f} s   ratio {ratio:5.2f}×"
                  f"   (target ≤ {TIME_TARGET}×)")
        code = _MEASURE.format(root=str(ROOT), path=str(path), ids=str(Path(folder) / "ids.npy"),
                               last=args.layers - 1)
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env=env, check=True)
        rss = int(out.stdout.split()[-1])
        print(f"  peak RSS of a process that loads and runs it: {rss / 2**30:.2f} GB "
              f"(target < {RSS_TARGET / 2**30:.1f} GB)")


if __name__ == "__main__":
    main()
