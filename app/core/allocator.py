"""Keep freed buffers in the heap instead of handing them back to the OS at once.

glibc gives blocks above 128 KiB back to the kernel when they are freed, so every frame
(about 130 KB of JSON at H=512, plus its NumPy temporaries) is then built in fresh pages and
pays a page fault per 4 KiB; measured, that was ~40% of the time to encode a frame. Raising
the mmap and trim thresholds keeps such blocks for reuse. Linux/glibc only; a no-op
elsewhere.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 4 * 2**20  # blocks below this come from the heap
TRIM_THRESHOLD = 32 * 2**20  # free heap kept before returning memory to the OS


def keep_freed_memory_for_reuse() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
