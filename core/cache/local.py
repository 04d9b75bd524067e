"""The L1 tier: a small in-process cache in front of Redis for the hottest datasets.

Bounded by bytes, not entries (``CACHE_LOCAL_MAX_BYTES``, least recently used out first): it
holds the same pickled payloads Redis holds, so its size is known exactly, and every hit
unpickles a private copy, so no request can change a value another one is reading.

It needs no invalidation of its own: keys contain the dataset's version tokens, so after a bump
the old entries are simply never asked for again and age out. How long a worker may go on using
an old token is the staleness bound documented in ``core.cache.versions``.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from core.cache import conf


@dataclass(frozen=True)
class Entry:
    """A cached result as both tiers store it: the pickled value, a digest of it (the HTTP
    layer's ETag material) and the wall-clock time it stops being fresh."""

    payload: bytes
    fingerprint: str
    fresh_until: float


class LocalTier:
    clock: Callable[[], float] = time.time  # the same clock as ``Entry.fresh_until``

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._bytes = 0

    def get(self, key: str) -> Entry | None:
        """The fresh entry under ``key``, or None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry.fresh_until <= self.clock():
                self._drop(key)
                return None
            self._entries.move_to_end(key)
            return entry

    def put(self, key: str, entry: Entry) -> None:
        limit = conf.local_max_bytes()
        size = len(entry.payload)
        if size > limit // 8:
            return  # one value may not take over the tier
        with self._lock:
            if key in self._entries:
                self._drop(key)
            self._entries[key] = entry
            self._bytes += size
            while self._bytes > limit:
                self._drop(next(iter(self._entries)))

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key)
        self._bytes -= len(entry.payload)


tier = LocalTier()
