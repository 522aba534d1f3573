"""python-source: a character LSTM trained on the interpreter's own standard library, whose
units are then *measured* on held-out files against five features of Python text.

Karpathy, Johnson and Fei-Fei 2015 ("Visualizing and Understanding Recurrent Networks")
found cells of character LSTMs that track quotes, indentation and the position in a line.
This recipe trains such a model and looks for them: for every unit of layer 0 and each of
its signals c and h it computes Pearson's r with each feature over the held-out files, and
keeps, per feature, the unit that follows it best.

Features, each taken after reading that character (computed with the `tokenize` module):
  in_string      1 inside a string literal, quotes included (an f-string as a whole)
  in_comment     1 from `#` to the end of the line
  bracket_depth  open ( [ { not yet closed, outside strings and comments
  indent         leading spaces of the line (those read so far while still in them)
  line_position  characters since the last newline (0 on the newline itself)

Run: .venv/bin/python -m cells.presets.recipes.python_source [--steps N]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sysconfig
import tokenize
from pathlib import Path

import numpy as np

from .common import TrainingLog, one_blas_thread, pearson, write_preset

NAME = "python-source"
VOCABULARY = "\n" + "".join(chr(c) for c in range(32, 127))  # newline, then printable ASCII
# Modules present in every CPython 3.10–3.13 as single files, in ASCII without tabs.
TRAIN_FILES = tuple(sorted(f"{m}.py" for m in (
    "abc", "argparse", "ast", "base64", "bdb", "bisect", "calendar", "cmd", "code", "codeop",
    "colorsys", "compileall", "configparser", "contextlib", "copy", "copyreg", "csv",
    "dataclasses", "difflib", "dis", "enum", "filecmp", "fileinput", "fnmatch", "genericpath",
    "getpass", "gettext", "glob", "graphlib", "gzip", "hashlib", "hmac", "inspect",
    "ipaddress", "keyword", "linecache", "locale", "lzma", "mimetypes", "numbers", "operator",
    "optparse", "os", "pickle", "pkgutil", "platform", "posixpath", "pprint", "random",
    "reprlib", "secrets", "selectors", "shutil", "socket", "string", "subprocess",
    "tempfile", "threading", "timeit", "tokenize", "traceback", "types", "typing", "uuid",
    "warnings", "weakref")))
HELDOUT_FILES = ("queue.py", "sched.py", "textwrap.py")
FEATURES = ("in_string", "in_comment", "bracket_depth", "indent", "line_position")
LABELS = {"in_string": "inside a string literal", "in_comment": "inside a comment",
          "bracket_depth": "bracket depth", "indent": "indentation",
          "line_position": "position in the line"}
HIDDEN, STEPS, SEQ_LEN, BATCH, LR, CLIP, SEED = 128, 5000, 64, 32, 3e-3, 5.0, 0
REPORTED = 0.3  # a feature's best unit is listed when |r| reaches this
SAMPLE = '''def wrap(text, width=70):
    # Split the text into lines of at most `width` characters.
    words = text.split()
    lines, line = [], ""
    for word in words:
        if len(line) + len(word) + 1 > width:
            lines.append(line)
            line = word
        else:
            line = (line + " " + word).strip()
    return lines + [line]
'''


def stdlib_texts(files) -> dict[str, str]:
    """The text of each standard-library file, checked against the vocabulary."""
    root = Path(sysconfig.get_paths()["stdlib"])
    out = {}
    for name in files:
        text = (root / name).read_text(encoding="utf-8")
        outside = sorted(set(text) - set(VOCABULARY))
        if outside:
            raise ValueError(f"{root / name} has characters outside the vocabulary: {outside}")
        out[name] = text
    return out


def features(text: str) -> dict[str, np.ndarray]:
    """The five features of every character of Python source `text`, (T,) each."""
    T = len(text)
    lines = text.splitlines(keepends=True)
    starts = np.concatenate([[0], np.cumsum([len(line) for line in lines])]).astype(int)

    def offset(position) -> int:
        row, col = position
        return int(starts[row - 1]) + col

    in_string, in_comment = np.zeros(T), np.zeros(T)
    depth_change = np.zeros(T)
    fstring_start = getattr(tokenize, "FSTRING_START", None)  # Python 3.12+
    fstring_end = getattr(tokenize, "FSTRING_END", None)
    open_fstrings: list[int] = []
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        a, b = offset(token.start), offset(token.end)
        if token.type == fstring_start:
            open_fstrings.append(a)
        elif token.type == fstring_end:
            first = open_fstrings.pop()
            if not open_fstrings:
                in_string[first:b] = 1
        elif open_fstrings:
            continue  # inside an f-string (3.12+ tokenizes its fields): part of the string
        elif token.type == tokenize.STRING:
            in_string[a:b] = 1
        elif token.type == tokenize.COMMENT:
            in_comment[a:b] = 1
        elif token.type == tokenize.OP and token.string in "([{":
            depth_change[a] += 1
        elif token.type == tokenize.OP and token.string in ")]}":
            depth_change[a] -= 1
    indent, position = np.zeros(T), np.zeros(T)
    for line, first in zip(lines, starts, strict=False):
        lead = len(line) - len(line.lstrip(" "))
        k = np.arange(len(line))
        indent[first:first + len(line)] = np.minimum(k + 1, lead)
        position[first:first + len(line)] = np.where(
            np.array(list(line)) == "\n", 0, k + 1)
    return {"in_string": in_string, "in_comment": in_comment,
            "bracket_depth": np.cumsum(depth_change), "indent": indent,
            "line_position": position}


def signals_and_features(model, texts) -> tuple[np.ndarray, list[str], dict]:
    """Layer 0's c and h over every held-out file (each from zero state), as columns
    (T, 2H) named "c:k" / "h:k", and the features over the same characters."""
    columns, feats = [], {name: [] for name in FEATURES}
    for text in texts:
        trace = model.run(text).layer(0)
        columns.append(np.concatenate([trace["c"], trace["h"]], axis=1))
        for name, values in features(text).items():
            feats[name].append(values)
    H = model.cell(0).hidden_size
    names = [f"c:{k}" for k in range(H)] + [f"h:{k}" for k in range(H)]
    return (np.concatenate(columns), names,
            {name: np.concatenate(v) for name, v in feats.items()})


def measure_units(model, texts) -> dict[int, dict]:
    """Per feature, the unit (c or h of layer 0) that follows it best, each unit used once,
    the strongest features choosing first."""
    signals, names, feats = signals_and_features(model, texts)
    r = {name: pearson(signals, values) for name, values in feats.items()}
    units: dict[int, dict] = {}
    for feature in sorted(FEATURES, key=lambda f: -np.abs(r[f]).max()):
        for column in np.argsort(-np.abs(r[feature]), kind="stable"):
            signal, unit = names[column].split(":")
            if int(unit) in units:
                continue
            if abs(r[feature][column]) >= REPORTED:
                units[int(unit)] = {"label": LABELS[feature], "feature": feature,
                                    "signal": signal, "layer": 0,
                                    "correlation": float(r[feature][column])}
            break
    return dict(sorted(units.items()))


def build(steps: int = STEPS, log: TrainingLog | None = None):
    """The trained model and the training result (deterministic)."""
    import cells

    text = "".join(stdlib_texts(TRAIN_FILES).values())
    model = cells.char_model("lstm", VOCABULARY, HIDDEN, seed=SEED)
    result = cells.train(model, text, steps=steps, seq_len=SEQ_LEN, batch=BATCH, lr=LR,
                         clip=CLIP, seed=SEED,
                         on_progress=None if log is None else log.progress)
    return result, len(text)


def description(units: dict, metrics: dict) -> str:
    lines = [
        "A character-level LSTM (one layer, 128 units) trained here, in NumPy, to predict the "
        "next character of Python source: the interpreter's own standard library. "
        "Karpathy, Johnson and Fei-Fei (2015, \"Visualizing and Understanding Recurrent "
        "Networks\") found that some cells of such models track things nobody told them "
        "about, such as quotes and indentation. Here the units were found by measurement: "
        "on standard-library files it never trained on, each unit's cell state c and output "
        "h were correlated (Pearson's r) with five features of the text.",
        "",
    ]
    for unit, info in units.items():
        lines.append(f"Unit {unit} ({info['signal']}): {info['label']}, r = "
                     f"{info['correlation']:+.2f}: {behaviour(info)}.")
    lines += ["", f"Held-out loss {metrics['heldout_loss']:.3f} nats per character. The "
              "prediction view shows which character the model expects next."]
    return "\n".join(lines)


def behaviour(info: dict) -> str:
    """What the sign of r says, in words."""
    signal = {"c": "its cell state", "h": "its output"}[info["signal"]]
    up = info["correlation"] > 0
    if info["feature"] in ("in_string", "in_comment"):
        where = "a string literal" if info["feature"] == "in_string" else "a comment"
        return f"{signal} is {'higher' if up else 'lower'} inside {where} than outside it"
    what = {"bracket_depth": "more brackets are open", "indent": "the line is indented deeper",
            "line_position": "the line gets longer"}[info["feature"]]
    return f"{signal} {'rises' if up else 'falls'} as {what}"


def heldout_loss(model, texts) -> float:
    total, count = 0.0, 0
    for text in texts:
        probs = model.run(text[:-1])["probs"]
        ids = model.encoder.ids(text[1:])
        total += float(-np.log(probs[np.arange(len(ids)), ids].astype(np.float64)).sum())
        count += len(ids)
    return total / count


def main() -> None:
    one_blas_thread(__spec__.name)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=STEPS)
    args = parser.parse_args()
    log = TrainingLog(NAME)
    train_texts = stdlib_texts(TRAIN_FILES)
    log.add(f"# trained on {len(TRAIN_FILES)} files, held out {', '.join(HELDOUT_FILES)}")
    log.add(f"# lstm H={HIDDEN}, steps {args.steps}, seq_len {SEQ_LEN}, batch {BATCH}, "
            f"lr {LR}, clip {CLIP}, seed {SEED}")
    result, characters = build(args.steps, log)
    model = result.model
    heldout = stdlib_texts(HELDOUT_FILES)
    units = measure_units(model, list(heldout.values()))
    metrics = {"heldout_loss": heldout_loss(model, list(heldout.values())),
               "final_train_loss": float(np.mean([v for _, v in result.losses[-100:]]))}
    log.add(f"# trained in {result.seconds:.1f} s; held-out loss "
            f"{metrics['heldout_loss']:.4f} nats per character")
    for unit, info in units.items():
        log.add(f"# unit {unit} {info['signal']}: {info['feature']} r = "
                f"{info['correlation']:+.4f}")

    def digest(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()

    meta = {
        "name": NAME, "kind": "lstm", "hidden_size": HIDDEN, "layers": 1,
        "description": description(units, metrics), "sample": SAMPLE,
        "units": {str(k): v for k, v in units.items()}, "metrics": metrics,
        "training": {"steps": args.steps, "seq_len": SEQ_LEN, "batch": BATCH, "lr": LR,
                     "clip": CLIP, "seed": SEED, "characters": characters},
        "train_files": {name: digest(text) for name, text in train_texts.items()},
        "heldout_files": {name: digest(text) for name, text in heldout.items()},
    }
    # The held-out files travel with the preset (CPython's standard library, PSF License),
    # so the measurement can be checked on any interpreter.
    folder = write_preset(NAME, model, meta, log,
                          {f"heldout/{name}.txt": text for name, text in heldout.items()})
    print(f"wrote {folder}")


if __name__ == "__main__":
    main()
