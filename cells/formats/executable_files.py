"""Files that would run code if loaded: pickles (torch.save, joblib) and TorchScript
archives, told by their first bytes and zip entries, whatever their names say. They are
never opened by a loader; the refusal says how to export what gatescope reads."""

from __future__ import annotations

import zipfile
from pathlib import Path

# A pickle opens with PROTO (0x80) and a protocol number; torch.save's legacy format too.
_PICKLE_PROTOCOLS = range(2, 6)
SAFETENSORS_RECIPE = ("`from safetensors.torch import save_file; "
                      "save_file(model.state_dict(), 'model.safetensors')`")


def refuse_executable(path: Path, label: str) -> None:
    """Raise a ValueError naming what the file is when it is a pickle or TorchScript."""
    kind = executable_kind(path)
    if kind == "torchscript":
        raise ValueError(
            f"{label}: is a TorchScript archive, whose code is not run here. In Python, pass "
            "the module to cells.from_torch(torch.jit.load(path)), or export its weights: "
            f"{SAFETENSORS_RECIPE}"
        )
    if kind == "pickle":
        raise ValueError(
            f"{label}: PyTorch pickles are not loaded (they can run code), and this file is "
            "one (a Python pickle, as torch.save writes, whatever its name says): pickles are "
            f"refused. Export the state dict with safetensors: {SAFETENSORS_RECIPE}"
        )


def executable_kind(path: Path) -> str | None:
    """'pickle', 'torchscript' or None, from the file's content only."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(9)
            size = handle.seek(0, 2)
    except OSError:
        return None
    if _is_safetensors(head, size):  # its header length may open with 0x80, 2..5
        return None
    if len(head) >= 2 and head[0] == 0x80 and head[1] in _PICKLE_PROTOCOLS:
        return "pickle"
    if not zipfile.is_zipfile(path):
        return None
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return None
    # torch.save and torch.jit.save write <archive>/data.pkl; TorchScript adds code/.
    if any(n.endswith("/data.pkl") or n == "data.pkl" for n in names):
        return "torchscript" if any("/code/" in n or n.endswith("constants.pkl")
                                    for n in names) else "pickle"
    if any(n.endswith(".pkl") for n in names):
        return "pickle"
    return None


def _is_safetensors(head: bytes, size: int) -> bool:
    """A safetensors file: a little-endian u64 header length that fits the file, then '{'."""
    if len(head) < 9 or head[8:9] != b"{":
        return False
    return 8 + int.from_bytes(head[:8], "little") <= size
