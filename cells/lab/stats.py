"""Mean and 95% confidence interval of a few trials (Student's t, as Written Memories
reports its table: "the average of 5 runs with a 95% confidence interval")."""

from __future__ import annotations

import math

# Two-sided 95% critical values of Student's t by degrees of freedom (n − 1); beyond 30
# the normal 1.96 is within 2%.
T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
       9: 2.262, 10: 2.228, 11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131,
       16: 2.120, 17: 2.110, 18: 2.101, 19: 2.093, 20: 2.086, 25: 2.060, 30: 2.042}


def t95(df: int) -> float:
    if df in T95:
        return T95[df]
    below = [k for k in T95 if k <= df]
    return T95[max(below)] if df <= 30 else 1.96


def mean_ci95(values) -> dict:
    """{"mean", "ci95", "n"}: ci95 the half-width t·s/√n (0 for a single value)."""
    values = [float(v) for v in values]
    n = len(values)
    if n == 0:
        raise ValueError("no values to summarise")
    mean = math.fsum(values) / n
    if n == 1:
        return {"mean": mean, "ci95": 0.0, "n": 1}
    var = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    return {"mean": mean, "ci95": t95(n - 1) * math.sqrt(var / n), "n": n}


def summarise(trials: list[dict]) -> dict:
    """metric -> mean_ci95 over the trials that report it."""
    names = sorted({k for t in trials for k, v in t["metrics"].items()
                    if isinstance(v, (int, float))})
    return {k: mean_ci95([t["metrics"][k] for t in trials if k in t["metrics"]])
            for k in names}
