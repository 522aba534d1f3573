"""Whole-model speed against PyTorch, in one run with one BLAS thread, float32.

A text model as people hold them: Embedding(96, 64) → nn.LSTM/GRU/RNN(64, 256,
num_layers=2, bidirectional=True) → Linear(512, 96), over 10,000 steps. gatescope records
every signal of every step of all four cells and the head's logits and probabilities;
torch's fused forward gives the logits only. ours and torch take turns (after one warm-up
each); printed are the median times and the median of the per-pair ratios, in CPU time
(time.process_time: user + system time of this process, page faults included) and in
wall-clock time (which, on a shared machine, also measures the neighbours). Target: ≤ 2×.
It also checks that the logits agree.
Run: .venv/bin/python bench/model.py [--repeats N] [lstm] [gru] [rnn]   (default: lstm gru)
"""

import os

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import cells  # noqa: E402

torch.set_num_threads(1)
T, V, E, H, LAYERS = 10_000, 96, 64, 256, 2
TARGET = 2.0
KINDS = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}


class TextModel(torch.nn.Module):
    def __init__(self, kind: str):
        super().__init__()
        self.emb = torch.nn.Embedding(V, E)
        self.rnn = KINDS[kind](E, H, num_layers=LAYERS, bidirectional=True)
        self.fc = torch.nn.Linear(2 * H, V)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        y, _ = self.rnn(self.emb(ids)[:, None])  # (T, 1, 2H)
        return self.fc(y[:, 0])  # (T, V)


def paired(ours, theirs, repeats: int) -> dict[str, tuple[float, float, float]]:
    """For "cpu" and "wall": the median times of `ours` and `theirs` and the median of their
    per-pair ratios. Run one after the other, so a busy machine slows both of a pair alike."""
    ours(), theirs()
    times = {clock: ([], []) for clock in ("cpu", "wall")}
    for _ in range(repeats):
        for k, fn in enumerate((ours, theirs)):
            c0, w0 = time.process_time(), time.perf_counter()
            fn()
            times["cpu"][k].append(time.process_time() - c0)
            times["wall"][k].append(time.perf_counter() - w0)
    out = {}
    for clock, (mine, peer) in times.items():
        ratios = [a / b for a, b in zip(mine, peer, strict=True)]
        out[clock] = statistics.median(mine), statistics.median(peer), statistics.median(ratios)
    return out


def bench(kind: str, repeats: int) -> float:
    torch.manual_seed(0)
    module = TextModel(kind).eval()
    model = cells.from_torch(module)
    ids = np.random.default_rng(0).integers(0, V, T)
    ids_t = torch.from_numpy(ids)

    def ours():
        mt = model.run(ids)
        return mt["logits"], mt["probs"]

    with torch.no_grad():
        figures = paired(ours, lambda: module(ids_t), repeats)
        expected = module(ids_t).numpy()
    assert np.allclose(model.run(ids)["logits"], expected, atol=1e-4)
    (mine, theirs, ratio), (wall_mine, wall_theirs, wall_ratio) = figures["cpu"], figures["wall"]
    print(f"{kind}: {LAYERS} layers × 2 directions, H={H}, T={T:,}, every signal of 4 cells "
          f"recorded | CPU: gatescope {mine:5.2f} s ({T / mine:6,.0f} steps/s), torch forward "
          f"{theirs:5.2f} s, ours/torch {ratio:4.2f}x | wall: {wall_mine:5.2f} s vs "
          f"{wall_theirs:5.2f} s, {wall_ratio:4.2f}x | median of {repeats} pairs; "
          f"target <= {TARGET}x")
    return ratio


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kinds", nargs="*", metavar="KIND",
                        help=f"kinds to run, of {', '.join(KINDS)} (default: lstm gru)")
    parser.add_argument("--repeats", type=int, default=5, help="pairs timed (default 5)")
    args = parser.parse_args()
    unknown = [k for k in args.kinds if k not in KINDS]
    if unknown:
        parser.error(f"unknown kind(s) {unknown}; choose from {', '.join(KINDS)}")
    print(f"numpy {np.__version__}, torch {torch.__version__}, 1 thread, float32")
    for kind in args.kinds or ["lstm", "gru"]:
        bench(kind, args.repeats)
