"""Where rows live on disk: ``<root>/bars/interval=I/symbol=S/year=Y/month=MM/part-*.parquet``.

Hive-style directory names let DuckDB prune partitions and return them as columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow as pa

BARS_DATASET = "bars"

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
    month: int

    @classmethod
    def of(cls, interval: str, symbol: str, ts_event: datetime) -> Partition:
        """The partition a bar with this interval, symbol and start time belongs to."""
        return cls(interval, symbol, ts_event.year, ts_event.month)

    def path(self, root: Path) -> Path:
        """Directory of this partition under the lake root."""
        return (
            root
            / BARS_DATASET
            / f"interval={self.interval}"
            / f"symbol={self.symbol}"
            / f"year={self.year}"
            / f"month={self.month:02d}"
        )


def bars_glob(root: Path, interval: str | None = None, symbol: str | None = None) -> str:
    """A glob over the bars files, narrowed to one interval and/or symbol when given."""
    return str(
        root
        / BARS_DATASET
        / f"interval={interval or '*'}"
        / f"symbol={symbol or '*'}"
        / "year=*"
        / "month=*"
        / "*.parquet"
    )
