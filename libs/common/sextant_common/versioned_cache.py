"""Serialized responses reused until their data version moves or a TTL passes.

The datasets service keys "as known now" bar answers on the lake version (bumped by every
flush); the gateway, which cannot see flushes, keeps them for a second or so.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Hashable


class ResponseCache:
    """A small thread-safe LRU of response bytes keyed by (query, data version)."""

    def __init__(self, max_entries: int = 512, ttl_s: float = 30.0) -> None:
        self._entries: OrderedDict[Hashable, tuple[int, float, bytes]] = OrderedDict()
        self._max_entries = max_entries
        self._ttl_s = ttl_s
        self._lock = threading.Lock()

    def get(self, key: Hashable, version: int) -> bytes | None:
        """The cached bytes for ``key`` if computed at lake ``version`` and still fresh."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            cached_version, created, body = entry
            if cached_version != version or time.monotonic() - created > self._ttl_s:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return body

    def put(self, key: Hashable, version: int, body: bytes) -> None:
        """Remember ``body`` for ``key`` at lake ``version``."""
        with self._lock:
            self._entries[key] = (version, time.monotonic(), body)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
