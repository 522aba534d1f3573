"""Models as they are published: a directory (or its config.json) holding config.json beside
model.safetensors, read in the layout the config's fields name.

Each layout is one entry of LAYOUTS: (name, is_mine(config) -> bool, build(config, tensors,
label, dtype) -> model), its reader imported only when a config is its. Only the two files
in the directory are read; nothing the config names elsewhere is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from ..formats.budgets import check_file, load_json
from ..formats.tensor_files import open_tensor_file

CONFIG, WEIGHTS = "config.json", "model.safetensors"


def _xlstm_is_mine(config: Mapping) -> bool:
    from ..formats.xlstm_models import is_xlstm_config

    return is_xlstm_config(config)


def _xlstm_build(config, tensors, label, dtype):
    from ..formats.xlstm_models import build_xlstm

    return build_xlstm(config, tensors, label, dtype)


# (layout name, does this config describe it, build the model)
LAYOUTS: list[tuple[str, Callable, Callable]] = [
    ("xlstm", _xlstm_is_mine, _xlstm_build),
]


def is_published(path: Path) -> bool:
    """Whether load_model should read `path` as a published directory."""
    return path.is_dir() or path.name == CONFIG


def read_config(directory: Path, label: str) -> dict:
    config_path = directory / CONFIG
    if not config_path.is_file():
        raise ValueError(f"{label}: no {CONFIG} in the directory")
    config = load_json(label, CONFIG, config_path.read_bytes())
    if not isinstance(config, dict):
        raise ValueError(f"{label}: {CONFIG} must hold an object of the model's settings")
    inner = config.get("model")  # the xlstm repository's experiment files nest it there
    if isinstance(inner, dict) and any(is_mine(inner) for _, is_mine, _ in LAYOUTS):
        return inner
    return config


def load_published(path: Path, dtype=None, vocabulary=None):
    """The model of a directory holding config.json and model.safetensors."""
    directory = path if path.is_dir() else path.parent
    label = directory.name or str(directory)
    config = read_config(directory, label)
    layout = next(((name, build) for name, is_mine, build in LAYOUTS if is_mine(config)), None)
    if layout is None:
        known = ", ".join(name for name, _, _ in LAYOUTS)
        raise ValueError(f"{label}: {CONFIG} describes no layout gatescope reads ({known})")
    weights = directory / WEIGHTS
    if not weights.is_file():
        raise ValueError(f"{label}: no {WEIGHTS} beside {CONFIG}")
    check_file(weights, f"{label}/{WEIGHTS}")
    with open_tensor_file(weights, f"{label}/{WEIGHTS}") as tensors:
        arrays = {name: tensors.get(name) for name in tensors.names}
    model = layout[1](config, arrays, label, dtype)
    if vocabulary is not None:
        tokens = list(vocabulary)
        if model.embedding is not None and len(tokens) != len(model.embedding):
            raise ValueError(f"{label}: the vocabulary has {len(tokens)} tokens; the "
                             f"embedding {len(model.embedding)}")
        model.vocabulary = tuple(tokens)
    return model


def load_xlstm_file(path: Path, dtype=None):
    """The BlockModel of a .safetensors or .npz holding an xlstm LM, block stack or bare
    mLSTM layer state dict (no config.json: the feed-forward's activation is taken to be
    the library's default, GELU), or None when the file holds something else."""
    from ..formats.xlstm_models import build_xlstm, is_xlstm_state_dict

    label = path.name
    check_file(path, label)
    with open_tensor_file(path, label) as tensors:
        if not is_xlstm_state_dict(tensors.names):
            return None
        arrays = {name: tensors.get(name) for name in tensors.names}
    return build_xlstm({}, arrays, label, dtype)
