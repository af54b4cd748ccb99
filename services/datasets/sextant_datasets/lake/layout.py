"""Where rows live on disk.

Intraday bars: ``<root>/bars/interval=I/symbol=S/year=Y/month=MM/part-*.parquet``.
Daily bars:    ``<root>/bars/interval=1d/symbol=S/year=Y/part-*.parquet``.

Daily bars stop at the year: a month holds ~21 daily bars, so month directories would make a
10-year backfill of 500 symbols 60,000 tiny files (each Parquet file costs ~1 ms to write and a
footer read per query) instead of 5,000. Hive-style names let DuckDB prune partitions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sextant_common.events import Interval

BARS_DATASET = "bars"
DAILY = timedelta(days=1)

BAR_SCHEMA = pa.schema(
    [
        ("instrument_id", pa.string()),
        ("asset_class", pa.string()),
        ("interval", pa.string()),
        ("ts_event", pa.timestamp("us", tz="UTC")),
        ("open", pa.float64()),
        ("high", pa.float64()),
        ("low", pa.float64()),
        ("close", pa.float64()),
        ("volume", pa.float64()),
        ("source", pa.string()),
        ("ts_known", pa.timestamp("us", tz="UTC")),
        ("revision", pa.int64()),
    ]
)
"""Column order and types of every bars file. Partition columns are repeated inside the file so a
file is self-describing when copied out of the lake."""


@dataclass(frozen=True, order=True)
class Partition:
    """One leaf directory of the bars dataset."""

    interval: str
    symbol: str
    year: int
    month: int | None
    """None for daily and longer bars, which are partitioned by year only."""

    @classmethod
    def of(cls, interval: str, symbol: str, ts_event: datetime) -> Partition:
        """The partition a bar with this interval, symbol and start time belongs to."""
        month = None if Interval(interval).duration >= DAILY else ts_event.month
        return cls(interval, symbol, ts_event.year, month)

    def path(self, root: Path) -> Path:
        """Directory of this partition under the lake root."""
        year_dir = (
            root
            / BARS_DATASET
            / f"interval={self.interval}"
            / f"symbol={self.symbol}"
            / f"year={self.year}"
        )
        return year_dir if self.month is None else year_dir / f"month={self.month:02d}"


YEARLY_INTERVALS = frozenset(i.value for i in Interval if i.duration >= DAILY)
"""Intervals whose bars are partitioned by year only (see :meth:`Partition.of`)."""


@dataclass(frozen=True)
class PartitionedRows:
    """The rows of a bars table grouped by :class:`Partition` (see :func:`partition_rows`)."""

    partitions: list[Partition]
    """The partitions touched, sorted."""
    order: np.ndarray
    """Row indices of the table, partition by partition, each partition's rows in table order."""
    bounds: np.ndarray
    """``order[bounds[i]:bounds[i + 1]]`` are the rows of ``partitions[i]``."""


def partition_rows(table: pa.Table) -> PartitionedRows:
    """Group the rows of ``table`` (columns of :data:`BAR_SCHEMA`, no nulls) by partition.

    The same rules as :meth:`Partition.of`, computed over whole columns: a row's partition is its
    interval, instrument and the UTC year (and month, for intervals shorter than a day) of its
    ``ts_event``.
    """
    interval_codes, intervals = _codes(table.column("interval"))
    symbol_codes, symbols = _codes(table.column("instrument_id"))
    starts = table.column("ts_event")
    years = pc.year(starts).to_numpy().astype(np.int64)
    yearly = np.isin(np.asarray(intervals, dtype=object), list(YEARLY_INTERVALS))[interval_codes]
    months = np.where(yearly, 0, pc.month(starts).to_numpy())
    # One integer per partition: years are 1..9999 and months 0..12 (0: partitioned by year).
    keys = ((interval_codes * len(symbols) + symbol_codes) * 10_000 + years) * 13 + months
    _, first_rows, groups = np.unique(keys, return_index=True, return_inverse=True)
    partitions = [
        Partition(
            intervals[interval_codes[row]],
            symbols[symbol_codes[row]],
            int(years[row]),
            int(months[row]) or None,
        )
        for row in first_rows
    ]
    ranked = sorted(range(len(partitions)), key=partitions.__getitem__)
    rank = np.empty(len(partitions), dtype=np.int64)
    rank[ranked] = np.arange(len(partitions))
    row_ranks = rank[groups.reshape(-1)]
    order = np.argsort(row_ranks, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(row_ranks, minlength=len(partitions)))])
    return PartitionedRows([partitions[i] for i in ranked], order, bounds)


def _codes(column: pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    """Each row's index into the column's distinct values, and those values."""
    values = pc.unique(column)
    codes = pc.index_in(column, value_set=values).to_numpy().astype(np.int64)
    return codes, values.to_pylist()


def bars_glob(root: Path, interval: str | None = None, symbol: str | None = None) -> str:
    """A recursive glob over the bars files, narrowed to one interval and/or symbol when given."""
    return str(
        root
        / BARS_DATASET
        / f"interval={interval or '*'}"
        / f"symbol={symbol or '*'}"
        / "**"
        / "*.parquet"
    )
