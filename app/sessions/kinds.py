"""What the engine offers, as plain data: cell kinds with their signals, and presets.

Both are pure functions of the engine's code, so they are computed once per process.
"""

from __future__ import annotations

from functools import cache

import cells
from app.errors import ApiError
from app.schemas import MAX_SEED


@cache
def kind_defaults(kind: str) -> tuple[dict, tuple[str, ...]]:
    """(default options, state names) of a kind; a 1x1 cell is the cheapest way to ask."""
    cell = cells.create(kind, input_size=1, hidden_size=1)
    return dict(cell.options), tuple(cell.state_names)


def check_kind(kind: str, field: str = "cell") -> str:
    if kind not in cells.KINDS:
        raise ApiError(field, f"unknown cell kind {kind!r}; known kinds: {', '.join(cells.KINDS)}")
    return kind


@cache
def every_option() -> dict[str, dict]:
    """Every option of every kind, by name: the values it takes (over the kinds that have
    it, in the engine's order) and those kinds. What a request's option parameters are made
    from (app/api/deps.py), so a new kind's option needs no edit above the engine."""
    found: dict[str, dict] = {}
    for kind in cells.KINDS:
        for name, option in cells.kind_info(kind)["options"].items():
            entry = found.setdefault(name, {"values": [], "kinds": []})
            entry["kinds"].append(kind)
            entry["values"] += [v for v in option["values"] if v not in entry["values"]]
    return found


def default_options(kind: str) -> dict:
    return {name: o["default"] for name, o in cells.kind_info(kind)["options"].items()}


def check_options(kind: str, options: dict, field: str = "options") -> dict:
    """Refuse option names the kind lacks and values it does not take (422, not a 500)."""
    known = cells.kind_info(kind)["options"]
    for name, value in options.items():
        if name not in known:
            has = ", ".join(known) if known else "none"
            raise ApiError(field, f"a {kind} cell has no option {_plain_name(name)}; its "
                                  f"options: {has}")
        allowed = known[name]["values"]
        if not any(value == v and type(value) is type(v) for v in allowed):
            shown = ", ".join(_json(v) for v in allowed)
            raise ApiError(field, f"{_json(value)} is not a value of {name}; use one of "
                                  f"{shown}")
    return dict(options)


def _plain(name: str) -> bool:
    return name.isidentifier() and len(name) <= 40


def _plain_name(name: str) -> str:
    return repr(name) if _plain(name) else repr(name[:40] + ("…" if len(name) > 40 else ""))


def _json(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return f'"{value}"' if isinstance(value, str) else str(value)


def json_value(value) -> str:
    """An option value as the user wrote it in JSON, in a sentence about a file's value
    (false, 'relu')."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, str) else str(value)


def describe_kind(kind: str, options: dict) -> dict:
    defaults, state = kind_defaults(kind)
    merged = {**defaults, **options}
    try:
        signals = cells.describe(kind, **merged)
    except ValueError as exc:
        raise ApiError("options", str(exc)) from exc
    info = cells.kind_info(kind)
    return {"kind": kind, "options": merged, "state": list(state),
            "option_values": {name: o["values"] for name, o in info["options"].items()},
            "stages": info["stages"],
            "signals": [s.to_dict() for s in signals]}


def limits(settings) -> dict:
    """The size limits a page form checks before it asks (the server checks them again)."""
    return {"max_hidden_size": settings.max_hidden_size,
            "max_input_size": settings.max_input_size,
            "max_steps": settings.max_steps,
            "max_upload_bytes": settings.max_upload_bytes,
            "max_seed": MAX_SEED,
            "train": {"max_steps": settings.max_train_steps,
                      "max_text": settings.max_train_text,
                      "max_hidden_size": settings.max_train_hidden_size,
                      "max_layers": settings.max_train_layers,
                      "max_seconds": settings.max_train_seconds}}


def cell_kinds(kind: str | None, options: dict, settings) -> dict:
    """All kinds (options applied where a kind has them), or one kind with exactly these;
    with the global stage order and the size limits."""
    common = {"stages": list(cells.STAGES), "limits": limits(settings),
              "stream": {"send_queue_frames": settings.send_queue_frames,
                         "max_play_rate": settings.max_play_rate}}
    if kind is not None:
        return {"kinds": [describe_kind(check_kind(kind, "kind"), options)], **common}
    listed = []
    for k in cells.KINDS:
        defaults, _ = kind_defaults(k)
        listed.append(describe_kind(k, {n: v for n, v in options.items() if n in defaults}))
    return {"kinds": listed, **common}


@cache
def presets() -> tuple[dict, ...]:
    out = []
    for name in cells.presets.names():
        preset = cells.presets.get(name)
        out.append({
            "name": preset.name,
            "description": preset.description,
            "cell": preset.cell.kind,
            "options": dict(preset.cell.options),
            "input_size": preset.cell.input_size,
            "hidden_size": preset.cell.hidden_size,
            "vocabulary": preset.vocabulary,
            "sample": preset.sample,
            "start": preset.start,  # the step the default page opens on
            "unit_labels": list(getattr(preset, "unit_labels", ())),
        })
    return tuple(out)


def preset(name: str, dtype: str, field: str = "preset"):
    if name not in cells.presets.names():
        raise ApiError(field, f"unknown preset {name!r}; known presets: "
                              f"{', '.join(cells.presets.names())}")
    return cells.presets.get(name, dtype=dtype)
