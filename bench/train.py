"""Training speed against PyTorch, in one run with one BLAS thread, float32.

A character LSTM (one-hot characters → LSTM, H = 128 → softmax head), batch 32, seq_len 64,
Adam, gradient-norm clipping at 5, state carried between windows: gatescope's cells.train
against the same model trained by torch (nn.LSTM + nn.Linear, torch.optim.Adam,
clip_grad_norm_). Prints steps/second for each and the ratio (target: gatescope at least
0.5× torch). Run: .venv/bin/python bench/train.py
"""

import os

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import sys  # noqa: E402
import sysconfig  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import cells  # noqa: E402

torch.set_num_threads(1)
H, BATCH, SEQ_LEN, STEPS, REPEATS = 128, 32, 64, 40, 5
TARGET = 0.5


def corpus() -> str:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    text = "".join((stdlib / name).read_text() for name in ("textwrap.py", "argparse.py"))
    return "".join(ch for ch in text if 32 <= ord(ch) < 127 or ch == "\n")


def ours(text: str, vocabulary: str):
    """A function that times STEPS steps of cells.train (the training loop's own clock)."""
    model = cells.char_model("lstm", vocabulary, H, seed=0)

    def run(steps: int) -> float:
        return cells.train(model, text, steps=steps, seq_len=SEQ_LEN, batch=BATCH).seconds

    return run


def theirs(text: str, vocabulary: str):
    """A function that times STEPS steps of the same model, data order and update in torch."""
    V = len(vocabulary)
    index = {ch: k for k, ch in enumerate(vocabulary)}
    ids = torch.tensor([index[ch] for ch in text])
    inputs, targets = ids[:-1], ids[1:]
    length = len(inputs) // BATCH
    lstm, head = torch.nn.LSTM(V, H), torch.nn.Linear(H, V)
    params = list(lstm.parameters()) + list(head.parameters())
    optimizer = torch.optim.Adam(params, lr=3e-3)
    starts = length * torch.arange(BATCH)

    def run(steps: int) -> float:
        state = None
        began = time.perf_counter()
        begin = 0
        for _ in range(steps):
            if begin + SEQ_LEN > length:
                begin, state = 0, None
            window = starts[:, None] + begin + torch.arange(SEQ_LEN)  # (B, n)
            x = torch.nn.functional.one_hot(inputs[window].T, V).float()  # (n, B, V)
            y = targets[window].T
            out, state = lstm(x, state)
            state = tuple(s.detach() for s in state)
            loss = torch.nn.functional.cross_entropy(head(out).reshape(-1, V), y.reshape(-1))
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 5.0)
            optimizer.step()
            begin += SEQ_LEN
        return time.perf_counter() - began

    return run


def main() -> None:
    text = corpus()
    vocabulary = cells.text.derive_vocabulary(text)
    print(f"char-LSTM H={H}, batch {BATCH}, seq_len {SEQ_LEN}, vocabulary {len(vocabulary)}, "
          f"float32, one thread; fastest of {REPEATS} alternating runs of {STEPS} steps")
    runs = {"ours": ours(text, vocabulary), "torch": theirs(text, vocabulary)}
    best = {name: float("inf") for name in runs}
    for run in runs.values():
        run(3)  # warm-up
    # Alternate the two, so that both see the same moments of a shared machine; keep the
    # fastest run of each (the least disturbed).
    for _ in range(REPEATS):
        for name, run in runs.items():
            best[name] = min(best[name], run(STEPS))
    numpy_rate, torch_rate = STEPS / best["ours"], STEPS / best["torch"]
    ratio = numpy_rate / torch_rate
    print(f"  gatescope cells.train   {numpy_rate:7.2f} steps/s  "
          f"({numpy_rate * BATCH * SEQ_LEN:8.0f} characters/s)")
    print(f"  torch (Adam, clipping)  {torch_rate:7.2f} steps/s  "
          f"({torch_rate * BATCH * SEQ_LEN:8.0f} characters/s)")
    print(f"  ratio {ratio:.2f}× torch's throughput (target ≥ {TARGET}×): "
          f"{'met' if ratio >= TARGET else 'NOT met'}")


if __name__ == "__main__":
    main()
