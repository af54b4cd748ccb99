"""Merging a partition's small files into one.

The writer adds one ``part-<uuid>.parquet`` per partition per flush, so a partition fed bar by
bar grows many tiny files, and every query pays a footer read per file. Compaction rewrites all
of a partition's files as one ``compact-<uuid>.parquet``, sorted by (source, ts_event, revision)
so row-group statistics prune well, with exact natural-key duplicates dropped. Every revision is
kept, so as-of queries return the same rows before and after.

The merge itself (:func:`merge_tables`) is pure; :func:`write_compacted` does the file I/O.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sextant_datasets.cold.inventory import COMPACTED_PREFIX, PartitionFiles
from sextant_datasets.lake.layout import BAR_SCHEMA

NATURAL_KEY = ("instrument_id", "interval", "source", "ts_event", "revision")
"""A bar's identity: a second row with the same key is a duplicate. Within one well-formed
partition instrument_id and interval are constant, leaving (source, ts_event, revision) — the
writer's key."""

SORT_ORDER = ("source", "ts_event", "revision", "instrument_id", "interval", "ts_known")
"""Order of rows in a compacted file. Equal natural keys end up adjacent, the earliest-known
copy first (that is the one kept)."""


@dataclass(frozen=True)
class CompactionPolicy:
    """Which partitions are worth compacting.

    A partition is compacted when it has more than ``max_files`` files, or at least two files of
    which one is smaller than ``small_file_bytes``. ``force`` compacts every partition with two
    or more files.
    """

    max_files: int = 4
    small_file_bytes: int = 8 * 1024 * 1024
    force: bool = False

    def __post_init__(self) -> None:
        if self.max_files < 1:
            raise ValueError(f"max_files must be >= 1, got {self.max_files}")
        if self.small_file_bytes < 0:
            raise ValueError(f"small_file_bytes must be >= 0, got {self.small_file_bytes}")

    def wants(self, partition: PartitionFiles) -> bool:
        """Whether ``partition`` should be compacted under this policy."""
        count = len(partition.files)
        if count < 2:
            return False
        if self.force or count > self.max_files:
            return True
        return any(f.bytes < self.small_file_bytes for f in partition.files)


@dataclass
class CompactionResult:
    """What one compaction run did. Byte and file counts are of the compacted partitions only."""

    partitions_scanned: int = 0
    partitions_compacted: int = 0
    files_before: int = 0
    files_after: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    rows_before: int = 0
    rows_after: int = 0
    duplicates_dropped: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)
    """Partitions left alone because a file could not be read or had the wrong schema; run the
    integrity check on them. Each entry: {"directory", "reason"}."""
    seconds: float = 0.0

    def add(self, other: PartitionCompaction) -> None:
        """Account one compacted partition."""
        self.partitions_compacted += 1
        self.files_before += other.files_before
        self.files_after += 1
        self.bytes_before += other.bytes_before
        self.bytes_after += other.bytes_after
        self.rows_before += other.rows_before
        self.rows_after += other.rows_after
        self.duplicates_dropped += other.rows_before - other.rows_after


@dataclass(frozen=True)
class PartitionCompaction:
    """One partition merged into a hidden temp file, not yet renamed in; inputs not yet deleted."""

    tmp: Path
    compacted: Path
    inputs: tuple[Path, ...]
    files_before: int
    bytes_before: int
    bytes_after: int
    rows_before: int
    rows_after: int


def merge_tables(tables: Sequence[pa.Table]) -> pa.Table:
    """Concatenate bar tables, sort by :data:`SORT_ORDER` and keep one row per natural key (the
    earliest known). Raises ``ValueError`` if a table's schema is not ``BAR_SCHEMA``."""
    for table in tables:
        if not table.schema.equals(BAR_SCHEMA):
            raise ValueError(f"schema differs from BAR_SCHEMA: {table.schema}")
    merged = pa.concat_tables(tables) if tables else BAR_SCHEMA.empty_table()
    if merged.num_rows == 0:
        return merged
    merged = merged.sort_by([(name, "ascending") for name in SORT_ORDER])
    return merged.filter(_first_of_each_key(merged))


def _first_of_each_key(table: pa.Table) -> pa.Array:
    """Mask of rows whose natural key differs from the previous row's (table sorted by key)."""
    n = table.num_rows
    if n < 2:
        return pa.array([True] * n)
    changed: pa.Array | None = None
    for name in NATURAL_KEY:
        column = table.column(name).combine_chunks()
        differs = pc.fill_null(pc.not_equal(column.slice(1), column.slice(0, n - 1)), True)
        changed = differs if changed is None else pc.or_(changed, differs)
    assert changed is not None  # NATURAL_KEY is not empty
    return pa.concat_arrays([pa.array([True]), changed])


def read_partition(partition: PartitionFiles) -> list[pa.Table]:
    """Every file of ``partition`` as a table. Raises ``ValueError`` naming the file that cannot
    be read or whose schema is not ``BAR_SCHEMA`` (compaction then leaves the partition alone)."""
    tables = []
    for data_file in partition.files:
        try:
            table = pq.read_table(data_file.path, partitioning=None)
        except (OSError, pa.ArrowException) as exc:
            raise ValueError(f"{data_file.path.name}: unreadable ({exc})") from None
        if not table.schema.equals(BAR_SCHEMA):
            raise ValueError(f"{data_file.path.name}: schema differs from BAR_SCHEMA")
        tables.append(table)
    return tables


def compact_to_temp(partition: PartitionFiles) -> PartitionCompaction:
    """Merge the partition's files into a hidden ``.compact-<uuid>.parquet.tmp`` beside them.

    Nothing visible changes: the caller syncs, renames the temp file in and later deletes the
    inputs. Raises ``ValueError`` (see :func:`read_partition`) when a file is unusable.
    """
    tables = read_partition(partition)
    merged = merge_tables(tables)
    name = f"{COMPACTED_PREFIX}{uuid.uuid4().hex}.parquet"
    tmp = partition.directory / f".{name}.tmp"
    pq.write_table(merged, tmp, compression="snappy")
    return PartitionCompaction(
        tmp=tmp,
        compacted=partition.directory / name,
        inputs=tuple(f.path for f in partition.files),
        files_before=len(partition.files),
        bytes_before=partition.bytes,
        bytes_after=tmp.stat().st_size,
        rows_before=sum(t.num_rows for t in tables),
        rows_after=merged.num_rows,
    )
