"""A small LRU whose entries die when their data version moves or a TTL passes.

The datasets service keeps "as known now" bar answers keyed on the lake version (bumped by every
flush); the gateway, which cannot see flushes, keeps them for a second or so; the quant service
keeps fitted models keyed on the data they were fitted on.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class VersionedCache(Generic[V]):
    """Thread-safe LRU of values keyed by ``key``, valid for one ``version`` (any hashable)."""

    def __init__(self, max_entries: int = 512, ttl_s: float | None = None) -> None:
        self._entries: OrderedDict[Hashable, tuple[Hashable, float, V]] = OrderedDict()
        self._max_entries = max_entries
        self._ttl_s = ttl_s
        self._lock = threading.Lock()

    def get(self, key: Hashable, version: Hashable) -> V | None:
        """The value stored for ``key`` at ``version`` if still fresh, else None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            cached_version, created, value = entry
            expired = self._ttl_s is not None and time.monotonic() - created > self._ttl_s
            if cached_version != version or expired:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return value

    def put(self, key: Hashable, version: Hashable, value: V) -> None:
        """Remember ``value`` for ``key`` at ``version`` (evicting the least recently used)."""
        with self._lock:
            self._entries[key] = (version, time.monotonic(), value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
