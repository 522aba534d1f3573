"""dyck1: balanced brackets with one unit. Suzgun, Gehrmann, Belinkov & Shieber (2019),
"LSTM Networks Can Perform Dynamic Counting": a single-unit LSTM recognises Dyck-1, its
cell state counting the open brackets. A language model over "(", ")" and the end "$",
trained on short balanced strings, accepts a string when at every position it ranks the
symbol the depth allows above the one it forbids: ")" over "$" while a bracket is open,
"$" over ")" at depth 0. Tested on longer and deeper strings than it was trained on; the
correlation of c with the depth says whether the one unit is the counter.
"""

from __future__ import annotations

import numpy as np

NAME = "dyck1"
TITLE = "Dyck-1: one unit counts the depth (LSTM vs GRU, one unit each)"
SOURCE = ("Suzgun, Gehrmann, Belinkov & Shieber (2019), \"LSTM Networks Can Perform Dynamic "
          "Counting\"")
ABOUT = __doc__.split("\n", 1)[1].strip()
ARMS = ("lstm", "gru")
LABELS = {"lstm": "LSTM, 1 unit", "gru": "GRU, 1 unit"}
LRS = (1e-2, 3e-3)
TRIALS = 3
PRIMARY, LOWER_BETTER = "accuracy", False
VOCABULARY = "$()"
PAPER = {"metric": "test strings accepted (longer than in training)",
         "by_arm": {"lstm": {"accuracy": 1.0}},
         "claims": ["a one-unit LSTM recognises Dyck-1: its cell state tracks the depth"]}


def settings(mini: bool) -> dict:
    if mini:
        return {"train": 40, "train_len": 12, "test": 20, "test_len": 30, "steps": 6,
                "every": 3, "batch": 8}
    return {"train": 2000, "train_len": 40, "test": 300, "test_len": 160, "steps": 2000,
            "every": 200, "batch": 32}


def dyck(rng: np.random.Generator, max_len: int) -> str:
    """A random balanced string of at most max_len brackets, ending in "$": opens while
    there is room, with probability ½ (always at depth 0), until it closes to depth 0
    and stops with probability ¼ (or when no more room)."""
    out, depth = [], 0
    while True:
        room = max_len - len(out)
        if depth == 0 and (out and rng.random() < 0.25 or room < 2):
            return "".join(out) + "$"
        if depth < room - depth and (depth == 0 or rng.random() < 0.5):
            out.append("(")
            depth += 1
        else:
            out.append(")")
            depth -= 1


def strings(count: int, max_len: int, min_len: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < count:
        s = dyck(rng, max_len)
        if len(s) - 1 >= min_len:
            out.append(s)
    return out


def depths(text: str) -> np.ndarray:
    """The depth after each input symbol (every symbol but the final "$")."""
    return np.cumsum([1 if ch == "(" else -1 for ch in text[:-1]])


def judge(net, texts: list[str]) -> tuple[np.ndarray, float]:
    """(accepted per string, |Pearson r| of the unit's c (LSTM) or h (GRU) with depth)."""
    from ..tasks import pad, probabilities

    xs, ys = pad(texts, VOCABULARY, "$")
    signal = "c" if "c" in net.layers[0]["forward"].names else "h"
    probs, _, recorded = probabilities(net, np.ascontiguousarray(xs.T), record=signal)
    close, end = VOCABULARY.index(")"), VOCABULARY.index("$")
    ok = np.ones(len(texts), bool)
    values, depth_all = [], []
    for k, text in enumerate(texts):
        d = depths(text)
        p = probs[:len(d), k]
        good = np.where(d > 0, p[:, close] > p[:, end], p[:, end] > p[:, close])
        ok[k] = good.all()
        values.append(recorded[:len(d), k, 0])
        depth_all.append(d)
    v, d = np.concatenate(values), np.concatenate(depth_all)
    r = 0.0 if v.std() == 0 or d.std() == 0 else abs(float(np.corrcoef(v, d)[0, 1]))
    return ok, r


def trial(arm: str, lr: float, seed: int, s: dict) -> dict:
    import cells

    from ...training.network import Network
    from ..fit import fit
    from ..tasks import pad

    train = strings(s["train"], s["train_len"], 2, seed=1000 + seed)
    test = strings(s["test"], s["test_len"], s["train_len"] + 1, seed=2000)
    xs, ys = pad(train, VOCABULARY, "$")
    model = cells.char_model(arm, VOCABULARY, hidden_size=1, seed=seed, dtype="float64")
    probe = train[:200]
    done = fit(model, (xs, ys), steps=s["steps"], seq_len=xs.shape[1], batch=s["batch"],
               lr=lr, seed=seed, every=s["every"],
               score=lambda net: -judge(net, probe)[0].mean())
    ok, r = judge(Network(done.best), test)
    ok_train, _ = judge(Network(done.best), train[:200])
    return {"metrics": {"accuracy": float(ok.mean()), "train_accuracy": float(ok_train.mean()),
                        "depth_correlation": r},
            "curve": done.curve, "model": done.best}


def conclusions(results) -> list[dict]:
    arms = {a["name"]: a for a in results["arms"]}
    best = max(t["metrics"]["accuracy"] for t in arms["lstm"]["trials"])
    r = max(t["metrics"]["depth_correlation"] for t in arms["lstm"]["trials"])
    return [{"claim": "a one-unit LSTM recognises Dyck-1, longer strings than it was "
                      "trained on", "paper": "yes",
             "verdict": "reproduced" if best >= 0.99 else (
                 "partly reproduced" if best >= 0.5 else "not reproduced"),
             "detail": f"best LSTM trial accepts {best:.1%} of the test strings; |r(c, "
                       f"depth)| up to {r:.3f}"}]


def preset_story(arm: str, best: dict, s: dict) -> dict:
    return {"description": (
        f"A {LABELS[arm]} trained in the lab on balanced brackets of at most "
        f"{s['train_len']} symbols (predict the next of (, ), $). On longer test strings (up "
        f"to {s['test_len']}) it accepts {best['metrics']['accuracy']:.1%}; the correlation "
        f"of its one unit with the depth is {best['metrics']['depth_correlation']:.3f}."),
        "sample": "(()(()))((()))(" + "(" * 10 + ")" * 11 + "$"}
