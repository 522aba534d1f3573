"""counting: can the cell count? aⁿbⁿ with the acceptance rule of Weiss, Goldberg & Yahav
(2018), "On the Practical Computational Power of Finite Precision RNNs for Language
Recognition": a language model over "a", "b" and the end "$", trained on strings with small
n, accepts aⁿbⁿ when every symbol it can know is predicted: from the first b on, the next b
and then the end each above probability 0.5, and while a's are read the end stays below it.
Tested for every n from 1 to 1000: an LSTM can keep the count in its cell state (c grows
with each a and shrinks with each b, the counter of the Stack Exchange answer); a GRU's
state is an interpolation in (−1, 1) and has to fit the count into a saturating range.
"""

from __future__ import annotations

import numpy as np

NAME = "counting"
TITLE = "Counting: aⁿbⁿ, trained on small n, tested to n = 1000 (LSTM vs GRU)"
SOURCE = ("Weiss, Goldberg & Yahav (2018), \"On the Practical Computational Power of Finite "
          "Precision RNNs for Language Recognition\"")
ABOUT = __doc__.split("\n", 1)[1].strip()
ARMS = ("lstm", "gru")
LABELS = {"lstm": "LSTM", "gru": "GRU"}
LRS = (1e-2, 3e-3)
TRIALS = 3
PRIMARY, LOWER_BETTER = "max_n", False
VOCABULARY = "$ab"
PAPER = {
    "metric": "the largest n up to which every aⁿbⁿ is accepted (trained on small n)",
    "by_arm": {"lstm": {"max_n": 1000}, "gru": {"max_n": 115}},
    "claims": ["the LSTM learns to count: trained on n < 100 it accepts aⁿbⁿ to n = 1000",
               "the GRU fails past about n = 115"],
}


def settings(mini: bool) -> dict:
    if mini:
        return {"hidden": 3, "train_n": 4, "probe_n": 10, "test_n": 30, "steps": 6, "every": 3,
                "batch": 4}
    return {"hidden": 8, "train_n": 40, "probe_n": 200, "test_n": 1000, "steps": 700,
            "every": 100, "batch": 32}


def text(n: int) -> str:
    return "a" * n + "b" * n + "$"


def accepted(net, test_n: int) -> np.ndarray:
    """accepted[n − 1] for n = 1 … test_n, every n at once: the state after aⁿ comes from
    one run of a^test_n, then all the b phases run side by side."""
    from ..tasks import probabilities

    a, b, end = (VOCABULARY.index(ch) for ch in "ab$")
    ids = np.full((test_n, 1), a)
    states, ends_early = [], []
    state = None
    for k in range(test_n):  # one step at a time, keeping the state after each a
        probs, state = probabilities(net, ids[k:k + 1], state)
        ends_early.append(probs[0, 0, end] >= 0.5)
        states.append({key: tuple(s.copy() for s in value) for key, value in state.items()})
    ok_a = ~np.logical_or.accumulate(np.array(ends_early))  # no end predicted among the a's
    # b phase: sequence n − 1 starts from the state after aⁿ and reads n b's
    start = {key: tuple(np.concatenate([st[key][j] for st in states]) for j in
                        range(len(states[0][key])))
             for key in states[0]}
    bs = np.full((test_n, test_n), b)
    probs, _ = probabilities(net, bs, start)  # (k, n)
    k = np.arange(1, test_n + 1)[:, None]  # b's read so far
    n = np.arange(1, test_n + 1)[None, :]
    right = np.where(k < n, probs[..., b] > 0.5, probs[..., end] > 0.5)
    right |= k > n  # past the end: not part of the string
    return ok_a & right.all(axis=0)


def max_n(ok: np.ndarray) -> int:
    return int(np.argmin(ok)) if not ok.all() else len(ok)


def trial(arm: str, lr: float, seed: int, s: dict) -> dict:
    import cells

    from ..fit import fit
    from ..tasks import pad

    xs, ys = pad([text(n) for n in range(1, s["train_n"] + 1)], VOCABULARY, "$")
    model = cells.char_model(arm, VOCABULARY, hidden_size=s["hidden"], seed=seed,
                             dtype="float64")
    probe = s["probe_n"]  # the model kept is the one that counts furthest up to here
    done = fit(model, (xs, ys), steps=s["steps"], seq_len=xs.shape[1], batch=s["batch"],
               lr=lr, seed=seed, every=s["every"],
               score=lambda net: -max_n(accepted(net, probe)))
    from ...training.network import Network

    ok = accepted(Network(done.best), s["test_n"])
    return {"metrics": {"max_n": max_n(ok), "accepted": float(ok.mean()),
                        "train_range": bool(ok[:s["train_n"]].all())},
            "curve": done.curve, "extra": {"accepted_by_n": "".join("01"[int(v)] for v in ok)},
            "model": done.best}


def conclusions(results) -> list[dict]:
    arms = {a["name"]: a for a in results["arms"]}
    lstm = max(t["metrics"]["max_n"] for t in arms["lstm"]["trials"])
    gru = max(t["metrics"]["max_n"] for t in arms["gru"]["trials"])
    test_n = results["settings"]["test_n"]
    return [
        {"claim": "the LSTM learns to count far past its training range",
         "paper": "to n = 1000", "verdict": "reproduced" if lstm >= test_n else (
             "partly reproduced" if lstm > 2 * results["settings"]["train_n"]
             else "not reproduced"),
         "detail": f"best LSTM trial accepts every n up to {lstm} (trained on n ≤ "
                   f"{results['settings']['train_n']})"},
        {"claim": "the GRU counts less far than the LSTM", "paper": "fails past about n = 115",
         "verdict": "reproduced" if gru < lstm else "not reproduced",
         "detail": f"best GRU trial accepts every n up to {gru}"},
    ]


def preset_story(arm: str, best: dict, s: dict) -> dict:
    return {"description": (
        f"A {LABELS[arm]} of {s['hidden']} units trained in the lab on aⁿbⁿ with n ≤ "
        f"{s['train_n']} (predict the next of a, b, $). It accepts every aⁿbⁿ up to n = "
        f"{best['metrics']['max_n']} (Weiss, Goldberg & Yahav 2018's rule). Watch c while "
        f"the a's come in and the b's count it down."),
        "sample": text(60)}
