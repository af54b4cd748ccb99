"""Point-in-time storage of option chain snapshots.

Layout: ``<lake>/options/underlying=<id>/part-*.parquet`` (the fact store's writer: hidden temp
files, syncfs, rename). Every quote of every snapshot is kept; the natural key is
``(source, contract, ts_event)``, so a redelivered or re-published snapshot is stored once.

A chain as of ``t`` is the latest snapshot (``ts_event``) of the underlying with
``ts_event <= t`` and ``ts_known <= t``, of one source, with every quote of it known by ``t``.
Unless a source is asked for, a real source's snapshot wins over a simulated one (as for bars:
simulated data never shadows real data), and among real sources the latest snapshot wins.
"""

from __future__ import annotations

import glob
import threading
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from sextant_common.events import OptionQuote
from sextant_datasets.facts.store import FactSet, FactWriter, partition_dir
from sextant_datasets.lake.reader import REAL_SOURCES_FIRST, thread_cursor

_TS = pa.timestamp("us", tz="UTC")

OPTIONS = FactSet(
    name="options",
    model=OptionQuote,
    schema=pa.schema(
        [
            ("contract", pa.string()),
            ("underlying", pa.string()),
            ("expiry", pa.date32()),
            ("strike", pa.float64()),
            ("right", pa.string()),
            ("style", pa.string()),
            ("multiplier", pa.float64()),
            ("ts_event", _TS),
            ("bid", pa.float64()),
            ("ask", pa.float64()),
            ("last", pa.float64()),
            ("volume", pa.float64()),
            ("open_interest", pa.float64()),
            ("implied_vol", pa.float64()),
            ("underlying_price", pa.float64()),
            ("source", pa.string()),
            ("ts_known", _TS),
        ]
    ),
    partition=lambda quote: partition_dir("underlying", quote.underlying),
    key=("source", "contract", "ts_event"),
    identity=("source", "contract", "ts_event"),
    event_time="ts_event",
)


def option_writer(lake_dir: Path) -> FactWriter:
    """The writer of option quotes under ``lake_dir``."""
    return FactWriter(lake_dir, (OPTIONS,))


@dataclass(frozen=True)
class StoredChain:
    """One snapshot of a chain: when it was taken, by which source, its expiries and the quotes
    asked for (every expiry's, or one's), ordered by expiry, strike, right."""

    underlying: str
    snapshot: datetime
    source: str
    expiries: list[date]
    quotes: list[dict[str, Any]]


class OptionChainReader:
    """DuckDB over the stored snapshots; safe to call from many threads."""

    def __init__(self, lake_dir: Path) -> None:
        self.root = lake_dir / OPTIONS.name  # (``right`` is an SQL keyword: names are quoted)
        self._db = duckdb.connect(":memory:")
        self._db.execute("SET TimeZone = 'UTC'")
        self._local = threading.local()

    def chain(
        self,
        underlying: str,
        as_of: datetime,
        *,
        expiry: date | None = None,
        source: str | None = None,
    ) -> StoredChain | None:
        """The latest snapshot of ``underlying`` at or before ``as_of`` (None when there is
        none); its quotes of ``expiry`` only when given (none when it is not listed)."""
        pattern = str(self.root / partition_dir("underlying", underlying) / "*.parquet")
        if next(glob.iglob(pattern), None) is None:
            return None
        files = f"read_parquet('{pattern}', hive_partitioning = false, union_by_name = true)"
        cursor = thread_cursor(self._db, self._local)
        params: dict[str, Any] = {"as_of": as_of, "source": source}
        known = "ts_event <= $as_of AND ts_known <= $as_of"
        latest = cursor.execute(
            f"""
            SELECT ts_event, source FROM {files}
            WHERE {known} AND ($source IS NULL OR source = $source)
            ORDER BY source = $simulated, ts_event DESC, source LIMIT 1
            """,  # noqa: S608 lake path (percent-encoded); values bound
            {**params, "simulated": REAL_SOURCES_FIRST},
        ).fetchone()
        if latest is None:
            return None
        snapshot, chosen = latest
        where = f"{known} AND ts_event = $snapshot AND source = $source"
        params = {"as_of": as_of, "snapshot": snapshot, "source": chosen}
        expiries = [
            row[0]
            for row in cursor.execute(
                f"SELECT DISTINCT expiry FROM {files} WHERE {where} ORDER BY expiry",  # noqa: S608 lake path (percent-encoded); values bound
                params,
            ).fetchall()
        ]
        result = cursor.execute(
            f"""
            SELECT {", ".join(f'"{name}"' for name in OPTIONS.schema.names)} FROM {files}
            WHERE {where} AND ($expiry IS NULL OR expiry = $expiry)
            ORDER BY expiry, strike, "right"
            """,  # noqa: S608 lake path (percent-encoded); values bound
            {**params, "expiry": expiry},
        )
        names = [d[0] for d in result.description]
        quotes = [dict(zip(names, row, strict=True)) for row in result.fetchall()]
        return StoredChain(underlying, snapshot, chosen, expiries, quotes)
