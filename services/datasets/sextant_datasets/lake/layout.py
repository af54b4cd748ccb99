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

import pyarrow as pa

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
