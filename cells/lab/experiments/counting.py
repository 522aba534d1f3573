"""counting: can the cell count? aⁿbⁿ, LSTM vs GRU, trained on n ≤ 100, tested to n = 1000.

Weiss, Goldberg & Yahav (2018), "On the Practical Computational Power of Finite Precision
RNNs for Language Recognition", show that an LSTM can keep a count in its cell state (c
grows with each a and shrinks with each b, the counter of the Stack Exchange answer) while
a GRU's state is an interpolation in (−1, 1) that has to fit the count into a saturating
range; trained on aⁿbⁿ with n up to 100, their LSTM goes on counting far past it and their
GRU does not. Here each cell is a language model over "a", "b" and the end "$", and it
accepts aⁿbⁿ when every symbol it can know is predicted: from the first b on, the next b
and then the end each above probability 0.5, and while a's are read the end stays below it.
Training: every n in 1…100, a curriculum (the largest n rises from 10 to 100 over the
first 40% of the steps; n is drawn log-uniformly, as many strings of each length scale,
so the short ones are not drowned), 6000 steps of Adam with the rate decaying from 0.01
to 0.0003, gradients clipped, float64, and the keep gate (LSTM forget, GRU update) starting
biased to keep. Every 50 steps the weights are scored on a validation range, n ≤ 300: the
kept ones accept every n furthest there (ties: the lowest loss on the deciding symbols past
n = 100); then every n from 1 to 1000 is tested.
"""

from __future__ import annotations

import numpy as np

NAME = "counting"
TITLE = "Counting: aⁿbⁿ, trained on n ≤ 100, tested to n = 1000 (LSTM vs GRU)"
SOURCE = ("Weiss, Goldberg & Yahav (2018), \"On the Practical Computational Power of Finite "
          "Precision RNNs for Language Recognition\"")
ABOUT = __doc__.split("\n", 1)[1].strip()
ARMS = ("lstm", "gru")
LABELS = {"lstm": "LSTM", "gru": "GRU"}
LRS = (1e-2,)
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
        return {"hidden": 3, "train_n": 6, "start_n": 3, "ramp": 0.5, "valid_n": 12,
                "test_n": 30, "steps": 8, "every": 4, "batch": 4, "lr_end": 1e-3,
                "clip": 1.0, "keep_bias": 3.0}
    return {"hidden": 4, "train_n": 100, "start_n": 10, "ramp": 0.4, "valid_n": 300,
            "test_n": 1000, "steps": 6000, "every": 50, "batch": 16, "lr_end": 3e-4,
            "clip": 1.0, "keep_bias": 5.0}


def text(n: int) -> str:
    return "a" * n + "b" * n + "$"


def judged(net, test_n: int) -> tuple[np.ndarray, np.ndarray]:
    """For n = 1 … test_n, every n at once: accepted[n − 1], and loss[n − 1], the mean
    −log probability of the two deciding symbols (the last b and the end). The state
    after aⁿ comes from one run of a^test_n, then all the b phases run side by side."""
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
    columns = np.arange(test_n)
    last_b = probs[np.maximum(columns - 1, 0), columns, b]  # after n − 1 b's (n ≥ 2)
    last_b[0] = 1.0  # a¹b¹: the one b follows an a, the a phase's own guess
    the_end = probs[columns, columns, end]  # after n b's
    loss = -(np.log(np.maximum(last_b, 1e-300)) + np.log(np.maximum(the_end, 1e-300))) / 2
    return ok_a & right.all(axis=0), loss


def accepted(net, test_n: int) -> np.ndarray:
    """accepted[n − 1] for n = 1 … test_n."""
    return judged(net, test_n)[0]


def max_n(ok: np.ndarray) -> int:
    return int(np.argmin(ok)) if not ok.all() else len(ok)


def validation_score(net, s: dict) -> float:
    """Lower is better: −(the largest n ≤ valid_n up to which all are accepted), ties broken
    by the deciding symbols' loss past the training range (tanh keeps it below one n)."""
    ok, loss = judged(net, s["valid_n"])
    return -max_n(ok) + float(np.tanh(loss[s["train_n"]:].mean()))


def curriculum(s: dict, seed: int):
    """Endless batches of whole strings aⁿbⁿ$ (inputs, next-symbol targets; padding unscored):
    the largest n rises from start_n to train_n over the first `ramp` of the steps, and n is
    drawn log-uniformly from 1 … top (as many strings of each length scale: drawn uniformly,
    n = 1, 2, 3 are too rare to be learnt and the counter fails on them)."""
    from ...training.batches import Window
    from ..tasks import pad

    rng = np.random.default_rng(seed)
    step = 0
    while True:
        step += 1
        grown = min(1.0, step / max(1.0, s["ramp"] * s["steps"]))
        top = int(round(s["start_n"] + (s["train_n"] - s["start_n"]) * grown))
        ns = np.floor(np.exp(rng.uniform(0.0, np.log(top + 1), s["batch"]))).astype(int)
        ns = np.clip(ns, 1, top)
        xs, ys = pad([text(int(n)) for n in ns], VOCABULARY, "$")
        yield Window(np.ascontiguousarray(xs.T), np.ascontiguousarray(ys.T), True)


def keep_biased(model, bias: float):
    """The model with its keep gate's bias set to `bias` (block 1 of both kinds' gates:
    the LSTM's forget gate among i, f, g, o and the GRU's update gate among r, z, n, where
    z keeps h), so both start remembering; the recurrent copy of that bias is zeroed."""
    import cells

    cell = model.cell(0)
    params = {k: np.array(v) for k, v in cell.params.items()}
    H = cell.hidden_size
    params["bias_ih"][H:2 * H] = bias
    params["bias_hh"][H:2 * H] = 0.0
    return cells.Model([{"forward": cells.create(cell.kind, params=params, **cell.options)}],
                       model.encoder, model.head)


def trial(arm: str, lr: float, seed: int, s: dict) -> dict:
    import cells

    from ...training.network import Network
    from ..fit import fit

    model = keep_biased(cells.char_model(arm, VOCABULARY, hidden_size=s["hidden"], seed=seed,
                                         dtype="float64"), s["keep_bias"])
    done = fit(model, None, steps=s["steps"], seq_len=2 * s["train_n"] + 1, batch=s["batch"],
               lr=lr, seed=seed, every=s["every"], clip=s["clip"], lr_end=s["lr_end"],
               windows=curriculum(s, seed), score=lambda net: validation_score(net, s))
    ok = accepted(Network(done.best), s["test_n"])
    return {"metrics": {"max_n": max_n(ok), "accepted": float(ok.mean()),
                        "valid_max_n": int(np.ceil(-done.best_score)),  # what chose it
                        "train_range": bool(ok[:s["train_n"]].all())},
            "curve": done.curve, "extra": {"accepted_by_n": "".join("01"[int(v)] for v in ok)},
            "model": done.best}


def conclusions(results) -> list[dict]:
    arms = {a["name"]: a for a in results["arms"]}
    lstm = max(t["metrics"]["max_n"] for t in arms["lstm"]["trials"])
    gru = max(t["metrics"]["max_n"] for t in arms["gru"]["trials"])
    s = results["settings"]
    return [
        {"claim": "the LSTM learns to count far past its training range",
         "paper": "to n = 1000", "verdict": "reproduced" if lstm >= s["test_n"] else (
             "partly reproduced" if lstm > 2 * s["train_n"] else "not reproduced"),
         "detail": f"best LSTM trial accepts every n up to {lstm} (trained on n ≤ "
                   f"{s['train_n']}, tested to {s['test_n']})"},
        {"claim": "the GRU counts less far than the LSTM", "paper": "fails past about n = 115",
         "verdict": "reproduced" if gru < lstm else "not reproduced",
         "detail": f"best GRU trial accepts every n up to {gru}"},
    ]


def preset_story(arm: str, best: dict, s: dict) -> dict:
    """The sample is the longest aⁿbⁿ the arm accepts (at least n = 60, at most test_n), so
    the diagram shows the count going up and back down to where the model decides."""
    n = min(max(best["metrics"]["max_n"], 60), s["test_n"])
    return {"description": (
        f"{'An' if arm == 'lstm' else 'A'} {LABELS[arm]} of {s['hidden']} units trained in "
        f"the lab on aⁿbⁿ with n ≤ "
        f"{s['train_n']} (predict the next of a, b, $). It accepts every aⁿbⁿ up to n = "
        f"{best['metrics']['max_n']} (tested to {s['test_n']} with the counting "
        f"experiment's rule). The sample is a^{n} b^{n}: watch c while the a's come in and "
        f"the b's count it down."),
        "sample": text(n)}
