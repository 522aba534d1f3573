"""Training speed against PyTorch, in one run with one BLAS thread, float32.

A character LSTM (one-hot characters → LSTM, H = 128 → softmax head), batch 32, seq_len 64,
Adam, gradient-norm clipping at 5, state carried between windows: gatescope's cells.train
against the same model trained by torch (nn.LSTM + nn.Linear, torch.optim.Adam,
clip_grad_norm_). Prints steps/second for each and the ratio (target: gatescope at least
1.0× torch), from the CPU time of the one thread doing the work (time.thread_time: with one
BLAS thread both run in the calling thread), so neighbours on a shared machine do not move
the ratio; the wall-clock figures are printed beside. gatescope's times include train()'s
set-up (copying the model, encoding the text), torch's do not.
Run: .venv/bin/python bench/train.py
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
TARGET = 1.0


def corpus() -> str:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    text = "".join((stdlib / name).read_text() for name in ("textwrap.py", "argparse.py"))
    return "".join(ch for ch in text if 32 <= ord(ch) < 127 or ch == "\n")


def timed(fn):
    """fn() timed: (CPU seconds of this thread, wall seconds)."""
    cpu, wall = time.thread_time(), time.perf_counter()
    fn()
    return time.thread_time() - cpu, time.perf_counter() - wall


def ours(text: str, vocabulary: str):
    """A function that times STEPS steps of cells.train."""
    model = cells.char_model("lstm", vocabulary, H, seed=0)

    def run(steps: int):
        return timed(lambda: cells.train(model, text, steps=steps, seq_len=SEQ_LEN,
                                         batch=BATCH))

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

    def train(steps: int) -> None:
        state = None
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

    return lambda steps: timed(lambda: train(steps))


def main() -> None:
    text = corpus()
    vocabulary = cells.text.derive_vocabulary(text)
    print(f"char-LSTM H={H}, batch {BATCH}, seq_len {SEQ_LEN}, vocabulary {len(vocabulary)}, "
          f"float32, one thread; fastest of {REPEATS} alternating runs of {STEPS} steps")
    runs = {"ours": ours(text, vocabulary), "torch": theirs(text, vocabulary)}
    cpu = {name: float("inf") for name in runs}
    wall = dict(cpu)
    for run in runs.values():
        run(3)  # warm-up
    # Alternate the two, so that both see the same moments of a shared machine; keep the
    # fastest run of each (the least disturbed).
    for _ in range(REPEATS):
        for name, run in runs.items():
            c, w = run(STEPS)
            cpu[name], wall[name] = min(cpu[name], c), min(wall[name], w)
    numpy_rate, torch_rate = STEPS / cpu["ours"], STEPS / cpu["torch"]
    ratio = numpy_rate / torch_rate
    for label, name, rate in (("gatescope cells.train ", "ours", numpy_rate),
                              ("torch (Adam, clipping)", "torch", torch_rate)):
        print(f"  {label}  {rate:7.2f} steps/s of CPU  ({rate * BATCH * SEQ_LEN:8.0f} "
              f"characters/s; wall clock {STEPS / wall[name]:6.2f} steps/s)")
    print(f"  ratio {ratio:.2f}× torch's throughput (target ≥ {TARGET}×): "
          f"{'met' if ratio >= TARGET else 'NOT met'}; by the wall clock "
          f"{wall['torch'] / wall['ours']:.2f}×")


if __name__ == "__main__":
    main()
