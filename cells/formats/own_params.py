"""Files of a kind whose parameters are its own, not gate blocks (Mamba): cells.save writes
them under their canonical names with the kind and options in the metadata, and they read
back as they were (the cell checks that the options agree with the shapes)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..kinds import OPTIONS, SPECS
from .common import LoadedWeights, float_tensor, listing, one_dtype
from .tensor_files import KIND_KEY, OPTIONS_KEY, TensorFile, decode_options

OWN_PARAMS = frozenset(name for name, spec in SPECS.items() if spec.param_layout is not None)


def canonical_names(kind: str) -> tuple[str, ...]:
    """The kind's parameter names in canonical order (its layout at any size)."""
    spec = SPECS[kind]
    return tuple(p["name"] for p in spec.param_layout(1, 1, spec.options))


def checked_arrays(label: str, kind: str, params: Mapping[str, np.ndarray]) -> dict:
    """Exactly the kind's parameters, as float arrays of one dtype; ValueError naming the
    file and the names missing or unexpected."""
    expected = canonical_names(kind)
    absent = [k for k in expected if k not in params]
    extra = sorted(set(params) - set(expected))
    if absent or extra:
        raise ValueError(f"{label}: a {kind} has params {', '.join(expected)}; missing: "
                         f"{', '.join(absent) or 'none'}; unexpected: "
                         f"{', '.join(extra) or 'none'}")
    return one_dtype({k: float_tensor(label, k, params[k]) for k in expected})


def read_own_params(tensors: TensorFile) -> LoadedWeights | None:
    """The cell of a file cells.save wrote for such a kind; None for any other file."""
    kind = tensors.metadata.get(KIND_KEY)
    if kind not in OWN_PARAMS:
        return None
    names = [n for n in canonical_names(kind) if n in tensors.names]
    extra = sorted(set(tensors.names) - set(canonical_names(kind)))
    if extra:
        raise ValueError(f"{tensors.label}: a {kind} file holds tensors it has no parameter "
                         f"for: {listing(extra)}")
    options = decode_options(tensors.label, tensors.metadata.get(OPTIONS_KEY, ""))
    for key, value in options.items():  # an option of text and numbers ("auto" or 48)
        if isinstance(value, str) and value.isdigit() and key in OPTIONS \
                and int(value) in OPTIONS[key].values:
            options[key] = int(value)
    return LoadedWeights(kind, one_dtype({n: tensors.get(n) for n in names}), options,
                         stated=frozenset(options))
