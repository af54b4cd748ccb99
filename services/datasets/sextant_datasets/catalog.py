"""A cached listing of what the lake holds: scanned once, then kept current by each flush."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

from sextant_common.events import Bar
from sextant_datasets.lake.reader import CatalogEntry, LakeReader
from sextant_datasets.lake.writer import LakeWriter, WriteResult

EntryKey = tuple[str, str, str]
"""(instrument id, source, interval)."""


class Catalog:
    """Wraps :meth:`LakeReader.catalog`: one scan of the lake, then every flush folds its new
    bars into the listing (a rescan reads every file: ~0.1 s per 500 files, and live bars add
    files all day). :meth:`invalidate` forces a rescan (compaction, tests)."""

    def __init__(self, reader: LakeReader) -> None:
        self._reader = reader
        self._entries: dict[EntryKey, CatalogEntry] | None = None
        self._sorted: list[CatalogEntry] | None = None
        self._lock = threading.RLock()  # scans never overlap a write (see CatalogedWriter)
        self.version = 0
        """Bumped by every flush; caches of query results key on it."""

    def invalidate(self) -> None:
        """The next read rescans the lake."""
        with self._lock:
            self._entries = None
            self._sorted = None
            self.version += 1

    def record(self, stored: Sequence[Bar]) -> None:
        """Fold bars just written to the lake into the listing (first, last, rows)."""
        with self._lock:
            self.version += 1
            if self._entries is None or not stored:
                return  # not scanned yet: the first read will see these bars on disk
            for bar in stored:
                key = (bar.instrument_id, bar.source, bar.interval.value)
                entry = self._entries.get(key)
                if entry is None:
                    self._entries[key] = CatalogEntry(
                        bar.instrument_id,
                        bar.asset_class.value,
                        bar.source,
                        bar.interval.value,
                        bar.ts_event,
                        bar.ts_event,
                        1,
                    )
                else:
                    self._entries[key] = replace(
                        entry,
                        first=min(entry.first, bar.ts_event),
                        last=max(entry.last, bar.ts_event),
                        rows=entry.rows + 1,
                    )
            self._sorted = None

    def entries(self) -> list[CatalogEntry]:
        """Every (instrument, source, interval) stored, sorted by instrument then source."""
        with self._lock:
            if self._entries is None:
                self._entries = {
                    (e.instrument_id, e.source, e.interval): e for e in self._reader.catalog()
                }
            if self._sorted is None:
                self._sorted = sorted(
                    self._entries.values(),
                    key=lambda e: (e.instrument_id, e.source, e.interval),
                )
            return self._sorted


class CatalogedWriter(LakeWriter):
    """A :class:`LakeWriter` that folds what it wrote into ``catalog``. A write and a catalog
    scan never overlap, so a scan can never count bars that the fold then adds again."""

    def __init__(self, root: Path, catalog: Catalog) -> None:
        super().__init__(root)
        self._catalog = catalog

    def write(self, bars: Iterable[Bar]) -> WriteResult:
        """Write like :meth:`LakeWriter.write`, then record the stored bars in the catalog."""
        with self._catalog._lock:
            result = super().write(bars)
            self._catalog.record(result.stored)
        return result
