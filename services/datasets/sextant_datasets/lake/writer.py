"""Idempotent, crash-safe appends of bars to the lake.

A row's natural key is (source, instrument, interval, bar start, revision). The writer remembers
the keys already on disk per partition (loaded lazily from the files) and drops rows it has seen,
so a batch redelivered after a crash is written once. Each file is written to a hidden temporary
name, fsynced and renamed into place: a reader (or a restart) sees a whole file or none of it.
"""

from __future__ import annotations

import os
import uuid
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from sextant_common.events import Bar
from sextant_datasets.lake.layout import BAR_SCHEMA, Partition

RowKey = tuple[str, int, int]
"""(source, bar start in epoch microseconds, revision) — unique within one partition."""


@dataclass(frozen=True)
class WriteResult:
    """What one call to :meth:`LakeWriter.write` did."""

    written: int
    duplicates: int
    files: int


def _epoch_us(bar: Bar) -> int:
    return int(bar.ts_event.timestamp() * 1_000_000)


class LakeWriter:
    """Appends bars under ``root`` exactly once per natural key."""

    def __init__(self, root: Path, *, cached_partitions: int = 4096) -> None:
        self.root = root
        self._known: OrderedDict[Partition, set[RowKey]] = OrderedDict()
        self._cached_partitions = cached_partitions
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="lake-writer")

    def write(self, bars: Iterable[Bar]) -> WriteResult:
        """Write the bars not yet in the lake, one new file per touched partition."""
        by_partition: dict[Partition, list[Bar]] = defaultdict(list)
        for bar in bars:
            by_partition[Partition.of(bar.interval, bar.instrument_id, bar.ts_event)].append(bar)
        duplicates = 0
        to_write: list[tuple[Path, list[Bar]]] = []
        touched = sorted(by_partition)
        for partition, rows in sorted(by_partition.items()):
            known = self._known_keys(partition)
            fresh: list[Bar] = []
            for bar in rows:
                key = (bar.source, _epoch_us(bar), bar.revision)
                if key in known:
                    duplicates += 1
                    continue
                known.add(key)
                fresh.append(bar)
            if fresh:
                to_write.append((partition.path(self.root), fresh))
        # Parquet encoding and file I/O release the GIL: write partitions in parallel.
        try:
            list(self._pool.map(lambda job: _write_file(*job), to_write))
        except BaseException:
            for partition in touched:  # keys were marked stored: relearn them from disk
                self._known.pop(partition, None)
            raise
        return WriteResult(
            written=sum(len(rows) for _, rows in to_write),
            duplicates=duplicates,
            files=len(to_write),
        )

    def _known_keys(self, partition: Partition) -> set[RowKey]:
        known = self._known.get(partition)
        if known is not None:
            self._known.move_to_end(partition)
            return known
        known = _read_keys(partition.path(self.root))
        self._known[partition] = known
        if len(self._known) > self._cached_partitions:
            self._known.popitem(last=False)
        return known


def _write_file(directory: Path, bars: Sequence[Bar]) -> None:
    """Write ``bars`` as one new file in ``directory``: temp name, fsync, rename, fsync dir."""
    directory.mkdir(parents=True, exist_ok=True)
    name = f"part-{uuid.uuid4().hex}.parquet"
    tmp = directory / f".{name}.tmp"
    pq.write_table(_to_table(bars), tmp, compression="zstd")
    with tmp.open("rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, directory / name)
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _read_keys(directory: Path) -> set[RowKey]:
    files = sorted(directory.glob("*.parquet")) if directory.is_dir() else []
    if not files:
        return set()
    table = pq.read_table(files, columns=["source", "ts_event", "revision"], partitioning=None)
    sources = table.column("source").to_pylist()
    starts = table.column("ts_event").cast(pa.int64()).to_pylist()
    revisions = table.column("revision").to_pylist()
    return set(zip(sources, starts, revisions, strict=True))


def _to_table(bars: Sequence[Bar]) -> pa.Table:
    columns = {name: [getattr(bar, name) for bar in bars] for name in BAR_SCHEMA.names}
    return pa.Table.from_pydict(columns, schema=BAR_SCHEMA)
