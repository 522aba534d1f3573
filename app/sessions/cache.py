"""A least-recently-used cache bounded in bytes, safe to share between threads.

Used per process for traces (sized by ``trace.nbytes``), cells (their parameters) and
encoded frames. A miss is computed once even when several threads ask at the same time.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class ByteLRU(Generic[V]):
    def __init__(self, max_bytes: int, sizeof: Callable[[V], int]):
        self.max_bytes = max_bytes
        self._sizeof = sizeof
        self._items: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._computing: dict[Hashable, threading.Lock] = {}

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)

    def values(self) -> list[V]:
        """The values held now (a copy of the list: the cache may change meanwhile)."""
        with self._lock:
            return [value for value, _ in self._items.values()]

    def __contains__(self, key: Hashable) -> bool:
        return key in self._items

    def peek(self, key: Hashable) -> V | None:
        """The cached value (marked as recently used) or None; never computes."""
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            self._items.move_to_end(key)
            return item[0]

    def get_or_compute(self, key: Hashable, compute: Callable[[], V]) -> V:
        value = self.peek(key)
        if value is not None:
            return value
        with self._lock:
            key_lock = self._computing.setdefault(key, threading.Lock())
        with key_lock:  # a second asker for the same key waits here, then finds it cached
            value = self.peek(key)
            if value is None:
                value = compute()
                self.put(key, value)
        with self._lock:
            if self._computing.get(key) is key_lock:
                del self._computing[key]
        return value

    def put(self, key: Hashable, value: V) -> None:
        size = int(self._sizeof(value))
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            if size > self.max_bytes:  # larger than the whole cache: serve it, don't keep it
                return
            self._items[key] = (value, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, dropped) = self._items.popitem(last=False)
                self._bytes -= dropped

    def pop(self, key: Hashable) -> V | None:
        with self._lock:
            item = self._items.pop(key, None)
            if item is None:
                return None
            self._bytes -= item[1]
            return item[0]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0
