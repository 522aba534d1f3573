"""`gatescope lab NAME [--trials N] [--workers N] [--scheduler ADDRESS] [--mini] [--out DIR]`:
run one of the lab's experiments (or resume it where an interrupted run stopped)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .runner import BLAS_THREADS


def add_parser(commands) -> None:
    from . import names

    lab = commands.add_parser(
        "lab", help="run one of the articles' experiments (cells.lab)",
        description="Run an experiment of the lab: its trials (arm x learning rate x seed) fan "
                    "out over local processes or a Dask cluster, a progress bar with an ETA "
                    "on stderr; an interrupted run resumes where it stopped. Without --out, "
                    "results go to cells/lab/results/NAME.json and NAME.log and each arm's "
                    "best model becomes the preset lab-NAME-ARM.")
    lab.add_argument("name", choices=names(), help="the experiment")
    lab.add_argument("--trials", type=int, help="seeds per arm and learning rate "
                                                "(default: the experiment's)")
    lab.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                     help="local worker processes (default: the cores, %(default)s)")
    lab.add_argument("--scheduler", help="a Dask scheduler's address (tcp://host:8786): run "
                                         "the trials there (pip install 'gatescope[lab]')")
    lab.add_argument("--mini", action="store_true",
                     help="a miniature of the experiment (seconds); written to --out "
                          "(default ./gatescope-lab-mini)")
    lab.add_argument("--out", type=Path, help="where to write NAME.json and NAME.log")


def run(args: argparse.Namespace) -> int:
    if sys.argv[1:2] == ["lab"] and any(os.environ.get(k) != v for k, v in BLAS_THREADS.items()):
        # NumPy reads these when it loads, which has happened: start again with them, so a
        # trial run here gives the same bits as one in a worker process
        os.execve(sys.executable, [sys.executable, "-c",
                                   "import sys; from app.core.cli import main; "
                                   "sys.exit(main(sys.argv[1:]))", *sys.argv[1:]],
                  {**os.environ, **BLAS_THREADS})
    from .runner import PRESETS
    from .runner import run as run_experiment

    if args.trials is not None and args.trials < 1:
        print("--trials must be at least 1", file=sys.stderr)
        return 2
    if args.workers < 1:
        print("--workers must be at least 1", file=sys.stderr)
        return 2
    out = args.out or (Path("gatescope-lab-mini") if args.mini else None)
    committed = out is None
    try:
        results = run_experiment(args.name, trials=args.trials, workers=args.workers,
                                 scheduler=args.scheduler, mini=args.mini, out=out,
                                 presets=PRESETS if committed else None)
    except KeyboardInterrupt:
        print(f"\nstopped; the finished trials are kept: run `gatescope lab {args.name}` "
              f"again with the same options to resume", file=sys.stderr)
        return 130
    where = out or "cells/lab/results"
    print(f"wrote {where}/{args.name}.json and {args.name}.log")
    for c in results["conclusions"]:
        print(f"{c['verdict']}: {c['claim']}")
    return 0
