"""Whole-model speed against PyTorch, in one run with one BLAS thread, float32.

A text model as people hold them: Embedding(96, 64) → nn.LSTM(64, 256, num_layers=2,
bidirectional=True) → Linear(512, 96), over 10,000 steps. gatescope records every signal
of every step of all four cells and the head's logits and probabilities; torch's fused
forward gives the logits only. Prints both times and the median ratio of paired runs
(target ≤ 2×), and checks that the logits agree. Optional arguments name the kinds to run
(lstm, gru); the default is lstm.
Run: .venv/bin/python bench/model.py
"""

import os

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

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
KINDS = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}


class TextModel(torch.nn.Module):
    def __init__(self, kind: str):
        super().__init__()
        self.emb = torch.nn.Embedding(V, E)
        self.rnn = KINDS[kind](E, H, num_layers=LAYERS, bidirectional=True)
        self.fc = torch.nn.Linear(2 * H, V)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        y, _ = self.rnn(self.emb(ids)[:, None])  # (T, 1, 2H)
        return self.fc(y[:, 0])  # (T, V)


def paired(ours, theirs, repeats: int) -> tuple[float, float, float]:
    """Median times of `ours` and `theirs`, and the median of their per-pair ratios: run one
    after the other, so a busy machine slows both of a pair alike (after one warm-up each)."""
    ours(), theirs()
    mine, peer = [], []
    for _ in range(repeats):
        for fn, times in ((ours, mine), (theirs, peer)):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    ratios = [a / b for a, b in zip(mine, peer, strict=True)]
    return statistics.median(mine), statistics.median(peer), statistics.median(ratios)


def bench(kind: str, repeats: int = 5) -> float:
    torch.manual_seed(0)
    module = TextModel(kind).eval()
    model = cells.from_torch(module)
    ids = np.random.default_rng(0).integers(0, V, T)
    ids_t = torch.from_numpy(ids)

    def ours():
        mt = model.run(ids)
        return mt["logits"], mt["probs"]

    with torch.no_grad():
        mine, theirs, ratio = paired(ours, lambda: module(ids_t), repeats)
        expected = module(ids_t).numpy()
    assert np.allclose(model.run(ids)["logits"], expected, atol=1e-4)
    print(f"{kind}: {LAYERS} layers × 2 directions, H={H}, T={T:,} | gatescope {mine:6.2f} s "
          f"({T / mine:7,.0f} steps/s, every signal of 4 cells recorded) | torch forward "
          f"{theirs:6.2f} s | ours/torch {ratio:4.2f}x (median of {repeats} pairs; "
          f"target <= {TARGET})")
    return ratio


if __name__ == "__main__":
    print(f"numpy {np.__version__}, torch {torch.__version__}, 1 thread, float32")
    for kind in sys.argv[1:] or ["lstm"]:
        bench(kind)
