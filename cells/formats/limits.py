"""What a weights file may declare, checked before any of its data is read.

Compressed .npz members and .h5 datasets can unpack to far more than the file (a 70 KiB
gzip dataset can declare a 1 GiB tensor), and an ONNX or safetensors header can declare any
shape. So every reader checks the declared shape of a tensor against these limits first:
the largest tensor a cell within the size limits needs is an ONNX `W` of a bidirectional
LSTM at hidden size 1024 and input size 4096 (2 x 4·1024 x 4096 numbers); the largest a
language model needs is its embedding (or tied head), a vocabulary of up to 65,536 tokens
at a width of up to 2,048 (Mamba's 50,280 x 768 at 130M parameters, x 2,048 at 1.4B).
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence

import numpy as np

MAX_HIDDEN_SIZE = 1024
MAX_INPUT_SIZE = 4096
MAX_VOCABULARY, MAX_MODEL_WIDTH = 2**16, 2048
MAX_TENSOR_ELEMENTS = max(2 * 4 * MAX_HIDDEN_SIZE * MAX_INPUT_SIZE,
                          MAX_VOCABULARY * MAX_MODEL_WIDTH)


def check_declared(label: str, name: str, shape: Sequence[int]) -> None:
    """Refuse a tensor whose declared shape holds more numbers than any cell can use."""
    dims = [int(d) for d in shape]
    if any(d < 0 for d in dims):
        raise ValueError(f"{label}: {name} declares a negative dimension {tuple(dims)}")
    count = 1
    for d in dims:
        count *= d
    if count > MAX_TENSOR_ELEMENTS:
        raise ValueError(
            f"{label}: {name} declares shape {tuple(dims)} ({count} numbers), more than the "
            f"{MAX_TENSOR_ELEMENTS} any tensor of a model within the limits needs (a cell of "
            f"hidden size {MAX_HIDDEN_SIZE} and input size {MAX_INPUT_SIZE}, an embedding of "
            f"{MAX_VOCABULARY} tokens x {MAX_MODEL_WIDTH}); it is not read"
        )


def check_npz_member(label: str, name: str, archive: zipfile.ZipFile, member: str) -> None:
    """Read only the .npy header of an .npz member and check the shape it declares."""
    if not member.endswith(".npy"):
        return  # not an array: the reader refuses it by itself
    try:
        with archive.open(member) as handle:
            version = np.lib.format.read_magic(handle)
            reader = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                      else np.lib.format.read_array_header_2_0)
            shape, _, _ = reader(handle)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"{label}: {name} is not a readable .npy array ({error})") from None
    check_declared(label, name, shape)
