"""parity: can the cell keep one bit that every 1 flips? Each model reads a random bit string
and, after every bit, names the parity of the bits so far (the tag of each prefix: "1" when
it holds an odd number of 1s). Trained on strings of a few bits, it is tested on strings many
times longer; the accuracy at position n is the accuracy on strings of length n, so one pass
over long test strings gives accuracy against length.

Grazzi, Siems, Franke, Zela, Hutter & Pontil (2025), "Unlocking State-Tracking in Linear RNNs
Through Negative Eigenvalues", prove that a diagonal linear recurrence whose transitions stay
in [0, 1] cannot compute parity at every length; Beck et al. (2024), "xLSTM: Extended Long
Short-Term Memory", report the LSTM and the sLSTM solving parity. minGRU and minLSTM (Feng et
al. 2024, "Were RNNs All We Needed?") are such recurrences: h_t = keep_t ⊙ h_{t−1} + write_t
with keep_t in (0, 1) and both read from x_t alone, so a 1 cannot turn h_{t−1} into its
opposite, which is what it must do to a parity held in h. The LSTM and the sLSTM read h_{t−1}
into their gates and can. Same budget for every arm; the model kept is the one that tags
held-out strings of twice the training length best.
"""

from __future__ import annotations

import numpy as np

NAME = "parity"
TITLE = "Parity: trained on short bit strings, tested on long ones (LSTM, sLSTM vs minGRU, " \
        "minLSTM)"
SOURCE = ("Grazzi, Siems, Franke, Zela, Hutter & Pontil (2025), \"Unlocking State-Tracking in "
          "Linear RNNs Through Negative Eigenvalues\"; Beck et al. (2024), \"xLSTM: Extended "
          "Long Short-Term Memory\"")
ABOUT = __doc__.split("\n", 1)[1].strip()
ARMS = ("lstm", "slstm", "min_gru", "min_lstm")
LABELS = {"lstm": "LSTM", "slstm": "sLSTM", "min_gru": "minGRU", "min_lstm": "minLSTM"}
LRS = (1e-2, 3e-3)
TRIALS = 3
PRIMARY, LOWER_BETTER = "accuracy", False
VOCABULARY = "01"
PAPER = {
    "metric": "accuracy on strings longer than in training (chance 0.5)",
    "by_arm": {"lstm": {"parity": "solved"}, "slstm": {"parity": "solved"},
               "min_gru": {"parity": "not solvable (keep in (0, 1))"},
               "min_lstm": {"parity": "not solvable (keep in (0, 1))"}},
    "claims": ["an LSTM and an sLSTM learn parity and keep it on longer strings",
               "a recurrence whose keep valve lies in (0, 1) and reads only x_t (minGRU, "
               "minLSTM) cannot: it stays near chance past the shortest strings"],
}


def settings(mini: bool) -> dict:
    if mini:
        return {"hidden": 3, "train": 64, "train_len": 6, "probe": 10, "test": 10,
                "test_len": 30, "steps": 6, "every": 3, "batch": 8}
    return {"hidden": 8, "train": 2048, "train_len": 20, "probe": 100, "test": 200,
            "test_len": 500, "steps": 1000, "every": 100, "batch": 32}


def bits(count: int, length: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(xs, ys) (count, length) each: random bits and the parity of each prefix."""
    xs = np.random.default_rng(seed).integers(0, 2, (count, length))
    return xs, np.cumsum(xs, axis=1) % 2  # the ids of "0" and "1" are 0 and 1


def accuracy_by_length(net, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """[n − 1]: the fraction of strings of length n whose parity the model names (its most
    probable tag after the n-th bit)."""
    from ..tasks import probabilities

    probs, _ = probabilities(net, np.ascontiguousarray(xs.T), chunk=100)
    return (probs.argmax(-1) == ys.T).mean(axis=1)


def max_n(by_length: np.ndarray) -> int:
    """The longest n such that every test string of every length up to n is right."""
    ok = by_length == 1.0
    return int(np.argmin(ok)) if not ok.all() else len(ok)


def trial(arm: str, lr: float, seed: int, s: dict) -> dict:
    import cells

    from ...training.network import Network
    from ..fit import fit

    xs, ys = bits(s["train"], s["train_len"], seed=1000 + seed)
    probe = bits(s["probe"], 2 * s["train_len"], seed=2000)
    test = bits(s["test"], s["test_len"], seed=3000)
    model = cells.char_model(arm, VOCABULARY, hidden_size=s["hidden"], seed=seed,
                             dtype="float64")
    done = fit(model, (xs, ys), steps=s["steps"], seq_len=s["train_len"], batch=s["batch"],
               lr=lr, seed=seed, every=s["every"],
               score=lambda net: -accuracy_by_length(net, *probe).mean())
    by_length = accuracy_by_length(Network(done.best), *test)
    L = s["train_len"]
    return {"metrics": {"accuracy": float(by_length[L:].mean()),
                        "train_accuracy": float(by_length[:L].mean()),
                        "max_n": max_n(by_length)},
            "curve": done.curve,
            "extra": {"accuracy_by_n": [round(float(v), 4) for v in by_length]},
            "model": done.best}


def conclusions(results) -> list[dict]:
    arms = {a["name"]: a for a in results["arms"]}
    s = results["settings"]

    def best(arm: str, metric: str = "accuracy"):
        return max(t["metrics"][metric] for t in arms[arm]["trials"])

    gated = min(best("lstm"), best("slstm"))
    fading = max(best("min_gru"), best("min_lstm"))
    longest = {arm: best(arm, "max_n") for arm in arms}
    return [
        {"claim": "an LSTM and an sLSTM learn parity and keep it on longer strings",
         "paper": "yes", "verdict": "reproduced" if gated >= 0.99 else (
             "partly reproduced" if gated >= 0.75 else "not reproduced"),
         "detail": f"best trial on lengths {s['train_len'] + 1}–{s['test_len']} (trained on "
                   f"{s['train_len']}): LSTM {best('lstm'):.1%}, sLSTM {best('slstm'):.1%}; "
                   f"every string right up to n = {longest['lstm']} (LSTM), "
                   f"{longest['slstm']} (sLSTM)"},
        {"claim": "minGRU and minLSTM, whose keep valve lies in (0, 1) and reads only x_t, "
                  "cannot: near chance on the longer strings",
         "paper": "yes (Grazzi et al.: no diagonal recurrence with transitions in [0, 1])",
         "verdict": "reproduced" if fading < 0.6 else "not reproduced",
         "detail": f"best trial: minGRU {best('min_gru'):.1%}, minLSTM "
                   f"{best('min_lstm'):.1%} (chance 50%); every string right up to n = "
                   f"{longest['min_gru']} (minGRU), {longest['min_lstm']} (minLSTM)"},
    ]


def preset_story(arm: str, best: dict, s: dict) -> dict:
    m = best["metrics"]
    return {"description": (
        f"A {LABELS[arm]} of {s['hidden']} units trained in the lab on parity: after each bit "
        f"of a string it names the parity so far (\"1\": an odd number of 1s), trained on "
        f"strings of {s['train_len']} bits. On strings up to {s['test_len']} bits it is right "
        f"{m['accuracy']:.1%} of the time past the training length (chance 50%), every "
        f"string right up to n = {m['max_n']}. The prediction panel shows the tag it gives."),
        "sample": "".join(map(str, bits(1, 60, seed=4000)[0][0]))}
