"""A cached listing of what the lake holds: scanned once, then kept current by each flush."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import pyarrow as pa

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

    def record(self, stored: pa.Table) -> None:
        """Fold rows just written to the lake (a table of ``BAR_SCHEMA``) into the listing
        (first, last, rows per instrument, source and interval)."""
        with self._lock:
            self.version += 1
            if self._entries is None or stored.num_rows == 0:
                return  # not scanned yet: the first read will see these bars on disk
            # use_threads=False keeps "first" the first row's asset class, as a scan would see it
            groups = stored.group_by(
                ["instrument_id", "source", "interval"], use_threads=False
            ).aggregate(
                [
                    ("asset_class", "first"),
                    ("ts_event", "min"),
                    ("ts_event", "max"),
                    ("ts_event", "count"),
                ]
            )
            for group in groups.to_pylist():
                key = (group["instrument_id"], group["source"], group["interval"])
                instrument_id, source, interval = key
                first, last = group["ts_event_min"], group["ts_event_max"]
                entry = self._entries.get(key) or CatalogEntry(
                    instrument_id, group["asset_class_first"], source, interval, first, last, 0
                )
                self._entries[key] = replace(
                    entry,
                    first=min(entry.first, first),
                    last=max(entry.last, last),
                    rows=entry.rows + group["ts_event_count"],
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

    def write_table(self, table: pa.Table) -> WriteResult:
        """Write like :meth:`LakeWriter.write_table`, then record the stored rows in the
        catalog (:meth:`LakeWriter.write` comes here too)."""
        with self._catalog._lock:
            result = super().write_table(table)
            self._catalog.record(result.stored)
        return result
