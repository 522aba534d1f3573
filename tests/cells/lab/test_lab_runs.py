"""cells.lab: a miniature of every experiment, the same numbers whatever runs the trials
(in this process, local worker processes, a Dask LocalCluster of two workers), resuming
an interrupted run, and the committed results as the contract names them."""

import json
import math

import numpy as np
import pytest

import cells
import cells.lab
from cells.lab import runner
from cells.lab.experiments import EXPERIMENTS
from cells.lab.stats import mean_ci95


def strip_times(results: dict) -> dict:
    """Results without what measures time (the only thing allowed to differ)."""
    out = json.loads(json.dumps(results))
    out.pop("seconds", None)
    out.pop("log", None)
    for arm in out["arms"]:
        for trial in arm["trials"]:
            trial.pop("seconds")
            trial.pop("cpu_seconds")
    return out


def weights(folder):
    return {p.parent.name: p.read_bytes() for p in sorted(folder.glob("lab-*/model.safetensors"))}


@pytest.mark.parametrize("name", ["counting", "dyck1", "forget-bias", "parity",
                                  "written-memories"])
def test_a_miniature_of_each_experiment_runs_and_writes_its_results(tmp_path, name, capsys):
    exp = EXPERIMENTS[name]
    results = cells.lab.run(name, trials=2 if name != "written-memories" else 1, mini=True,
                            out=tmp_path, presets=tmp_path / "presets")
    written = json.loads((tmp_path / f"{name}.json").read_text())
    assert strip_times(written) == strip_times(results)
    assert [a["name"] for a in written["arms"]] == list(exp.ARMS)
    trials = 2 if name != "written-memories" else 1
    for arm in written["arms"]:
        assert len(arm["trials"]) == len(exp.LRS) * trials
        assert {(t["lr"], t["seed"]) for t in arm["trials"]} == {
            (lr, s) for lr in exp.LRS for s in range(trials)}
        values = [t["metrics"][exp.PRIMARY] for t in arm["trials"]]
        assert math.isclose(arm["summary"][exp.PRIMARY]["mean"], sum(values) / len(values))
        assert all(math.isfinite(v) for v in values)
        assert all(len(t["curve"]) >= 1 for t in arm["trials"])
    log = (tmp_path / f"{name}.log").read_text()
    assert log.count(" seed ") >= len(exp.ARMS) * len(exp.LRS) * trials
    assert all(c["verdict"] in log for c in written["conclusions"])
    # the best model of each arm, as a preset folder the presets module reads
    for arm in exp.ARMS:
        folder = tmp_path / "presets" / f"lab-{name}-{arm}"
        meta = json.loads((folder / "meta.json").read_text())
        assert meta["arm"] == arm and meta["description"] and meta["sample"]
        model = cells.load_model(folder / "model.safetensors")
        assert model.run(meta["sample"][:20])  # it runs on its own sample
    assert "ETA" in capsys.readouterr().err  # the progress bar


@pytest.mark.parametrize("name", ["counting", "parity"])
def test_trials_are_the_same_bits_in_process_in_workers_and_on_dask(tmp_path, name):
    distributed = pytest.importorskip("distributed")
    plain = cells.lab.run(name, trials=2, mini=True, out=tmp_path / "a",
                          presets=tmp_path / "a" / "presets")
    again = cells.lab.run(name, trials=2, mini=True, out=tmp_path / "b",
                          presets=tmp_path / "b" / "presets")
    pool = cells.lab.run(name, trials=2, mini=True, workers=2, out=tmp_path / "c",
                         presets=tmp_path / "c" / "presets")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        dask = cells.lab.run(name, trials=2, mini=True, cluster=cluster,
                             out=tmp_path / "d", presets=tmp_path / "d" / "presets")
    for other in (again, pool, dask):
        assert strip_times(other) == strip_times(plain)
    expected = weights(tmp_path / "a" / "presets")
    assert len(expected) == len(EXPERIMENTS[name].ARMS)
    for folder in "bcd":
        assert weights(tmp_path / folder / "presets") == expected


def test_an_interrupted_run_keeps_its_trials_and_resumes(tmp_path, monkeypatch):
    calls = []
    real = runner.run_trial

    def stops_on_the_third(name, spec, mini):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(spec)
        return real(name, spec, mini)

    monkeypatch.setattr(runner, "run_trial", stops_on_the_third)
    with pytest.raises(KeyboardInterrupt):
        cells.lab.run("forget-bias", trials=1, mini=True, out=tmp_path / "x")
    kept = (tmp_path / "x" / ".work" / "forget-bias" / "trials.jsonl").read_text().splitlines()
    assert len(kept) == 2
    monkeypatch.setattr(runner, "run_trial", real)
    ran = []
    monkeypatch.setattr(runner, "run_trial", lambda n, s, m: ran.append(s) or real(n, s, m))
    resumed = cells.lab.run("forget-bias", trials=1, mini=True, out=tmp_path / "x")
    assert len(ran) == 6 - 2  # 3 arms × 2 learning rates, two of them finished before
    assert "resumed with 2 of 6 trials finished" in resumed["log"]
    monkeypatch.setattr(runner, "run_trial", real)
    clean = cells.lab.run("forget-bias", trials=1, mini=True, out=tmp_path / "y")
    assert strip_times(resumed) == strip_times(clean)


def test_parity_tags_each_prefix_and_measures_accuracy_by_length():
    from cells.lab.experiments import parity

    xs, ys = parity.bits(5, 12, seed=7)
    for row, tags in zip(xs.tolist(), ys.tolist(), strict=True):
        assert tags == [sum(row[:n + 1]) % 2 for n in range(len(row))]
    assert parity.max_n(np.array([1.0, 1.0, 0.995, 1.0])) == 2
    assert parity.max_n(np.ones(4)) == 4 and parity.max_n(np.array([0.5, 1.0])) == 0


def test_mean_and_95_percent_interval():
    s = mean_ci95([1.0, 2.0, 3.0])  # s = 1, n = 3, t(2) = 4.303
    assert s["mean"] == 2.0 and math.isclose(s["ci95"], 4.303 / math.sqrt(3))
    assert mean_ci95([5.0]) == {"mean": 5.0, "ci95": 0.0, "n": 1}


def test_names_and_unknown_names():
    assert cells.lab.names()[:4] == ["written-memories", "counting", "dyck1", "forget-bias"]
    with pytest.raises(ValueError, match="written-memories"):
        cells.lab.results("no-such-experiment")


@pytest.mark.parametrize("name", [n for n in cells.lab.names()
                                  if (runner.RESULTS / f"{n}.json").is_file()])
def test_committed_results_follow_the_contract(name):
    r = cells.lab.results(name)
    exp = EXPERIMENTS[name]
    assert {"name", "title", "source", "arms", "paper", "log"} <= set(r)
    assert r["name"] == name and r["log"].startswith(f"# gatescope lab {name}")
    assert [a["name"] for a in r["arms"]] == list(exp.ARMS)
    for arm in r["arms"]:
        assert len(arm["trials"]) >= len(exp.LRS) * 3  # ≥ 3 trials × the learning rates
        for metric, s in arm["summary"].items():
            values = [t["metrics"][metric] for t in arm["trials"]]
            assert s == mean_ci95(values)
        preset = f"lab-{name}-{arm['name']}"
        assert preset in cells.presets.names()
        best = runner.best_trial(exp, arm)
        assert cells.presets.get(preset).metrics == best["metrics"]
