"""Vocabulary files beside a model: `vocab.json` (a list of tokens, or {token: id}),
`vocab.txt` (one token per line), or a Hugging Face `tokenizer.json` (read by the
`tokenizers` library, which parses it as data). Read as data; every refusal names the
file."""

from __future__ import annotations

from pathlib import Path

from .budgets import load_json

MAX_VOCABULARY_BYTES = 16 * 2**20  # a million-word vocabulary fits many times over
SUFFIXES = (".json", ".txt")


TOKENIZER_FILE = "tokenizer.json"


class Subwords(tuple):
    """A subword vocabulary (tokens by id) that carries its tokenizer.json, the text of the
    tokenizer that splits text into those tokens."""

    json: str

    def __new__(cls, tokens, json: str):
        made = super().__new__(cls, tokens)
        made.json = json
        return made

    def padded(self, size: int) -> Subwords:
        """Grown to `size` ids, as an embedding padded to a multiple of 8 is: the ids no
        text gives are named <|unused:k|>."""
        return Subwords((*self, *(f"<|unused:{k}|>" for k in range(len(self), size))),
                        self.json)


def sidecars(model_path: Path) -> list[Path]:
    """Where a model's vocabulary may sit: model.vocab.json, model.vocab.txt, vocab.json,
    vocab.txt, tokenizer.json, in the model's folder (model is the file name up to its
    first dot; a folder's own files when the model is a folder)."""
    if model_path.is_dir():
        folder, stem = model_path, "vocab"
    else:
        folder, stem = model_path.parent, model_path.name.split(".", 1)[0]
    names = [f"{stem}.vocab{s}" for s in SUFFIXES] + [f"vocab{s}" for s in SUFFIXES]
    return [folder / name for name in names] + [folder / TOKENIZER_FILE]


def subwords(label: str, json: str) -> Subwords:
    """The vocabulary of a tokenizer.json's text, tokens by id."""
    try:
        from tokenizers import Tokenizer
    except ImportError:  # pragma: no cover - installed with the test extra
        raise ValueError(f"{label}: reading a tokenizer.json needs the 'tokenizers' package "
                         "(pip install tokenizers)") from None
    try:
        tokenizer = Tokenizer.from_str(json)
    except Exception as error:  # the library says what it could not parse
        raise ValueError(f"{label}: not a tokenizer.json the tokenizers library reads "
                         f"({str(error)[:200]})") from None
    size = tokenizer.get_vocab_size(with_added_tokens=True)
    tokens = [tokenizer.id_to_token(k) for k in range(size)]
    gaps = [k for k, token in enumerate(tokens) if token is None]
    if gaps:
        raise ValueError(f"{label}: the tokenizer has no token for id(s) {gaps[:10]}")
    return Subwords(tokens, json)


def read_vocabulary_file(path: Path) -> tuple[str, ...] | Subwords:
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
    if isinstance(data, dict) and isinstance(data.get("model"), dict):  # a tokenizer.json
        return subwords(label, text)
    if isinstance(data, dict):  # {token: id}, as tokenizers save it
        ids = sorted(data.values()) if all(isinstance(v, int) for v in data.values()) else None
        if ids != list(range(len(data))):
            raise ValueError(f"{label}: a {{token: id}} vocabulary needs ids 0..{len(data) - 1}, "
                             "each once")
        return tuple(sorted(data, key=data.__getitem__))
    if not isinstance(data, list) or not all(isinstance(t, str) for t in data):
        raise ValueError(f"{label}: expected a JSON list of token strings")
    return tuple(data)
