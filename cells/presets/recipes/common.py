"""What every recipe does around cells.train: one BLAS thread, a log, writing the preset."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[1] / "data"
LOG_EVERY = 100  # steps per line of the training log


BLAS_THREADS = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def one_blas_thread(module: str) -> None:
    """Run the recipe with one BLAS thread: numpy reads the setting when it loads, which
    `python -m` does before any recipe code, so the process starts itself again with it.
    (Small matrices gain nothing from threads, and on a shared machine they lose a lot.)"""
    if all(os.environ.get(k) == v for k, v in BLAS_THREADS.items()):
        return
    os.execve(sys.executable, [sys.executable, "-m", module, *sys.argv[1:]],
              {**os.environ, **BLAS_THREADS})


class TrainingLog:
    """Collects the lines of train.log; `progress` is an on_progress callback that writes
    the mean loss of every LOG_EVERY steps."""

    def __init__(self, name: str, echo: bool = True, by: str = "cells.train"):
        self.lines: list[str] = []
        self.echo = echo
        self.began = time.perf_counter()
        self._window: list[float] = []
        self.add(f"# {name}: trained by {by} (NumPy {np.__version__}, Python "
                 f"{platform.python_version()})")

    def add(self, line: str) -> None:
        self.lines.append(line)
        if self.echo:
            print(line, flush=True)

    def progress(self, step: int, loss: float) -> None:
        self._window.append(loss)
        if step % LOG_EVERY == 0:
            mean = float(np.mean(self._window))
            self._window.clear()
            self.add(f"step {step:6d}  mean loss {mean:.4f}  "
                     f"{time.perf_counter() - self.began:8.1f} s")

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.began


def write_preset(name: str, model, meta: dict, log: TrainingLog,
                 extra_files: dict[str, str] | None = None) -> Path:
    """Write the preset's folder: model.safetensors, meta.json, train.log (and extras)."""
    from ... import save_model

    folder = DATA / name
    folder.mkdir(parents=True, exist_ok=True)
    save_model(model, folder / "model.safetensors")
    (folder / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    (folder / "train.log").write_text("\n".join(log.lines) + "\n")
    for relative, text in (extra_files or {}).items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return folder


def pearson(signals: np.ndarray, feature: np.ndarray) -> np.ndarray:
    """Pearson's r of each column of signals (T, K) with feature (T,), in float64; 0 for a
    column (or feature) that never changes."""
    s = signals.astype(np.float64)
    f = feature.astype(np.float64)
    s = s - s.mean(axis=0)
    f = f - f.mean()
    norms = np.sqrt((s * s).sum(axis=0) * (f @ f))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (f @ s) / norms
    return np.where(norms > 0, r, 0.0)
