"""Point-in-time reads of the lake with DuckDB.

An as-of query keeps only rows known at or before ``as_of`` (``ts_known <= as_of``) and, per bar,
the highest revision among them: exactly what Sextant knew at that instant, nothing later.
"""

from __future__ import annotations

import glob
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from sextant_datasets.lake.layout import bars_glob

REAL_SOURCES_FIRST = "simulated"
"""When a symbol has several sources and none is asked for, any real source wins over this one."""

BAR_COLUMNS = (
    "ts_event",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "source",
    "revision",
    "ts_known",
)


def thread_cursor(
    db: duckdb.DuckDBPyConnection, local: threading.local
) -> duckdb.DuckDBPyConnection:
    """This thread's cursor on ``db`` (kept in ``local``; created on first use, in UTC)."""
    cursor: duckdb.DuckDBPyConnection | None = getattr(local, "cursor", None)
    if cursor is None:
        cursor = local.cursor = db.cursor()
        cursor.execute("SET TimeZone = 'UTC'")
    return cursor


class UnknownSymbol(LookupError):
    """No bars at all are stored for the symbol (in the asked interval / source)."""


@dataclass(frozen=True)
class BarsQuery:
    """One point-in-time history request. ``start``/``end`` are inclusive bar-start bounds."""

    symbol: str
    interval: str
    start: datetime
    end: datetime
    as_of: datetime
    source: str | None = None


@dataclass(frozen=True)
class CatalogEntry:
    """What the lake holds for one (instrument, source, interval)."""

    instrument_id: str
    asset_class: str
    source: str
    interval: str
    first: datetime
    last: datetime
    rows: int


class LakeReader:
    """DuckDB over the Parquet files under ``root``; safe to call from many threads."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._db = duckdb.connect(":memory:")
        self._db.execute("SET TimeZone = 'UTC'")
        self._local = threading.local()

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        return thread_cursor(self._db, self._local)

    def _has_files(self, interval: str | None, symbol: str | None) -> bool:
        return (
            next(glob.iglob(bars_glob(self.root, interval, symbol), recursive=True), None)
            is not None
        )

    def _query(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Run ``sql``; retried once when compaction deleted a file DuckDB had already listed
        (the merged file holding the same rows is in place by then)."""
        try:
            return self._cursor().execute(sql, params).fetchall()
        except duckdb.IOException:
            return self._cursor().execute(sql, params).fetchall()

    def sources(self, symbol: str, interval: str) -> list[str]:
        """Sources that have bars for ``symbol`` at ``interval``, preferred first."""
        if not self._has_files(interval, symbol):
            return []
        rows = self._query(
            "SELECT DISTINCT source FROM read_parquet("  # noqa: S608 lake path of a validated id; values bound
            f"'{bars_glob(self.root, interval, symbol)}', hive_partitioning = false)"
        )
        return sorted((r[0] for r in rows), key=lambda s: (s == REAL_SOURCES_FIRST, s))

    def bars(self, query: BarsQuery) -> tuple[str, list[tuple[Any, ...]]]:
        """The as-of bars of ``query`` as rows of :data:`BAR_COLUMNS`, and the source used.

        Raises :class:`UnknownSymbol` when nothing is stored for the symbol, interval or source.
        """
        if not self._has_files(None, query.symbol):
            raise UnknownSymbol(f"unknown symbol {query.symbol!r}: no bars stored")
        available = self.sources(query.symbol, query.interval)
        if not available:
            raise UnknownSymbol(f"no {query.interval} bars stored for {query.symbol!r}")
        source = query.source or available[0]
        if source not in available:
            raise UnknownSymbol(
                f"no {query.interval} bars for {query.symbol!r} from source {source!r} "
                f"(available: {', '.join(available)})"
            )
        sql = f"""
            SELECT strftime(ts_event, '%Y-%m-%dT%H:%M:%SZ'), open, high, low, close, volume,
                   source, revision, strftime(ts_known, '%Y-%m-%dT%H:%M:%S.%fZ')
            FROM read_parquet('{bars_glob(self.root, query.interval, query.symbol)}',
                              hive_partitioning = false)
            WHERE source = $source AND ts_event BETWEEN $start AND $end AND ts_known <= $as_of
            QUALIFY row_number() OVER (PARTITION BY ts_event ORDER BY revision DESC) = 1
            ORDER BY ts_event
        """  # noqa: S608 lake path of a validated id; values bound
        params = {
            "source": source,
            "start": query.start,
            "end": query.end,
            "as_of": query.as_of,
        }
        return source, self._query(sql, params)

    def catalog(self) -> list[CatalogEntry]:
        """Every (instrument, source, interval) stored, with its time span and row count."""
        if not self._has_files(None, None):
            return []
        rows = self._query(
            f"""SELECT instrument_id, any_value(asset_class), source, interval,
                       min(ts_event), max(ts_event), count(*)
                FROM read_parquet('{bars_glob(self.root)}', hive_partitioning = false)
                GROUP BY instrument_id, source, interval"""  # noqa: S608 lake path of a validated id; values bound
        )
        return [CatalogEntry(*row) for row in rows]
