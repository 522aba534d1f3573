"""A one-line progress bar with an ETA on stderr, updated as trials finish."""

from __future__ import annotations

import sys
import time


def clock(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    def __init__(self, name: str, total: int, done: int = 0, stream=None, width: int = 30):
        self.name, self.total, self.done, self.width = name, total, done, width
        self.stream = stream if stream is not None else sys.stderr
        self.began, self.started_with = time.monotonic(), done
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.show()

    def line(self) -> str:
        elapsed = time.monotonic() - self.began
        ran = self.done - self.started_with
        left = self.total - self.done
        eta = clock(elapsed / ran * left) if ran else "?"
        filled = self.width * self.done // max(1, self.total)
        bar = "#" * filled + "." * (self.width - filled)
        return (f"{self.name} [{bar}] {self.done}/{self.total} trials, "
                f"{clock(elapsed)} elapsed, ETA {eta}")

    def show(self) -> None:
        end = "" if self.tty and self.done < self.total else "\n"
        self.stream.write(("\r" if self.tty else "") + self.line() + end)
        self.stream.flush()

    def advance(self) -> None:
        self.done += 1
        self.show()
