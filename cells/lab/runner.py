"""Run an experiment's trials, resume an interrupted run, and write its results.

Each trial (an arm, a learning rate, a seed) is a pure function of those three and the
experiment's settings: it seeds its own generators and uses one BLAS thread, so it gives
the same numbers bit for bit in this process, in a local worker process or on a Dask
worker (on a machine with the same CPU, NumPy and Python). Trials fan out over local
processes (`workers`) or a Dask cluster (`scheduler`, the optional extra `lab`); results
are written in plan order, whatever order they finish in.

A run keeps each finished trial in a work folder (one line of trials.jsonl and the trained
weights); run again with the same settings and it starts where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import platform
import shutil
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

from .progress import Progress, clock
from .stats import summarise

RESULTS = Path(__file__).resolve().parent / "results"
PRESETS = Path(__file__).resolve().parents[1] / "presets" / "data"
BLAS_THREADS = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def experiment(name: str):
    from .experiments import EXPERIMENTS

    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; experiments: {', '.join(EXPERIMENTS)}")
    return EXPERIMENTS[name]


def plan(exp, trials: int) -> list[dict]:
    return [{"arm": arm, "lr": lr, "seed": seed}
            for arm in exp.ARMS for lr in exp.LRS for seed in range(trials)]


def key(spec: dict) -> str:
    return f"{spec['arm']}_lr{spec['lr']:g}_seed{spec['seed']}"


def run_trial(name: str, spec: dict, mini: bool) -> dict:
    """One trial, anywhere: the experiment's trial function with its settings."""
    for k, v in BLAS_THREADS.items():  # for any library that reads them late
        os.environ.setdefault(k, v)
    import tempfile

    from ..models.files import save_model

    exp = experiment(name)
    began, cpu = time.perf_counter(), time.process_time()
    out = exp.trial(spec["arm"], spec["lr"], spec["seed"], exp.settings(mini))
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    with tempfile.TemporaryDirectory() as tmp:  # the weights travel as a file's bytes
        path = Path(tmp) / "model.safetensors"
        save_model(out["model"], path)
        weights = path.read_bytes()
    return {**spec, "metrics": out["metrics"], "curve": out.get("curve", []),
            "extra": out.get("extra", {}), "seconds": seconds, "cpu_seconds": cpu,
            "model": weights}


def fingerprint(name: str, settings: dict, trials: int) -> str:
    text = json.dumps({"name": name, "settings": settings, "trials": trials}, sort_keys=True,
                      default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def run(name: str, trials: int | None = None, workers: int = 1, scheduler: str | None = None,
        mini: bool = False, out: Path | None = None, presets: Path | None = None,
        progress_stream=None, cluster=None) -> dict:
    """Run (or resume) an experiment; write out/NAME.json and out/NAME.log and, with
    `presets`, each arm's best model as the preset lab-NAME-ARM. Returns the results."""
    exp = experiment(name)
    trials = trials or exp.TRIALS
    settings = exp.settings(mini)
    out = Path(out) if out is not None else RESULTS
    work = out / ".work" / name
    stamp = fingerprint(name, settings, trials)
    if (work / "fingerprint").is_file() and (work / "fingerprint").read_text() != stamp:
        shutil.rmtree(work)  # a run with other settings: start over
    work.mkdir(parents=True, exist_ok=True)
    (work / "fingerprint").write_text(stamp)
    jobs = plan(exp, trials)
    done = _finished(work)
    log_path = work / "run.log"
    with log_path.open("a") as log:
        if not done:
            log.write(_header(exp, settings, trials, workers, scheduler))
        else:
            log.write(f"# resumed with {len(done)} of {len(jobs)} trials finished\n")
        todo = [s for s in jobs if key(s) not in done]
        bar = Progress(name, len(jobs), len(jobs) - len(todo), progress_stream)
        began = time.perf_counter()

        def keep(result: dict) -> None:
            (work / f"{key(result)}.safetensors").write_bytes(result.pop("model"))
            with (work / "trials.jsonl").open("a") as f:
                f.write(json.dumps(result) + "\n")
            done[key(result)] = result
            bar.advance()
            log.write(f"[{len(done)}/{len(jobs)}] {_trial_line(exp, result)}\n")
            log.flush()

        for result in _execute(name, todo, mini, workers, scheduler, cluster):
            keep(result)
        log.write(f"# trials ran in {clock(time.perf_counter() - began)} "
                  f"({'Dask at ' + scheduler if scheduler else f'{workers} local worker(s)'})\n")
    results = _results(exp, jobs, done, settings, trials)
    text = log_path.read_text() + _footer(exp, results)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(results, indent=1) + "\n")
    (out / f"{name}.log").write_text(text)
    if presets is not None:
        _write_presets(exp, results, work, Path(presets), settings)
    shutil.rmtree(work)
    return {**results, "log": text}


def _finished(work: Path) -> dict:
    done = {}
    path = work / "trials.jsonl"
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                result = json.loads(line)
            except json.JSONDecodeError:  # a line cut by the interruption
                continue
            if (work / f"{key(result)}.safetensors").is_file():
                done[key(result)] = result
    return done


def _execute(name, todo, mini, workers, scheduler, cluster):
    if not todo:
        return
    if scheduler is not None or cluster is not None:
        from distributed import Client
        from distributed import as_completed as dask_completed

        with Client(cluster if cluster is not None else scheduler) as client:
            futures = [client.submit(run_trial, name, spec, mini, pure=False) for spec in todo]
            for future in dask_completed(futures):
                yield future.result()
        return
    if workers <= 1:
        for spec in todo:
            yield run_trial(name, spec, mini)
        return
    saved = {k: os.environ.get(k) for k in BLAS_THREADS}
    os.environ.update(BLAS_THREADS)  # the workers' NumPy loads with one BLAS thread
    try:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            futures = [pool.submit(run_trial, name, spec, mini) for spec in todo]
            for future in as_completed(futures):
                yield future.result()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _results(exp, jobs, done, settings, trials) -> dict:
    arms = []
    for arm in exp.ARMS:
        mine = [done[key(s)] for s in jobs if s["arm"] == arm]
        by_lr = {f"{lr:g}": summarise([t for t in mine if t["lr"] == lr]) for lr in exp.LRS}
        arms.append({"name": arm, "label": exp.LABELS.get(arm, arm),
                     "trials": [{k: t[k] for k in ("seed", "lr", "metrics", "curve", "extra",
                                                     "seconds", "cpu_seconds") if k in t}
                                for t in mine],
                     "summary": summarise(mine), "by_lr": by_lr})
    results = {"name": exp.NAME, "title": exp.TITLE, "source": exp.SOURCE,
               "about": exp.ABOUT, "primary": exp.PRIMARY, "lower_is_better": exp.LOWER_BETTER,
               "lrs": [f"{lr:g}" for lr in exp.LRS], "trials_per_lr": trials,
               "settings": settings, "paper": exp.PAPER, "arms": arms,
               "seconds": sum(t["seconds"] for t in done.values()),
               "versions": {"python": platform.python_version(), "numpy": np.__version__}}
    results["conclusions"] = exp.conclusions(results)
    return results


def best_trial(exp, arm: dict) -> dict:
    sign = 1 if exp.LOWER_BETTER else -1
    return min(arm["trials"], key=lambda t: (sign * t["metrics"][exp.PRIMARY], t["lr"],
                                             t["seed"]))


def _write_presets(exp, results, work: Path, presets: Path, settings: dict) -> None:
    for arm in results["arms"]:
        best = best_trial(exp, arm)
        folder = presets / f"lab-{exp.NAME}-{arm['name']}"
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(work / f"{key({**best, 'arm': arm['name']})}.safetensors",
                        folder / "model.safetensors")
        meta = {"name": folder.name, "experiment": exp.NAME, "arm": arm["name"],
                "lr": best["lr"], "seed": best["seed"], "metrics": best["metrics"],
                **exp.preset_story(arm["name"], best, settings)}
        (folder / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")


def _trial_line(exp, r: dict) -> str:
    metrics = ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                        for k, v in r["metrics"].items())
    cpu = f", {r['cpu_seconds']:.1f} s CPU" if "cpu_seconds" in r else ""
    return f"{r['arm']} lr {r['lr']:g} seed {r['seed']}: {metrics} ({r['seconds']:.1f} s{cpu})"


def _header(exp, settings, trials, workers, scheduler) -> str:
    return (f"# gatescope lab {exp.NAME}: {exp.TITLE}\n"
            f"# {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}; Python "
            f"{platform.python_version()}, NumPy {np.__version__}, one BLAS thread per trial\n"
            f"# settings {json.dumps(settings, sort_keys=True, default=str)}\n"
            f"# {len(exp.ARMS)} arms x {len(exp.LRS)} learning rates x {trials} seeds\n")


def _footer(exp, results) -> str:
    lines = [f"# summary ({exp.PRIMARY}, mean ± 95% CI over seeds)"]
    for arm in results["arms"]:
        cells_ = [f"lr {lr}: {s[exp.PRIMARY]['mean']:.4f} ± {s[exp.PRIMARY]['ci95']:.4f}"
                  for lr, s in arm["by_lr"].items() if exp.PRIMARY in s]
        lines.append(f"{arm['name']:>12}  " + "   ".join(cells_))
    cpu = sum(t.get("cpu_seconds", 0) for a in results["arms"] for t in a["trials"])
    lines.append(f"# trial time in total {clock(results['seconds'])} wall, each trial one "
                 f"process" + (f"; {clock(cpu)} CPU" if cpu else ""))
    for c in results["conclusions"]:
        lines.append(f"# {c['verdict']}: {c['claim']} — {c['detail']}")
    return "\n".join(lines) + "\n"
