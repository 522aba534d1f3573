"""The one place NumPy arrays become wire bytes: JSON frames and windows, CSV, and the
stream's binary frames.

Numbers are the engine's, exactly. A float32 value is written with 9 significant digits in
scientific notation (``-1.23456789e-02``), which always reads back as the same float32
(9 digits suffice for float32) and can be produced for a whole array with integer
arithmetic and table look-ups instead of one Python ``repr`` per number: a frame of
16 signals x 512 units encodes in well under a millisecond. Each number takes 15
characters; small magnitudes are padded with spaces, which JSON allows between tokens.
float64 values go through ``repr`` (shortest round-trip form). NaN and ±Inf, which JSON
cannot carry, are written as ``null``; the engine refuses them on input, so they can only
come from an overflow inside a cell.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterable, Mapping

import numpy as np

WIDTH = 16  # bytes per float32 number, the separating comma included

# A float32 number is 16 bytes = two little-endian uint64 words:
#   word 0: [sign|' '] d0 '.' d1 d2 d3 d4 d5      word 1: d6 d7 d8 'e' [+-] e1 e0 ','
# The 9 digits d0..d8 come in three groups of three, each group looked up in a table that
# already holds its ASCII bytes shifted to their place in the word.


def _packed(chars: bytes, places: tuple[int, ...]) -> int:
    return sum(c << (8 * p) for c, p in zip(chars, places, strict=True))


_GROUP_1 = np.array([_packed(b"%03d" % i, (1, 3, 4)) for i in range(1000)], np.uint64)
_GROUP_2 = np.array([_packed(b"%03d" % i, (5, 6, 7)) for i in range(1000)], np.uint64)
_GROUP_3 = np.array([_packed(b"%03d" % i, (0, 1, 2)) for i in range(1000)], np.uint64)
_EXP_OFFSET = 60  # decimal exponents of float32 values lie in [-45, 38]
_EXPONENT = np.array(
    [_packed(b"e%+03d" % e, (3, 4, 5, 6)) for e in range(-_EXP_OFFSET, _EXP_OFFSET)], np.uint64
)
_POW10 = 10.0 ** np.arange(-2 * _EXP_OFFSET, 2 * _EXP_OFFSET)  # _POW10[k + 120] = 10**k
_WORD0 = np.uint64(_packed(b" .", (0, 2)))
_WORD1 = np.uint64(_packed(b",", (7,)))
_MINUS = np.uint64(ord("-") - ord(" "))
_ZERO = np.frombuffer(b"              0,", np.uint64)
_NULL = np.frombuffer(b"           null,", np.uint64)
_CHUNK = 4096  # numbers per pass: keeps temporaries small enough to stay in malloc's pools


class _Scratch(threading.local):
    """Work arrays reused between calls: fresh temporaries cost page faults on every frame."""

    def __init__(self) -> None:
        n = _CHUNK
        self.magnitude = np.empty(n, np.float32)
        self.log = np.empty(n, np.float32)
        self.exponent = np.empty(n, np.intp)
        self.index = np.empty(n, np.intp)
        self.scale = np.empty(n, np.float64)
        self.wide = np.empty(n, np.float64)
        self.mantissa = np.empty(n, np.int64)
        self.high = np.empty(n, np.int64)
        self.rest = np.empty(n, np.int64)
        self.middle = np.empty(n, np.int64)
        self.word = np.empty(n, np.uint64)
        self.part = np.empty(n, np.uint64)
        self.negative = np.empty(n, np.bool_)


_scratch = _Scratch()


def _encode_float32_chunk(x: np.ndarray, out: np.ndarray) -> None:
    """Write the numbers of 1-D float32 `x` into `out` (len(x), 2) uint64, comma after each."""
    n = x.size
    s = _scratch
    magnitude = np.abs(x, out=s.magnitude[:n])
    regular = np.isfinite(magnitude) & (magnitude > 0)
    all_regular = bool(regular.all())
    if not all_regular:
        magnitude[~regular] = 1
    log = np.log10(magnitude, out=s.log[:n])
    exponent = s.exponent[:n]
    exponent[...] = np.floor(log, out=log)
    wide = s.wide[:n]
    wide[...] = magnitude  # exact; the scaling below is exact to ~1e-16
    mantissa = s.mantissa[:n]
    scale = s.scale[:n]
    index = s.index[:n]
    _scale_to_nine_digits(wide, exponent, mantissa, scale, index)
    # log10 in float32 can be one off next to a power of ten; the 9-digit mantissa says so.
    off = (mantissa >= 1_000_000_000).astype(np.intp) - (mantissa < 100_000_000)
    if off.any():
        exponent += off
        _scale_to_nine_digits(wide, exponent, mantissa, scale, index)
    high = np.floor_divide(mantissa, 1_000_000, out=s.high[:n])
    rest = np.multiply(high, 1_000_000, out=s.rest[:n])
    np.subtract(mantissa, rest, out=rest)
    middle = np.floor_divide(rest, 1000, out=s.middle[:n])
    low = np.multiply(middle, 1000, out=mantissa)
    np.subtract(rest, low, out=low)
    word, part = s.word[:n], s.part[:n]
    # take(mode="clip"): the indices are in range by construction, and clip skips the
    # checked (buffered, several times slower) path of take(out=...).
    _GROUP_1.take(high, out=word, mode="clip")
    word |= _GROUP_2.take(middle, out=part, mode="clip")
    word += _WORD0
    part[...] = np.less(x, 0, out=s.negative[:n])
    part *= _MINUS
    word += part
    out[:, 0] = word
    _GROUP_3.take(low, out=word, mode="clip")
    exponent += _EXP_OFFSET
    word |= _EXPONENT.take(exponent, out=part, mode="clip")
    word |= _WORD1
    out[:, 1] = word
    if not all_regular:
        finite = np.isfinite(x)
        out[finite & ~regular] = _ZERO
        out[~finite] = _NULL


def _scale_to_nine_digits(wide, exponent, mantissa, scale, index) -> None:
    """mantissa = rint(wide * 10**(8 - exponent)): nine digits when exponent is right."""
    np.subtract(8 + 2 * _EXP_OFFSET, exponent, out=index)
    _POW10.take(index, out=scale, mode="clip")
    np.multiply(wide, scale, out=scale)
    mantissa[...] = np.rint(scale, out=scale)


def encode_float32(values: np.ndarray) -> np.ndarray:
    """Fixed-width JSON numbers for `values` (any shape): uint8 array (values.size * WIDTH,).

    Every number is followed by a comma; callers replace the last one by a bracket.
    """
    x = np.ascontiguousarray(values, dtype=np.float32).reshape(-1)
    out = np.empty((x.size, 2), np.uint64)
    for start in range(0, x.size, _CHUNK):
        _encode_float32_chunk(x[start:start + _CHUNK], out[start:start + _CHUNK])
    return out.view(np.uint8).reshape(-1)


def _json_numbers(values: np.ndarray) -> bytes:
    """`values` (1-D or 2-D; more: arrays of those, a Mamba's E × N state per step) as a
    JSON array (of arrays)."""
    if values.ndim > 2:
        return b"[" + b",".join(_json_numbers(v) for v in values) + b"]"
    if values.ndim == 1:
        values = values[None, :]
        flat = True
    else:
        flat = False
    rows, width = values.shape
    if rows == 0:
        return b"[]"
    if values.dtype == np.float32:
        if width == 0:
            body = np.full((rows, 3), np.frombuffer(b"[],", np.uint8))
        else:
            body = np.empty((rows, width * WIDTH + 2), np.uint8)
            body[:, 0] = ord("[")
            body[:, 1:-1] = encode_float32(values).reshape(rows, width * WIDTH)
            body[:, -2] = ord("]")  # replaces the last number's comma
            body[:, -1] = ord(",")
        text = body.tobytes()[:-1]
    else:
        text = _json_via_repr(values)[1:-1].encode()
    return text if flat else b"[" + text + b"]"


def _json_via_repr(values: np.ndarray) -> str:
    as_float = values.astype(np.float64)
    if np.isfinite(as_float).all():
        return json.dumps(as_float.tolist(), separators=(",", ":"))
    cleaned = np.where(np.isfinite(as_float), as_float, np.nan).astype(object)
    cleaned[~np.isfinite(as_float)] = None
    return json.dumps(cleaned.tolist(), separators=(",", ":"))


def signals_json(signals: Mapping[str, np.ndarray], names: Iterable[str] | None = None) -> bytes:
    """``{"name": [numbers...], ...}`` for one step, or ``[[...] per step]`` for a window.

    All float32 signals of a step are encoded in one pass (one concatenated array), which
    costs far less than one pass per signal.
    """
    names = list(signals if names is None else names)
    arrays = [signals[name] for name in names]
    if arrays and all(a.ndim == 1 and a.dtype == np.float32 for a in arrays):
        return _one_step_float32(names, arrays)
    parts = [b'"%s":%s' % (name.encode(), _json_numbers(a))
             for name, a in zip(names, arrays, strict=True)]
    return b"{" + b",".join(parts) + b"}"


def _one_step_float32(names: list[str], arrays: list[np.ndarray]) -> bytes:
    encoded = memoryview(encode_float32(np.concatenate(arrays)))
    parts: list = [b"{"]
    position = 0
    for name, a in zip(names, arrays, strict=True):
        size = a.size * WIDTH
        if size:
            # the number bytes without the final comma; the bracket closes the list
            parts += [b'"', name.encode(), b'":[', encoded[position:position + size - 1], b"]"]
        else:
            parts += [b'"', name.encode(), b'":[]']
        parts.append(b",")
        position += size
    parts[-1] = b"}"  # the last comma closes the object
    return b"".join(parts)


def frame_message(t: int, seq: int, steps: int, playing: bool, signals: bytes,
                  extra: bytes = b"") -> str:
    """One WebSocket frame: ``{"t", "seq", "steps", "playing", "signals"}`` (text);
    `extra` adds members (``,"time":…,"top":[…]`` for a model with a head)."""
    state = "true" if playing else "false"
    head = f'{{"t":{t:d},"seq":{seq:d},"steps":{steps:d},"playing":{state},"signals":'
    return head + signals.decode("ascii") + extra.decode() + "}"


def window_json(start: int, stop: int, window: Mapping[str, np.ndarray],
                names: Iterable[str]) -> bytes:
    """The trace endpoint's body: ``{"start", "stop", "signals": {name: [[...] per step]}}``."""
    return b'{"start":%d,"stop":%d,"signals":%s}' % (start, stop, signals_json(window, names))


def window_csv(start: int, window: Mapping[str, np.ndarray], names: Iterable[str],
               tokens: list[str] | None = None) -> str:
    """One row per step: ``t`` then ``name[unit]`` columns, in signal order; exact values.
    `tokens` (a text session): the input token each step reads, as a ``token`` column after
    ``t``, always quoted (a token may be a comma, a quote or a newline)."""
    names = list(names)
    blocks = [np.asarray(window[name]) for name in names]
    header = ["t"] + (["token"] if tokens is not None else []) + [
        f"{name}[{k}]" for name, a in zip(names, blocks, strict=True) for k in range(a.shape[1])]
    rows = len(blocks[0]) if blocks else 0
    table = np.concatenate(blocks, axis=1) if blocks else np.empty((0, 0))
    # %.9g round-trips float32 and %.17g float64; non-finite values print as nan/inf.
    spec = "%.9g" if table.dtype == np.float32 else "%.17g"
    out = io.StringIO()
    out.write(",".join(header) + "\n")
    rows = rows or (len(tokens) if tokens is not None else 0)
    if rows:
        row_format = "%d," + ("%s," if tokens is not None else "") + \
            ",".join([spec] * table.shape[1]) + "\n"
        row_format = row_format.replace(",\n", "\n")
        values = table.astype(np.float64).tolist() if blocks else [[]] * rows
        for offset, row in enumerate(values):
            token = () if tokens is None else ('"' + tokens[offset].replace('"', '""') + '"',)
            out.write(row_format % (start + offset, *token, *row))
    return out.getvalue()


def window_npz(start: int, window: Mapping[str, np.ndarray], names: Iterable[str]) -> bytes:
    """An .npz archive (no pickles): one array per signal, (steps, n) in the session's
    dtype, named by the signal, plus ``t`` (the step numbers, int64)."""
    names = list(names)
    steps = len(window[names[0]]) if names else 0
    arrays = {"t": np.arange(start, start + steps, dtype=np.int64)}
    arrays.update({name: np.ascontiguousarray(window[name]) for name in names})
    out = io.BytesIO()
    np.savez(out, **arrays)
    return out.getvalue()


# -- binary frames (the stream's `?format=binary`) ------------------------------------------
# One WebSocket binary message per step:
#   uint32 little-endian n | n bytes of JSON head | the values, little-endian, back to back
# The head is {"t", "seq", "steps", "playing", "dtype", "signals": [[name, length], ...]},
# padded with spaces so that the values start at a multiple of 8 bytes: the browser reads
# them as Float32Array/Float64Array views, with no parsing and no copy. A quarter of the
# bytes of the JSON frame at float32, and the numbers are the engine's bits.


def binary_dtype(dtype: np.dtype) -> np.dtype:
    """The wire dtype of an engine dtype: float64 stays float64, all else is float32."""
    return np.dtype("<f8" if np.dtype(dtype) == np.float64 else "<f4")


def binary_layout(names: Iterable[str], widths: Iterable[int], dtype: np.dtype) -> bytes:
    """The head's ``"dtype":...,"signals":[[name, length], ...]``: the same for every step
    of a session, so a stream computes it once."""
    layout = json.dumps([[name, int(w)] for name, w in zip(names, widths, strict=True)],
                        separators=(",", ":"))
    return f'"dtype":"{binary_dtype(dtype).name}","signals":{layout}'.encode()


def binary_values(signals: Mapping[str, np.ndarray], names: Iterable[str],
                  dtype: np.dtype) -> bytes:
    """One step's signals back to back, in `names` order, little-endian."""
    arrays = [np.asarray(signals[name]).reshape(-1) for name in names]
    return np.concatenate(arrays).astype(binary_dtype(dtype), copy=False).tobytes()


def frame_binary(t: int, seq: int, steps: int, playing: bool, layout: bytes,
                 values: bytes, extra: bytes = b"") -> bytes:
    """One binary WebSocket frame (see above); `extra` adds members to its JSON head."""
    state = b"true" if playing else b"false"
    head = b'{"t":%d,"seq":%d,"steps":%d,"playing":%s,%s%s}' % (t, seq, steps, state, layout,
                                                               extra)
    padded = len(head) + (-(4 + len(head)) % 8)
    return b"".join((padded.to_bytes(4, "little"), head.ljust(padded), values))
