"""A cached listing of what the lake holds, recomputed only after new data was flushed."""

from __future__ import annotations

import threading

from sextant_datasets.lake.reader import CatalogEntry, LakeReader


class Catalog:
    """Wraps :meth:`LakeReader.catalog` with invalidation on write."""

    def __init__(self, reader: LakeReader) -> None:
        self._reader = reader
        self._entries: list[CatalogEntry] | None = None
        self._lock = threading.Lock()
        self.version = 0
        """Bumped by every flush; caches of query results key on it."""

    def invalidate(self) -> None:
        """Called after every flush: the next read rescans the lake."""
        self._entries = None
        self.version += 1

    def entries(self) -> list[CatalogEntry]:
        """Every (instrument, source, interval) stored, sorted by instrument then source."""
        with self._lock:
            if self._entries is None:
                self._entries = sorted(
                    self._reader.catalog(), key=lambda e: (e.instrument_id, e.source, e.interval)
                )
            return self._entries
