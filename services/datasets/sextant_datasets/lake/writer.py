"""Idempotent, crash-safe appends of bars to the lake.

A row's natural key is (source, instrument, interval, bar start, revision). The writer remembers
the keys already on disk per partition (loaded lazily from the files) and drops rows it has seen,
so a batch redelivered after a crash is written once.

Each flush writes its files under hidden temporary names, syncs the filesystem, renames them into
place and syncs again: a reader (or a restart) sees whole files or none, and once ``write``
returns the rows survive a power cut. Two ``syncfs`` calls per flush cost far less than an fsync
per file and per directory when a flush touches hundreds of partitions.
"""

from __future__ import annotations

import ctypes
import operator
import os
import sys
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
    stored: Sequence[Bar] = ()
    """The bars written (not the duplicates), in partition order."""


def _epoch_us(bar: Bar) -> int:
    return int(bar.ts_event.timestamp() * 1_000_000)


class LakeWriter:
    """Appends bars under ``root`` exactly once per natural key."""

    def __init__(self, root: Path, *, cached_partitions: int = 4096) -> None:
        self.root = root
        self._known: OrderedDict[Partition, set[RowKey]] = OrderedDict()
        self._cached_partitions = cached_partitions
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="lake-writer")
        self._made_dirs: set[Path] = set()

    def write(self, bars: Iterable[Bar]) -> WriteResult:
        """Write the bars not yet in the lake, one new file per touched partition."""
        by_partition: dict[Partition, list[Bar]] = defaultdict(list)
        for bar in bars:
            by_partition[Partition.of(bar.interval, bar.instrument_id, bar.ts_event)].append(bar)
        duplicates = 0
        fresh: list[Bar] = []
        runs: list[tuple[Path, int, int]] = []  # (directory, first row, row count) in `fresh`
        touched = sorted(by_partition)
        for partition in touched:
            known = self._known_keys(partition)
            first = len(fresh)
            for bar in by_partition[partition]:
                key = (bar.source, _epoch_us(bar), bar.revision)
                if key in known:
                    duplicates += 1
                    continue
                known.add(key)
                fresh.append(bar)
            if len(fresh) > first:
                runs.append((partition.path(self.root), first, len(fresh) - first))
        try:
            if runs:
                self._write_runs(_to_table(fresh), runs)
        except BaseException:
            for partition in touched:  # keys were marked stored: relearn them from disk
                self._known.pop(partition, None)
            raise
        return WriteResult(written=len(fresh), duplicates=duplicates, files=len(runs), stored=fresh)

    def _write_runs(self, table: pa.Table, runs: list[tuple[Path, int, int]]) -> None:
        """One file per run of rows; temp names, sync, rename, sync."""
        for directory, _, _ in runs:
            if directory not in self._made_dirs:
                directory.mkdir(parents=True, exist_ok=True)
                self._made_dirs.add(directory)
        # One Arrow conversion for the whole flush; slices are zero-copy and Parquet encoding
        # releases the GIL, so the files are written in parallel.
        renames = list(
            self._pool.map(lambda run: write_temp_file(run[0], table.slice(run[1], run[2])), runs)
        )
        sync_filesystem(self.root)
        for tmp, final in renames:
            os.replace(tmp, final)
        sync_filesystem(self.root)

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


def write_temp_file(directory: Path, rows: pa.Table) -> tuple[Path, Path]:
    """Write ``rows`` to a hidden temporary file in ``directory``; return (temp, final) paths."""
    name = f"part-{uuid.uuid4().hex}.parquet"
    tmp = directory / f".{name}.tmp"
    pq.write_table(rows, tmp, compression="snappy")
    return tmp, directory / name


def sync_filesystem(path: Path) -> None:
    """Make every write to the filesystem holding ``path`` durable (syncfs; sync elsewhere)."""
    if _LIBC is None:
        os.sync()
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        if _LIBC.syncfs(fd) != 0:
            raise OSError(ctypes.get_errno(), f"syncfs failed for {path}")
    finally:
        os.close(fd)


_LIBC = ctypes.CDLL("libc.so.6", use_errno=True) if sys.platform.startswith("linux") else None


def _read_keys(directory: Path) -> set[RowKey]:
    try:
        return _read_keys_once(directory)
    except FileNotFoundError:  # compaction replaced a file between listing and reading
        return _read_keys_once(directory)


def _read_keys_once(directory: Path) -> set[RowKey]:
    files = sorted(directory.glob("*.parquet")) if directory.is_dir() else []
    if not files:
        return set()
    table = pq.read_table(files, columns=["source", "ts_event", "revision"], partitioning=None)
    sources = table.column("source").to_pylist()
    starts = table.column("ts_event").cast(pa.int64()).to_pylist()
    revisions = table.column("revision").to_pylist()
    return set(zip(sources, starts, revisions, strict=True))


_ROW = operator.attrgetter(*BAR_SCHEMA.names)


def _to_table(bars: Sequence[Bar]) -> pa.Table:
    columns = zip(*map(_ROW, bars), strict=True)
    return pa.Table.from_arrays(
        [pa.array(c, f.type) for c, f in zip(columns, BAR_SCHEMA, strict=True)], schema=BAR_SCHEMA
    )
