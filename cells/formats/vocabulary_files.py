"""Vocabulary files beside a model: `vocab.json` (a list of tokens, or {token: id}) or
`vocab.txt` (one token per line). Read as data; every refusal names the file."""

from __future__ import annotations

from pathlib import Path

from .budgets import load_json

MAX_VOCABULARY_BYTES = 16 * 2**20  # a million-word vocabulary fits many times over
SUFFIXES = (".json", ".txt")


def sidecars(model_path: Path) -> list[Path]:
    """Where a model's vocabulary may sit: model.vocab.json, model.vocab.txt, vocab.json,
    vocab.txt, in the model's folder (model is the file name up to its first dot)."""
    stem = model_path.name.split(".", 1)[0]
    folder = model_path.parent
    names = [f"{stem}.vocab{s}" for s in SUFFIXES] + [f"vocab{s}" for s in SUFFIXES]
    return [folder / name for name in names]


def read_vocabulary_file(path: Path) -> tuple[str, ...]:
    label = path.name
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(f"{label}: a vocabulary file is .json (a list of tokens) or .txt "
                         "(one token per line)")
    size = path.stat().st_size
    if size > MAX_VOCABULARY_BYTES:
        raise ValueError(f"{label}: {size} bytes is over the {MAX_VOCABULARY_BYTES} byte limit "
                         "for a vocabulary")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValueError(f"{label}: not UTF-8 text ({error})") from None
    if suffix == ".txt":
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()  # the newline that ends the last line
        return tuple(line.removesuffix("\r") for line in lines)
    data = load_json(label, "the vocabulary", text)  # size and depth budgets first
    if isinstance(data, dict):  # {token: id}, as tokenizers save it
        ids = sorted(data.values()) if all(isinstance(v, int) for v in data.values()) else None
        if ids != list(range(len(data))):
            raise ValueError(f"{label}: a {{token: id}} vocabulary needs ids 0..{len(data) - 1}, "
                             "each once")
        return tuple(sorted(data, key=data.__getitem__))
    if not isinstance(data, list) or not all(isinstance(t, str) for t in data):
        raise ValueError(f"{label}: expected a JSON list of token strings")
    return tuple(data)
