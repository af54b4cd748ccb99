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

import contextlib
import ctypes
import operator
import os
import sys
import uuid
from collections import Counter, OrderedDict
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sextant_common.events import Bar
from sextant_datasets.lake.layout import BAR_SCHEMA, Partition, partition_rows

RowKey = tuple[str, int, int]
"""(source, bar start in epoch microseconds, revision) — unique within one partition."""


@dataclass(frozen=True)
class WriteResult:
    """What one call to :meth:`LakeWriter.write_table` did."""

    written: int
    duplicates: int
    files: int
    stored: pa.Table = field(default_factory=BAR_SCHEMA.empty_table)
    """The rows written (not the duplicates), partition by partition."""


class LakeWriter:
    """Appends bars under ``root`` exactly once per natural key."""

    def __init__(self, root: Path, *, cached_partitions: int = 4096) -> None:
        self.root = root
        self._known: OrderedDict[Partition, set[RowKey]] = OrderedDict()
        self._cached_partitions = cached_partitions
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="lake-writer")
        self._made_dirs: set[Path] = set()
        """Directories known to exist (leaves and their parents): each is made once, with one
        mkdir (a new symbol's first minute bars make three, not a walk from the root)."""

    def write(self, bars: Iterable[Bar]) -> WriteResult:
        """Write the bars not yet in the lake (see :meth:`write_table`)."""
        return self.write_table(bars_to_table(list(bars)))

    def write_table(self, table: pa.Table) -> WriteResult:
        """Write the rows of ``table`` (:data:`BAR_SCHEMA`, valid bars) not yet in the lake, one
        new file per touched partition. A row whose natural key is on disk, or earlier in
        ``table``, is a duplicate and dropped."""
        if not table.schema.equals(BAR_SCHEMA):
            raise ValueError(
                f"bars table must have the lake schema {BAR_SCHEMA.names} with its types, "
                f"got {table.schema}"
            )
        grouped = partition_rows(table)
        table = table.take(grouped.order)
        keys = list(
            zip(
                table.column("source").to_pylist(),
                pc.cast(table.column("ts_event"), pa.int64()).to_numpy().tolist(),
                table.column("revision").to_numpy().tolist(),
                strict=True,
            )
        )
        keep = np.ones(table.num_rows, dtype=bool)
        runs: list[tuple[Path, int, int]] = []  # (directory, first row, row count) in `fresh`
        written = 0
        for partition, first, end in zip(
            grouped.partitions, grouped.bounds[:-1], grouped.bounds[1:], strict=True
        ):
            fresh = _mark_fresh(self._known_keys(partition), keys, int(first), int(end), keep)
            if fresh:
                runs.append((partition.path(self.root), written, fresh))
                written += fresh
        stored = table if written == table.num_rows else table.filter(keep)
        try:
            if runs:
                self._write_runs(stored, runs)
        except BaseException:
            for partition in grouped.partitions:  # keys were marked stored: relearn from disk
                self._known.pop(partition, None)
            raise
        return WriteResult(
            written=written, duplicates=table.num_rows - written, files=len(runs), stored=stored
        )

    def _write_runs(self, table: pa.Table, runs: list[tuple[Path, int, int]]) -> None:
        """One file per run of rows; temp names, sync, rename, sync."""
        # Directories to make, top-down per run. One that several runs need (the interval's, a
        # symbol's with two months) is made here first; each run makes the rest of its own.
        chains = [self._missing_dirs(directory) for directory, _, _ in runs]
        needed = Counter(made for chain in chains for made in chain)
        for shared in sorted((d for d, n in needed.items() if n > 1), key=lambda d: len(d.parts)):
            self._mkdir(shared)

        def write_run(run: tuple[Path, int, int], chain: list[Path]) -> tuple[Path, Path]:
            directory, first, count = run
            for made in chain:
                if needed[made] == 1:
                    self._mkdir(made)
            return write_temp_file(directory, table.slice(first, count))

        # Slices are zero-copy, and mkdir, file creation and Parquet encoding release the GIL:
        # the partitions are written in parallel (a new symbol's directories cost about as much
        # as its file).
        renames = list(self._pool.map(write_run, runs, chains))
        sync_filesystem(self.root)
        for tmp, final in renames:
            os.replace(tmp, final)
        sync_filesystem(self.root)

    def _missing_dirs(self, directory: Path) -> list[Path]:
        """The directories from the lake root down to ``directory`` not made yet, top-down (the
        root itself, with its parents, is made at once)."""
        if self.root not in self._made_dirs:
            self.root.mkdir(parents=True, exist_ok=True)
            self._made_dirs.add(self.root)
        missing: list[Path] = []
        while directory not in self._made_dirs:
            if directory == directory.parent:
                raise ValueError(f"partition directory is not under the lake root {self.root}")
            missing.append(directory)
            directory = directory.parent
        return missing[::-1]

    def _mkdir(self, directory: Path) -> None:
        with contextlib.suppress(FileExistsError):  # made before this process
            directory.mkdir()
        self._made_dirs.add(directory)

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


def _mark_fresh(
    known: set[RowKey], keys: Sequence[RowKey], first: int, end: int, keep: np.ndarray
) -> int:
    """Add the keys ``keys[first:end]`` of one partition to ``known``, clearing ``keep`` for each
    one already known (on disk or earlier in the range); return how many were new."""
    rows = keys[first:end]
    new = set(rows)
    if len(new) == len(rows) and new.isdisjoint(known):  # the usual case, at set speed
        known |= new
        return len(rows)
    fresh = 0
    for offset, key in enumerate(rows):
        if key in known:
            keep[first + offset] = False
        else:
            known.add(key)
            fresh += 1
    return fresh


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


def bars_to_table(bars: Sequence[Bar]) -> pa.Table:
    """The bars as a table of :data:`BAR_SCHEMA`, in their order."""
    if not bars:
        return BAR_SCHEMA.empty_table()
    columns = zip(*map(_ROW, bars), strict=True)
    return pa.Table.from_arrays(
        [pa.array(c, f.type) for c, f in zip(columns, BAR_SCHEMA, strict=True)], schema=BAR_SCHEMA
    )
