"""What files the bars lake holds, found by walking its hive-style directories.

Listing directories beats a recursive glob when the wanted partitions are known: a read of one
day across 500 symbols lists 500 ``year=Y`` directories instead of expanding a glob over every
year of every symbol (see :func:`partition_dirs`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sextant_common.events import Interval
from sextant_datasets.lake.layout import BARS_DATASET, DAILY, Partition

COMPACTED_PREFIX = "compact-"
"""Name prefix of a file written by compaction (incremental writes are ``part-<uuid>``)."""


@dataclass(frozen=True)
class DataFile:
    """One visible Parquet file of a partition."""

    path: Path
    bytes: int


@dataclass(frozen=True)
class PartitionFiles:
    """A leaf partition directory and its visible Parquet files, sorted by name."""

    partition: Partition
    directory: Path
    files: tuple[DataFile, ...]

    @property
    def bytes(self) -> int:
        """Total size of the files, in bytes."""
        return sum(f.bytes for f in self.files)


def visible_files(directory: Path) -> tuple[DataFile, ...]:
    """The ``*.parquet`` files a reader's glob sees in ``directory`` (hidden temp files are not
    visible), sorted by name. A file deleted while listing is skipped."""
    found: list[DataFile] = []
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return ()
    for entry in entries:
        if entry.name.startswith(".") or not entry.name.endswith(".parquet"):
            continue
        try:
            if entry.is_file():
                found.append(DataFile(Path(entry.path), entry.stat().st_size))
        except FileNotFoundError:
            continue
    return tuple(sorted(found, key=lambda f: f.path.name))


def _parse(relative: tuple[str, ...]) -> Partition | None:
    """Partition of a leaf directory given its parts below ``bars/``; None if not a leaf.

    Symbols may contain ``/`` (``BTC/USD``), which the layout turns into nested directories, so
    every part between ``symbol=`` and ``year=`` belongs to the symbol.
    """
    if len(relative) < 3 or not relative[0].startswith("interval="):
        return None
    if not relative[1].startswith("symbol="):
        return None
    year_at = next((i for i in range(2, len(relative)) if relative[i].startswith("year=")), None)
    if year_at is None:
        return None
    symbol = "/".join((relative[1].removeprefix("symbol="), *relative[2:year_at]))
    rest = relative[year_at:]
    try:
        year = int(rest[0].removeprefix("year="))
        if len(rest) == 1:
            month = None
        elif len(rest) == 2 and rest[1].startswith("month="):
            month = int(rest[1].removeprefix("month="))
        else:
            return None
    except ValueError:
        return None
    return Partition(relative[0].removeprefix("interval="), symbol, year, month)


def iter_partitions(
    root: Path, *, interval: str | None = None, symbol: str | None = None
) -> Iterator[PartitionFiles]:
    """Partitions holding at least one visible file, optionally narrowed to one interval and/or
    symbol, in directory-walk order."""
    bars = root / BARS_DATASET
    if interval is not None:
        bases = [bars / f"interval={interval}"]
    else:
        bases = sorted(bars.glob("interval=*")) if bars.is_dir() else []
    if symbol is not None:
        bases = [base / f"symbol={symbol}" for base in bases]
    for base in bases:
        for directory, _, names in os.walk(base):
            if not any(n.endswith(".parquet") and not n.startswith(".") for n in names):
                continue
            path = Path(directory)
            partition = _parse(path.relative_to(bars).parts)
            if partition is None or not _matches(partition, interval, symbol):
                continue
            files = visible_files(path)
            if files:
                yield PartitionFiles(partition, path, files)


def scan(
    root: Path, *, interval: str | None = None, symbol: str | None = None
) -> list[PartitionFiles]:
    """Every partition holding at least one visible file (see :func:`iter_partitions`), sorted."""
    found = iter_partitions(root, interval=interval, symbol=symbol)
    return sorted(found, key=_sort_key)


def has_files(root: Path, *, interval: str | None = None, symbol: str | None = None) -> bool:
    """Whether any visible file is stored for the interval and/or symbol."""
    return next(iter_partitions(root, interval=interval, symbol=symbol), None) is not None


def _matches(partition: Partition, interval: str | None, symbol: str | None) -> bool:
    return (interval is None or partition.interval == interval) and (
        symbol is None or partition.symbol == symbol
    )


def partition_dirs(
    root: Path, symbols: Iterable[str], interval: str, start: datetime, end: datetime
) -> Iterator[Path]:
    """Directories that can hold ``interval`` bars of ``symbols`` starting in [start, end]: one
    per year for daily-and-longer bars, one per month otherwise. They need not exist."""
    daily = Interval(interval).duration >= DAILY
    for symbol in symbols:
        for year in range(start.year, end.year + 1):
            if daily:
                yield Partition(interval, symbol, year, None).path(root)
                continue
            first = start.month if year == start.year else 1
            last = end.month if year == end.year else 12
            for month in range(first, last + 1):
                yield Partition(interval, symbol, year, month).path(root)


def _sort_key(files: PartitionFiles) -> tuple[str, str, int, int]:
    p = files.partition
    return (p.interval, p.symbol, p.year, p.month or 0)  # a stray month dir may sit beside None
