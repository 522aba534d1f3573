"""`gatescope train FILE`: train a character model on a text file, in NumPy, with a
progress bar; Ctrl-C stops and keeps the best weights so far.

The run is exactly `cells.train(cells.char_model(...), text, ...)` with the same
arguments, so the file it writes equals what that call returns, bit for bit.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import time
from pathlib import Path

SAMPLE_CHARS = 200  # of the training text, in the printed `gatescope open` command
INTERRUPTED = 130  # the shell's code for "ended by SIGINT" (128 + 2)
DEFAULTS = {"hidden": 128, "layers": 1, "steps": 1000, "seq_len": 64, "batch": 32,
            "lr": 3e-3, "clip": 5.0, "seed": 0}


def add_parser(commands) -> None:
    import cells

    train = commands.add_parser(
        "train", help="train a character model on a text file (NumPy)",
        description="Train a character-level model on a UTF-8 text file: it learns to predict "
                    "the next character (cross-entropy), by truncated backprop through time "
                    "with Adam. Text files only: every character is a token. Ctrl-C stops "
                    "and writes the best weights so far (exit code 130). The output loads "
                    "with cells.load_model and opens in the page (upload it there).")
    train.add_argument("file", type=Path, help="a UTF-8 text file to learn from")
    train.add_argument("--cell", default="lstm", choices=cells.KINDS, help="cell kind "
                       "(default lstm)")
    train.add_argument("--hidden", type=int, default=DEFAULTS["hidden"],
                       help="hidden units per layer (default %(default)s)")
    train.add_argument("--layers", type=int, default=DEFAULTS["layers"],
                       help="stacked layers (default %(default)s)")
    train.add_argument("--steps", type=int, default=DEFAULTS["steps"],
                       help="Adam updates, one window each (default %(default)s)")
    train.add_argument("--seq-len", type=int, default=DEFAULTS["seq_len"],
                       help="characters back-propagated through per window "
                            "(default %(default)s)")
    train.add_argument("--batch", type=int, default=DEFAULTS["batch"],
                       help="streams read side by side (default %(default)s)")
    train.add_argument("--lr", type=float, default=DEFAULTS["lr"],
                       help="Adam's learning rate (default %(default)s)")
    train.add_argument("--clip", type=float, default=DEFAULTS["clip"],
                       help="largest global gradient norm (default %(default)s)")
    train.add_argument("--seed", type=int, default=DEFAULTS["seed"],
                       help="initial weights and window order (default %(default)s)")
    train.add_argument("--out", type=Path, default=Path("model.safetensors"),
                       help="where to write the model: .safetensors or .npz "
                            "(default %(default)s)")


class ProgressBar:
    """One line on stderr, redrawn in place on a terminal; elsewhere (a log, a pipe) a
    line every tenth of the run."""

    WIDTH = 30

    def __init__(self, steps: int, stream=sys.stderr):
        self.steps, self.stream = steps, stream
        self.live = stream.isatty()
        self.began = time.monotonic()
        self.drawn = 0.0
        self.logged = 0

    def update(self, step: int, loss: float) -> None:
        now = time.monotonic()
        if self.live:
            if now - self.drawn < 0.1 and step < self.steps:
                return
            self.drawn = now
            self.stream.write("\r" + self.line(step, loss, now) + "\033[K")
        else:
            tenth = step * 10 // self.steps
            if tenth <= self.logged and step != 1:
                return
            self.logged = tenth
            self.stream.write(self.line(step, loss, now) + "\n")
        self.stream.flush()

    def line(self, step: int, loss: float, now: float) -> str:
        filled = self.WIDTH * step // self.steps
        elapsed = now - self.began
        eta = elapsed / step * (self.steps - step)
        return (f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {step}/{self.steps} "
                f"loss {loss:.4f}  {_clock(elapsed)} elapsed, ETA {_clock(eta)}")

    def close(self) -> None:
        if self.live:
            self.stream.write("\n")
            self.stream.flush()


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else \
        f"{rest // 60}:{rest % 60:02d}"


def run(args: argparse.Namespace) -> int:
    import cells
    from app.training.files import save_model_atomic
    from cells.weights_io import WRITE_SUFFIXES

    def fail(message: str) -> int:
        print(f"gatescope train: {message}", file=sys.stderr)
        return 2

    try:
        text = args.file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return fail(f"no file {str(args.file)!r}")
    except UnicodeDecodeError:
        return fail(f"{str(args.file)!r} is not UTF-8 text (only text files train here)")
    except OSError as exc:
        return fail(f"cannot read {str(args.file)!r}: {exc.strerror}")
    if args.out.suffix.lower() not in WRITE_SUFFIXES:
        return fail(f"--out {str(args.out)!r}: write a {' or '.join(WRITE_SUFFIXES)} file")
    try:
        vocabulary = cells.text.derive_vocabulary(text)
        model = cells.char_model(args.cell, vocabulary, hidden_size=args.hidden,
                                 layers=args.layers, seed=args.seed)
    except ValueError as exc:
        return fail(str(exc))

    stop = {"asked": False}
    bar = ProgressBar(args.steps)

    def on_sigint(signum, frame):
        # The first Ctrl-C ends the run after the step in progress (then the best weights
        # are written); a second one ends the process at once, writing nothing.
        stop["asked"] = True
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def on_progress(step: int, loss: float) -> bool:
        bar.update(step, loss)
        return not stop["asked"]

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        result = cells.train(model, text, steps=args.steps, seq_len=args.seq_len,
                             batch=args.batch, lr=args.lr, clip=args.clip or None,
                             seed=args.seed, on_progress=on_progress, keep_best=True)
    except ValueError as exc:
        return fail(str(exc))
    except KeyboardInterrupt:
        bar.close()
        print("gatescope train: interrupted twice; nothing written", file=sys.stderr)
        return INTERRUPTED
    finally:
        signal.signal(signal.SIGINT, previous)
    bar.close()
    done = len(result.losses)
    if stop["asked"]:
        kept, how = result.best, (f"stopped at step {done} of {args.steps}; kept the best "
                                  f"weights (step {result.best_step}, loss "
                                  f"{dict(result.losses)[result.best_step]:.4f})")
    else:
        kept, how = result.model, (f"{done} steps in {result.seconds:.1f} s, last loss "
                                   f"{result.losses[-1][1]:.4f}")
    try:
        save_model_atomic(kept, args.out)
    except (OSError, ValueError) as exc:
        return fail(f"cannot write {str(args.out)!r}: {exc}")
    print(f"gatescope train: {how}; wrote {args.out}", file=sys.stderr)
    sample = shlex.quote(text[:SAMPLE_CHARS])
    print(f"gatescope train: to see it: gatescope open {shlex.quote(str(args.out))} --text "
          f"{sample}  (or `gatescope serve --open` and choose the file in the page)",
          file=sys.stderr)
    return INTERRUPTED if stop["asked"] else 0
