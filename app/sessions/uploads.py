"""Uploaded weights: hash while copying, parse with the engine (never unpickle), keep by sha256.

The record of an upload (`POST /api/weights`, `GET /api/weights/{id}`) says what the file
holds: its name as uploaded, the cell it gives, the options the file itself states and
the ones it leaves open, how many layers and directions it has and which part is used.
An ONNX model whose If node chooses its branch by the model's inputs (one file for two
sample rates) lists its branches (`branches`) and is read by the one the `branch` form
field names (the first, "then", when none is named; `branch` says which). Where such Ifs
nest, each listed way through them carries the `branch` text that reads it: a JSON object
naming each If's branch, `{"by_rate": "then", "by_mode": "else"}`.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path
from typing import BinaryIO

import cells
from app.core.settings import Settings
from app.errors import ApiError
from app.sessions.datadir import (
    PARSED_EXT,
    PARSED_MODEL_EXT,
    WEIGHT_EXTENSIONS,
    Store,
    UploadTooLarge,
    parsed_ext,
    weights_extension,
)
from app.sessions.kinds import check_options, default_options, json_value
from app.sessions.limits import check_sizes
from app.sessions.models import describe_model, is_model
from cells.formats.budgets import OverBudget
from cells.formats.common import BRANCHES
from cells.formats.executable_files import refuse_executable
from cells.formats.vocabulary_files import MAX_VOCABULARY_BYTES, read_vocabulary_file
from cells.weights_io import read_weights

# Files only the whole-model reader reads (no single-cell reader knows them).
WHOLE_MODEL_ONLY = (".keras",)
SHOWN = {"layer": 0, "direction": "forward"}  # the part of a bigger file a session uses
MAX_BRANCH_TEXT = 4000  # characters of a `branch` form field (a JSON object of If names)


def upload_record(weights_id: str, meta: dict) -> dict:
    """The public record of an upload, from its stored description."""
    stated = set(meta.get("stated", meta["options"]))
    return {
        "weights_id": weights_id, "cell": meta["cell"],
        "options": {n: v for n, v in meta["options"].items() if n in stated},
        "open_options": [n for n in meta["options"] if n not in stated],
        "input_size": meta["input_size"], "hidden_size": meta["hidden_size"],
        "dtype": meta["dtype"], "filename": meta["filename"],
        "layers": meta.get("layers", 1), "directions": list(meta.get("directions", ["forward"])),
        "shown": {"layer": meta.get("layer", 0), "direction": "forward"},
        "branch": meta.get("branch"), "branches": meta.get("branches"),
        "bytes": meta.get("bytes"),
        "model": _model_summary(meta.get("model")),
        "state_sizes": meta.get("state_sizes"),
        "notices": list(meta.get("notices", [])),
    }


def state_sizes(model: cells.Model) -> list[dict]:
    """The starting state a session of the upload takes, row by row as POST /api/sessions
    takes `state`: [{"layer", "direction", "sizes": {"h": width, "c": width}}]."""
    return [{"layer": layer, "direction": direction, "sizes": sizes}
            for (layer, direction), sizes in model.state_sizes().items()]


def _model_summary(model: dict | None) -> dict | None:
    """What a whole-model upload holds (its vocabulary is said by its size)."""
    if not model:
        return None
    vocabulary = model.get("vocabulary")
    return {"layers": model["layers"], "directions": model["directions"],
            "head": None if model["head"] is None else
            {k: v for k, v in model["head"].items() if k != "labels"},
            "encoding": model["encoder"]["encoding"],
            "vocabulary_size": None if vocabulary is None else len(vocabulary)}


def read_vocabulary_upload(source: BinaryIO, filename: str) -> tuple[str, ...]:
    """Tokens of an uploaded vocab.json (a list) or vocab.txt (one token per line)."""
    suffix = Path(filename).suffix.lower()
    if suffix not in (".json", ".txt"):
        raise ApiError("vocabulary", f"{filename!r} is not a vocabulary file; upload a .json "
                                     "list of tokens or a .txt file with one token per line")
    data = source.read(MAX_VOCABULARY_BYTES + 1)
    if len(data) > MAX_VOCABULARY_BYTES:
        raise ApiError("vocabulary", f"{filename!r} is over the limit of {MAX_VOCABULARY_BYTES} "
                                     "bytes", status_code=413)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"vocab{suffix}"
        path.write_bytes(data)
        try:
            return read_vocabulary_file(path)
        except ValueError as exc:
            raise ApiError("vocabulary", str(exc).replace(path.name, filename)) from exc


def accept_weights(store: Store, settings: Settings, source: BinaryIO, filename: str,
                   kind: str | None, layer: int, options: dict,
                   vocabulary: tuple[str, ...] | None = None,
                   data: tuple[BinaryIO, str] | None = None,
                   branch: str | None = None) -> dict:
    """Check an uploaded weights file and keep it; returns its record (WeightsPublic).

    A file that holds a whole model (more layers, a backward direction, an embedding or a
    head: anything `cells.load_model` reads) is described as one too, with the vocabulary
    given beside it (or the file's own), so sessions of it run the whole model. `branch`
    names the branch of an ONNX If chosen by the model's inputs (see _accept_branch).

    What is parsed is kept beside the upload (one cell's arrays, a whole model's parts), so
    a session made after a restart reads those and never parses the original again."""
    ext = weights_extension(filename)
    if ext is None:
        raise ApiError("file", _executable_refusal(source, filename, settings.max_upload_bytes)
                       or f"{filename!r} is not a weights file; upload one of "
                          f"{', '.join(WEIGHT_EXTENSIONS)} (PyTorch pickles are refused: "
                          "save the state dict with safetensors)")
    if kind is not None and kind not in cells.KINDS:
        raise ApiError("cell", f"unknown cell kind {kind!r}; known kinds: {', '.join(cells.KINDS)}")
    choice = branch_choice(branch)
    if data is not None and ext != ".onnx":
        raise ApiError("data", f"{data[1]!r}: only an .onnx model keeps its weights in a data "
                               "file beside it")
    try:
        weights_id, path = store.receive_upload(source, filename, ext, settings.max_upload_bytes)
    except UploadTooLarge as exc:
        raise ApiError("file", str(exc), status_code=413) from exc
    parsed_cell = path.parent / f"parsed{PARSED_EXT}"  # the upload's own folder in tmp/
    parsed_model = path.parent / f"parsed{PARSED_MODEL_EXT}"
    try:
        if data is not None:
            weights_id = _with_external_data(path, filename, data, settings.max_upload_bytes)
        branches = _branches(path, filename) if ext == ".onnx" else None
        if branches is not None:
            return _accept_branch(store, settings, path, weights_id, ext, filename, kind,
                                  vocabulary, branches, choice)
        if branch is not None:
            raise ApiError("branch", f"{filename!r} has no If node chosen by the model's inputs "
                                     "(an ONNX model for two sample rates has one); leave "
                                     "branch out")
        model, notices, refusal = _read_model(path, filename, vocabulary, parsed_model,
                                              whole_only=kind is not None)
        try:
            loaded = _read(path, filename, kind, layer)
        except ApiError:
            if model is None and refusal is not None and (ext in WHOLE_MODEL_ONLY
                                                          or refusal.over_budget):
                raise refusal from None  # the model reader's own words, not "unsupported"
            if model is None:
                raise
            loaded = None  # a model file that holds no single cell the old way (.keras)
        if loaded is None:
            return _accept_model(store, settings, path, weights_id, ext, filename, model,
                                 notices, parsed_model)
        stated = sorted(loaded.stated)
        for name, value in options.items():
            check_options(loaded.kind, {name: value}, field=name)
            if name in stated and loaded.options.get(name) != value:
                raise ApiError(name, f"the file {filename!r} states {name} = "
                                     f"{json_value(loaded.options[name])}; got "
                                     f"{json_value(value)} (leave {name} out to use the "
                                     "file's value)")
        used = {**default_options(loaded.kind),
                **{n: v for n, v in loaded.options.items() if n in stated}, **options}
        cell = _cell(loaded, used, filename)
        check_sizes(settings, cell.input_size, cell.hidden_size, field="file")
        # Options given with the upload become the defaults of its sessions ("chosen").
        meta = {"cell": cell.kind, "options": dict(cell.options), "stated": stated,
                "chosen": dict(options), "layer": layer,
                "layers": loaded.layers, "directions": list(loaded.directions),
                "input_size": cell.input_size, "hidden_size": cell.hidden_size,
                "dtype": cell.dtype.name, "filename": filename, "bytes": path.stat().st_size,
                "notices": list(notices)}
        kept = [parsed_cell]
        meta["state_sizes"] = state_sizes(cells.Model([{"forward": cell}]))
        if model is not None and not options:
            meta["model"] = describe_model(model, keep_tokenizer=True)
            meta["state_sizes"] = state_sizes(model)
            kept.append(parsed_model)
        else:
            parsed_model.unlink(missing_ok=True)
        cells.save(cell, parsed_cell)
        meta = _keep(store, path, weights_id, ext, meta, tuple(kept))
    except BaseException:
        for parsed in (parsed_cell, parsed_model):
            parsed.unlink(missing_ok=True)
        store.discard(path)
        raise
    store.enforce_budget(settings.max_store_bytes, {weights_id})
    return upload_record(weights_id, meta)


def _executable_refusal(source: BinaryIO, filename: str, limit: int) -> str | None:
    """What a file of no known suffix is when its content is a pickle or TorchScript (torch.save
    to "model", "model.jit", "model.bin"), with the export recipe; None otherwise. Read into
    a temporary file (at most the upload limit), never unpickled."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "upload"
        with open(path, "wb") as copy:
            copy.write(source.read(limit + 1))
        try:
            refuse_executable(path, filename)
        except ValueError as exc:
            return str(exc)
    return None


def branch_choice(text: str | None) -> str | dict | None:
    """The `branch` form field (or an upload's stored `branch`) as cells.load_model takes it:
    "then" / "else", or a JSON object {If node name: "then" / "else"} where Ifs nest."""
    if text is None:
        return None
    if len(text) > MAX_BRANCH_TEXT:
        raise ApiError("branch", f"is {len(text)} characters long; a branch is named in at "
                                 f"most {MAX_BRANCH_TEXT}")
    if text.lstrip().startswith("{"):
        try:
            choice = json.loads(text)
        except ValueError as exc:
            raise ApiError("branch", f"{text[:80]!r} is not a JSON object naming each If's "
                                     f"branch ({exc})") from exc
        if not isinstance(choice, dict) or not choice or not all(
                isinstance(k, str) and v in BRANCHES for k, v in choice.items()):
            raise ApiError("branch", f"{text[:80]!r}: name each If node's branch, one of "
                                     f"{', '.join(BRANCHES)} "
                                     '(e.g. {"by_rate": "then", "by_mode": "else"})')
        return choice
    if text not in BRANCHES:
        raise ApiError("branch", f"{text!r} is not one of {', '.join(BRANCHES)} (or a JSON "
                                 "object naming the branch of each If where they nest)")
    return text


def _branches(path: Path, filename: str) -> list[dict] | None:
    """What each way through the file's Ifs chosen by its inputs holds, each with the
    `branch` text that reads it; None when it has none (or does not read at all: the
    readers below say why)."""
    from cells.formats.whole_onnx import onnx_branches

    try:
        found = onnx_branches(path, path.name)
    except Exception:  # noqa: BLE001 - parsers of untrusted bytes raise anything
        return None
    if found is None:
        return None
    one_if = all(len(way["choice"]) == 1 for way in found)
    records = [{k: (v.replace(path.name, filename) if isinstance(v, str) else v)
                for k, v in way.items()} for way in found]
    for record in records:
        record["branch"] = (next(iter(record["choice"].values())) if one_if
                            else json.dumps(record["choice"]))
    return records


def _accept_branch(store: Store, settings: Settings, path: Path, weights_id: str, ext: str,
                   filename: str, kind: str | None, vocabulary, branches: list[dict],
                   choice: str | dict | None) -> dict:
    """An ONNX model whose If is chosen by its inputs, read whole by one branch (one way
    through nested Ifs): the one named, else the first listed. Each (file, branch) is its
    own upload: the file's sha256 for the first, the sha256 of "<that>:branch=<text>" for
    another, so a session always runs the branch its upload was read by."""
    if kind is not None:
        raise ApiError("cell", f"{filename!r} chooses between branches by its inputs and is "
                               "read as a whole model; leave cell out and name the branch")
    first = branches[0]
    chosen = first["choice"] if choice is None else choice
    as_dict = chosen if isinstance(chosen, dict) else {first["node"]: chosen}
    # said the way the record lists it ("then" and {"by_rate": "then"} are one upload)
    text = next((b["branch"] for b in branches if b["choice"] == as_dict),
                chosen if isinstance(chosen, str) else json.dumps(chosen))
    try:
        model = cells.load_model(path, vocabulary=vocabulary, branch=chosen)
    except ValueError as exc:
        field = "vocabulary" if vocabulary is not None else "branch"
        raise ApiError(field, str(exc).replace(path.name, filename)) from exc
    except Exception as exc:  # noqa: BLE001 - parsers of untrusted bytes raise anything
        raise ApiError("branch", f"could not read branch {text!r} of {filename!r}: "
                                 f"{type(exc).__name__}: {exc}") from exc
    notices = list(model.notices)
    if choice is None:
        others = ", ".join(repr(b["branch"]) for b in branches[1:])
        notices.append(f"If node {first['node']!r} chooses its branch by the model's inputs "
                       f"({first['condition']}); branch {text!r} is shown (upload with "
                       f"branch = {others} for the other{'s' if len(branches) > 2 else ''})")
    if text != first["branch"]:
        weights_id = hashlib.sha256(f"{weights_id}:branch={text}".encode()).hexdigest()
    # a branch is read from the original on a cold cache too (cells.convert_model reads
    # whole files, not one branch of them)
    return _accept_model(store, settings, path, weights_id, ext, filename, model,
                         tuple(notices), extra={"branch": text, "branches": branches})


def _with_external_data(path: Path, filename: str, data: tuple[BinaryIO, str],
                        limit: int) -> str:
    """Put the uploaded data file beside the model under the one name the model gives it,
    then keep the model self-contained (the data inside it): the sha256 of that file."""
    # onnx is imported when an upload needs it, not by every process that imports the app
    from cells.formats.onnx_graph import external_locations, self_contained

    source, data_name = data
    try:
        locations = external_locations(path, filename)
    except ValueError as exc:
        raise ApiError("file", str(exc).replace(path.name, filename)) from exc
    if len(locations) != 1:
        raise ApiError("data", f"{filename!r} keeps its weights in "
                               f"{sorted(locations) or 'no other file'}; a data file is "
                               "taken for a model that names exactly one")
    (location,) = locations
    if location in (".", "..") or Path(location).name != location \
            or any(mark in location for mark in "/\\:") or location == path.name:
        raise ApiError("data", f"{filename!r} names its data file {location!r}; only a file "
                               "beside the model, named without a path, is read")
    content = source.read(limit + 1)
    if len(content) > limit:
        raise ApiError("data", f"{data_name!r} is over the limit of {limit} bytes",
                       status_code=413)
    beside = path.parent / location
    try:
        beside.write_bytes(content)
        whole = self_contained(path, filename)
    except ValueError as exc:
        raise ApiError("data", str(exc).replace(path.name, filename)) from exc
    finally:
        beside.unlink(missing_ok=True)
    path.write_bytes(whole)
    return hashlib.sha256(whole).hexdigest()


def _keep(store: Store, path: Path, weights_id: str, ext: str, meta: dict,
          parsed: tuple[Path, ...] = ()) -> dict:
    """Keep the upload, with what was parsed from it (`parsed`: one cell's arrays, a whole
    model's parts)."""
    old = store.weights_meta(weights_id)
    if old is None:
        store.keep_upload(path, weights_id, ext, meta, parsed)
        return meta
    # the same bytes were uploaded before: keep the first copy (and what was parsed from it,
    # or this if it was kept before uploads had it: the same bytes parse the same, the
    # model's parts without any vocabulary); a model's description follows the vocabulary
    # given this time
    for each in parsed:
        if store.parsed_path(weights_id, parsed_ext(each)) is None:
            store.keep_parsed(weights_id, (each,))
        else:
            each.unlink(missing_ok=True)
    store.discard(path)
    if meta.get("model") != old.get("model") and meta.get("model") is not None:
        old = {**old, "model": meta["model"]}
        store.update_upload_meta(weights_id, old)
    return old


class ModelRefusal(ApiError):
    """What the model reader said about a file it would not read (told when no other reader
    reads the file either)."""

    def __init__(self, message: str, over_budget: bool):
        super().__init__("file", message)
        self.over_budget = over_budget


def _read_model(path: Path, filename: str, vocabulary, parsed: Path, whole_only: bool):
    """(the whole model in the file when it is more than one cell, else None; what loading
    it left out or changed, in words: cells.Model.notices; the model reader's refusal, if
    it refused). A .keras archive is always a model, one cell or not: no other reader
    reads it. The file is parsed once, into `parsed` (cells.convert_model), and the model
    is built from that with the vocabulary, as a session's model is later."""
    if whole_only:  # a kind was chosen: the file is read as one cell of that kind
        return None, (), None
    try:
        # (its LeftOutWarning goes to the log: catch_warnings is process-wide, not per thread)
        notices = cells.convert_model(path, parsed)
        model = cells.load_model(parsed, vocabulary=vocabulary)
    except ValueError as exc:
        parsed.unlink(missing_ok=True)
        message = str(exc).replace(path.name, filename).replace(parsed.name, filename)
        if vocabulary is not None and not isinstance(exc, OverBudget):
            raise ApiError("vocabulary", message) from exc
        return None, (), ModelRefusal(message, isinstance(exc, OverBudget))
    except Exception as exc:  # noqa: BLE001 - parsers of untrusted bytes raise anything
        parsed.unlink(missing_ok=True)
        return None, (), ModelRefusal(f"could not read {filename!r} as a model: "
                                      f"{type(exc).__name__}: {exc}", False)
    whole = is_model(model) or path.name.lower().endswith(WHOLE_MODEL_ONLY)
    if not whole:
        parsed.unlink(missing_ok=True)
    return (model if whole else None), notices, None


def _accept_model(store: Store, settings: Settings, path: Path, weights_id: str, ext: str,
                  filename: str, model, notices: tuple[str, ...] = (),
                  parsed: Path | None = None, extra: dict | None = None) -> dict:
    first = next(iter(model.stack[0].cells.values()))
    for layer in model.stack:
        for cell in layer.cells.values():
            check_sizes(settings, cell.input_size, cell.hidden_size, field="file")
    meta = {"cell": first.kind, "options": dict(first.options), "stated": sorted(first.options),
            "chosen": {}, "layer": 0, "layers": model.layers,
            "directions": list(model.directions), "input_size": first.input_size,
            "hidden_size": first.hidden_size, "dtype": first.dtype.name, "filename": filename,
            "bytes": path.stat().st_size, "model": describe_model(model, keep_tokenizer=True),
            "state_sizes": state_sizes(model), "notices": list(notices), **(extra or {})}
    meta = _keep(store, path, weights_id, ext, meta, (parsed,) if parsed is not None else ())
    store.enforce_budget(settings.max_store_bytes, {weights_id})
    return upload_record(weights_id, meta)


def _read(path: Path, filename: str, kind: str | None, layer: int):
    try:
        return read_weights(path, kind=kind, layer=layer)
    except ValueError as exc:
        field = "cell" if kind is not None and _reads(path, layer) else "file"
        # The copy's name is the upload's, made safe for the file system: say it as given.
        raise ApiError(field, str(exc).replace(path.name, filename)) from exc
    except Exception as exc:  # noqa: BLE001 - parsers of untrusted bytes raise anything
        raise ApiError("file", f"could not read {filename!r} as weights: "
                               f"{type(exc).__name__}: {exc}") from exc


def _cell(loaded, options: dict, filename: str) -> cells.Cell:
    try:
        return cells.create(loaded.kind, params=loaded.params,
                            dtype=loaded.params["weight_ih"].dtype.name, **options)
    except ValueError as exc:
        raise ApiError("options", f"{filename!r}: {exc}") from exc


def _reads(path: Path, layer: int) -> bool:
    """Whether the file reads as its own kind (then the chosen kind is at fault)."""
    try:
        read_weights(path, layer=layer)
    except Exception:  # noqa: BLE001 - the question is only whether it loads at all
        return False
    return True
