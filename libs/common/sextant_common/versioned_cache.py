"""A small LRU whose entries die when their data version moves or a TTL passes.

The datasets service keeps "as known now" bar answers keyed on the lake version (bumped by every
flush); the gateway, which cannot see flushes, keeps them for a second or so; the quant service
keeps fitted models keyed on the data they were fitted on.

Every lookup counts in ``sextant_cache_requests_total{cache,result}`` (``result``: ``hit`` or
``miss``; ``cache``: the name its owner gives it), so a dashboard shows each cache's hit rate.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

from prometheus_client import Counter

V = TypeVar("V")

CACHE_REQUESTS = Counter(
    "sextant_cache_requests_total", "Cache lookups by result (hit|miss)", ["cache", "result"]
)


class VersionedCache(Generic[V]):
    """Thread-safe LRU of values keyed by ``key``, valid for one ``version`` (any hashable);
    ``name`` labels its lookups in ``sextant_cache_requests_total``."""

    def __init__(
        self, max_entries: int = 512, ttl_s: float | None = None, *, name: str = "unnamed"
    ) -> None:
        self._hits = CACHE_REQUESTS.labels(name, "hit")
        self._misses = CACHE_REQUESTS.labels(name, "miss")
        self._entries: OrderedDict[Hashable, tuple[Hashable, float, V]] = OrderedDict()
        self._max_entries = max_entries
        self._ttl_s = ttl_s
        self._lock = threading.Lock()

    def get(self, key: Hashable, version: Hashable) -> V | None:
        """The value stored for ``key`` at ``version`` if still fresh, else None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self._misses.inc()
                return None
            cached_version, created, value = entry
            expired = self._ttl_s is not None and time.monotonic() - created > self._ttl_s
            if cached_version != version or expired:
                del self._entries[key]
                self._misses.inc()
                return None
            self._entries.move_to_end(key)
            self._hits.inc()
            return value

    def put(self, key: Hashable, version: Hashable, value: V) -> None:
        """Remember ``value`` for ``key`` at ``version`` (evicting the least recently used)."""
        with self._lock:
            self._entries[key] = (version, time.monotonic(), value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
