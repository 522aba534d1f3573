"""forget-bias: Jozefowicz, Zaremba & Sutskever (2015), "An Empirical Exploration of
Recurrent Network Architectures": initialising the LSTM's forget-gate bias to 1 (so f
starts near σ(1) ≈ 0.73, not ½) closes most of the gap between the LSTM and the GRU.
Here on a long-memory task (recall after a distractor, as in Hochreiter & Schmidhuber
1997): a sequence starts with one of a, b, c, d, then random digits, then "?", and at the
"?" the model must name the first symbol. Same budget for the three arms: LSTM with forget
bias 0, LSTM with bias 1, GRU; the score is held-out accuracy (chance 25%).
"""

from __future__ import annotations

import numpy as np

NAME = "forget-bias"
TITLE = "Forget-gate bias 0 vs 1, and a GRU, on recall after a distractor"
SOURCE = ("Jozefowicz, Zaremba & Sutskever (2015), \"An Empirical Exploration of Recurrent "
          "Network Architectures\"")
ABOUT = __doc__.split("\n", 1)[1].strip()
ARMS = ("lstm-bias0", "lstm-bias1", "gru")
LABELS = {"lstm-bias0": "LSTM, forget bias 0", "lstm-bias1": "LSTM, forget bias 1",
          "gru": "GRU"}
LRS = (3e-3, 1e-3)
TRIALS = 3
PRIMARY, LOWER_BETTER = "accuracy", False
SYMBOLS, DIGITS, QUERY = "abcd", "0123456789", "?"
VOCABULARY = QUERY + SYMBOLS + DIGITS
PAPER = {"metric": "held-out accuracy at the ?", "by_arm": {},
         "claims": ["a forget bias of 1 closes most of the LSTM–GRU gap"]}


def settings(mini: bool) -> dict:
    if mini:
        return {"hidden": 4, "distractor": 5, "train": 64, "heldout": 50, "steps": 6,
                "every": 3, "batch": 16}
    return {"hidden": 16, "distractor": 30, "train": 4096, "heldout": 500, "steps": 600,
            "every": 100, "batch": 32}


def sequences(count: int, distractor: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    first = rng.integers(0, 4, count)
    middle = rng.integers(0, 10, (count, distractor))
    return [SYMBOLS[f] + "".join(DIGITS[d] for d in row) + QUERY
            for f, row in zip(first, middle, strict=True)]


def arrays(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    index = {ch: k for k, ch in enumerate(VOCABULARY)}
    xs = np.array([[index[ch] for ch in t] for t in texts])
    ys = np.full_like(xs, -1)
    ys[:, -1] = xs[:, 0]  # only the answer at the "?" is scored
    return xs, ys


def accuracy(net, xs: np.ndarray) -> float:
    from ..tasks import probabilities

    probs, _ = probabilities(net, np.ascontiguousarray(xs.T), chunk=xs.shape[1])
    return float((probs[-1].argmax(-1) == xs[:, 0]).mean())


def trial(arm: str, lr: float, seed: int, s: dict) -> dict:
    import cells

    from ..fit import fit

    xs, ys = arrays(sequences(s["train"], s["distractor"], 1))
    held, _ = arrays(sequences(s["heldout"], s["distractor"], 2))
    kind = "gru" if arm == "gru" else "lstm"
    model = cells.char_model(kind, VOCABULARY, hidden_size=s["hidden"], seed=seed)
    if kind == "lstm":
        cell = model.cell(0)
        params = {k: np.array(v) for k, v in cell.params.items()}
        H = cell.hidden_size
        params["bias_ih"][H:2 * H] = 0.0 if arm == "lstm-bias0" else 1.0  # blocks i, f, g, o
        params["bias_hh"][H:2 * H] = 0.0
        model = cells.Model([{"forward": cells.create("lstm", params=params)}],
                            model.encoder, model.head)
    done = fit(model, (xs, ys), steps=s["steps"], seq_len=xs.shape[1], batch=s["batch"],
               lr=lr, seed=seed, every=s["every"], score=lambda net: -accuracy(net, held))
    solved = next((step for step, _, score in done.curve if -score >= 0.9), None)
    return {"metrics": {"accuracy": -done.best_score,
                        "steps_to_90": solved if solved is not None else s["steps"] + 1},
            "curve": done.curve, "model": done.best}


def conclusions(results) -> list[dict]:
    arms = {a["name"]: a["summary"]["accuracy"]["mean"] for a in results["arms"]}
    gap0, gap1 = arms["gru"] - arms["lstm-bias0"], arms["gru"] - arms["lstm-bias1"]
    return [{"claim": "a forget bias of 1 closes (most of) the LSTM–GRU gap",
             "paper": "yes", "verdict": "reproduced" if gap1 < gap0 and arms["lstm-bias1"] >
             arms["lstm-bias0"] else "not reproduced",
             "detail": f"mean accuracy: LSTM bias 0 {arms['lstm-bias0']:.3f}, bias 1 "
                       f"{arms['lstm-bias1']:.3f}, GRU {arms['gru']:.3f}"}]


def preset_story(arm: str, best: dict, s: dict) -> dict:
    return {"description": (
        f"The {LABELS[arm]} of the lab's forget-bias experiment ({s['hidden']} units): at "
        f"the ? it must name the first symbol, {s['distractor']} digits back; its best trial "
        f"answers {best['metrics']['accuracy']:.1%} of held-out sequences (chance 25%)."),
        "sample": sequences(1, s["distractor"], 3)[0]}
