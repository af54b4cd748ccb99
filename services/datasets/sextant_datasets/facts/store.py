"""Point-in-time storage of the fetched datasets (fundamentals, macro, news, signals).

Layout: ``<root>/<dataset>/<column>=<value>/part-*.parquet``, one column per dataset, its value
percent-encoded (series ids hold ``:`` and ``/``). Every row carries what its event carries:
event time (``period_end``, ``period``, ``ts_published`` or ``ts_event``), knowledge time
``ts_known`` and, where the model has one, ``revision``.

Natural keys (a row is stored once per key; a redelivered or re-fetched record with the same key
is dropped, the first one stored wins):

* fundamentals: (source, entity_id, concept, unit, period_start, period_end, filing_id,
  revision) — a fact of one filing; a restatement has a higher revision or another filing.
* macro: (source, series_id, period, revision, ts_known) — one vintage of one period. FRED
  numbers vintages, but a fetch "as of today" says revision 0 with ``ts_known`` = that day, so
  two such fetches on different days are two vintages.
* news: (source, item_id) — an article is known from the first time it was stored.
* signals: (source, signal, subject, ts_event) — one reading.

As-of rule: a row is visible as of ``t`` when ``ts_known <= t``; of the visible rows sharing
an identity (the key without revision and ``ts_known``), the one learned last wins (latest
``ts_known``, then highest revision). Asked as of before a record was learned, it is absent.

Writes reuse the bar writer's crash safety: hidden temp files, syncfs, rename, syncfs.
"""

from __future__ import annotations

import glob
import os
import threading
import urllib.parse
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from sextant_common.events import AltSignal, Event, Fundamental, MacroObservation, NewsItem
from sextant_datasets.lake.reader import thread_cursor
from sextant_datasets.lake.writer import sync_filesystem, write_temp_file

_TS = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class FactSet:
    """One fetched dataset: its event model, file schema, partitioning and natural key."""

    name: str
    model: type[Event]
    schema: pa.Schema
    partition: Callable[[Any], str]
    """The partition directory (``column=value``) of one event."""
    key: tuple[str, ...]
    """Natural key columns: a row is stored once per key."""
    identity: tuple[str, ...]
    """The key without revision and knowledge time: as of a time, one row per identity."""
    event_time: str
    """The column holding event time (range filters apply to it)."""

    def key_of(self, row: dict[str, Any]) -> tuple[Any, ...]:
        """The natural key of a row (a dumped event or a row read back)."""
        return tuple(row[column] for column in self.key)


def _quoted(column: str, value: str) -> str:
    return f"{column}={urllib.parse.quote(value, safe='')}"


FUNDAMENTALS = FactSet(
    name="fundamentals",
    model=Fundamental,
    schema=pa.schema(
        [
            ("entity_id", pa.string()),
            ("concept", pa.string()),
            ("value", pa.float64()),
            ("unit", pa.string()),
            ("period_start", _TS),
            ("period_end", _TS),
            ("fiscal_year", pa.int64()),
            ("fiscal_period", pa.string()),
            ("form", pa.string()),
            ("filing_id", pa.string()),
            ("source", pa.string()),
            ("ts_known", _TS),
            ("revision", pa.int64()),
        ]
    ),
    partition=lambda e: _quoted("entity", e.entity_id),
    key=(
        "source",
        "entity_id",
        "concept",
        "unit",
        "period_start",
        "period_end",
        "filing_id",
        "revision",
    ),
    identity=("source", "entity_id", "concept", "unit", "period_start", "period_end"),
    event_time="period_end",
)

MACRO = FactSet(
    name="macro",
    model=MacroObservation,
    schema=pa.schema(
        [
            ("series_id", pa.string()),
            ("period", _TS),
            ("frequency", pa.string()),
            ("value", pa.float64()),
            ("units", pa.string()),
            ("source", pa.string()),
            ("ts_known", _TS),
            ("revision", pa.int64()),
        ]
    ),
    partition=lambda e: _quoted("series", e.series_id),
    key=("source", "series_id", "period", "revision", "ts_known"),
    identity=("source", "series_id", "period"),
    event_time="period",
)

NEWS = FactSet(
    name="news",
    model=NewsItem,
    schema=pa.schema(
        [
            ("item_id", pa.string()),
            ("ts_published", _TS),
            ("title", pa.string()),
            ("summary", pa.string()),
            ("url", pa.string()),
            ("publisher", pa.string()),
            ("instruments", pa.list_(pa.string())),
            ("sentiment", pa.float64()),
            ("source", pa.string()),
            ("ts_known", _TS),
        ]
    ),
    partition=lambda e: f"year={e.ts_published.year}/month={e.ts_published.month:02d}",
    key=("source", "item_id"),
    identity=("source", "item_id"),
    event_time="ts_published",
)

SIGNALS = FactSet(
    name="signals",
    model=AltSignal,
    schema=pa.schema(
        [
            ("signal", pa.string()),
            ("subject", pa.string()),
            ("ts_event", _TS),
            ("value", pa.float64()),
            ("raw_value", pa.float64()),
            ("samples", pa.int64()),
            ("method", pa.string()),
            ("source", pa.string()),
            ("ts_known", _TS),
        ]
    ),
    partition=lambda e: _quoted("subject", e.subject),
    key=("source", "signal", "subject", "ts_event"),
    identity=("source", "signal", "subject", "ts_event"),
    event_time="ts_event",
)

FACT_SETS: tuple[FactSet, ...] = (FUNDAMENTALS, MACRO, NEWS, SIGNALS)


@dataclass(frozen=True)
class FactsWritten:
    """What one :meth:`FactWriter.write` did, per dataset name."""

    written: dict[str, int]
    duplicates: dict[str, int]


class FactWriter:
    """Appends fetched events of ``fact_sets`` (default: the four fetched datasets) under
    ``root`` exactly once per natural key.

    The keys already stored are loaded per partition on first touch and kept (these datasets
    are small next to bars); one file per touched partition per write.
    """

    def __init__(self, root: Path, fact_sets: Iterable[FactSet] = FACT_SETS) -> None:
        self.root = root
        self._by_topic = {fact_set.model.TOPIC: fact_set for fact_set in fact_sets}
        self._known: dict[Path, set[tuple[Any, ...]]] = {}

    def fact_set_of(self, topic: str) -> FactSet:
        """The fact set whose events arrive on ``topic``; ValueError when it has none."""
        try:
            return self._by_topic[topic]
        except KeyError:
            raise ValueError(
                f"no fact set for topic {topic!r}; this writer keeps {sorted(self._by_topic)}"
            ) from None

    def write(self, events: Iterable[Event]) -> FactsWritten:
        """Store the events not stored yet; durable when this returns."""
        grouped: dict[tuple[FactSet, Path], list[dict[str, Any]]] = defaultdict(list)
        for event in events:
            fact_set = self._by_topic[event.TOPIC]
            directory = self.root / fact_set.name / fact_set.partition(event)
            grouped[(fact_set, directory)].append(event.model_dump())
        written: dict[str, int] = defaultdict(int)
        duplicates: dict[str, int] = defaultdict(int)
        renames: list[tuple[Path, Path]] = []
        touched: list[Path] = []
        try:
            for (fact_set, directory), rows in grouped.items():
                known = self._known_keys(fact_set, directory)
                touched.append(directory)
                fresh = []
                for row in rows:
                    key = fact_set.key_of(row)
                    if key in known:
                        duplicates[fact_set.name] += 1
                        continue
                    known.add(key)
                    fresh.append(row)
                if fresh:
                    directory.mkdir(parents=True, exist_ok=True)
                    table = pa.Table.from_pylist(fresh, schema=fact_set.schema)
                    renames.append(write_temp_file(directory, table))
                    written[fact_set.name] += len(fresh)
            if renames:
                sync_filesystem(self.root)
                for tmp, final in renames:
                    os.replace(tmp, final)
                sync_filesystem(self.root)
        except BaseException:
            for directory in touched:  # keys were marked stored: relearn them from disk
                self._known.pop(directory, None)
            raise
        return FactsWritten(dict(written), dict(duplicates))

    def _known_keys(self, fact_set: FactSet, directory: Path) -> set[tuple[Any, ...]]:
        known = self._known.get(directory)
        if known is None:
            files = sorted(directory.glob("*.parquet")) if directory.is_dir() else []
            rows = (
                pq.read_table(files, columns=list(fact_set.key), partitioning=None).to_pylist()
                if files
                else []
            )
            known = self._known[directory] = {fact_set.key_of(row) for row in rows}
        return known


@dataclass(frozen=True)
class FactQuery:
    """An as-of read of one dataset: ``where`` holds column = value filters (None: any);
    ``start``/``end`` bound the event time (inclusive)."""

    fact_set: FactSet
    as_of: datetime
    where: dict[str, str | None]
    partition: str | None = None
    """One partition directory to read (``column=value``), or None for all of them."""
    start: datetime | None = None
    end: datetime | None = None
    instrument: str | None = None
    """News only: articles tagged with this instrument."""
    limit: int | None = None


class FactReader:
    """DuckDB over the fetched datasets' files; safe to call from many threads."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._db = duckdb.connect(":memory:")
        self._db.execute("SET TimeZone = 'UTC'")
        self._local = threading.local()

    def read(self, query: FactQuery) -> list[dict[str, Any]]:
        """The rows known as of ``query.as_of``, one per identity, by event time (newest first
        for news, oldest first otherwise)."""
        fact_set = query.fact_set
        base = self.root / fact_set.name
        pattern = str(base / query.partition / "*.parquet") if query.partition else None
        if pattern is None:
            pattern = str(base / "**" / "*.parquet")
        if next(glob.iglob(pattern, recursive=True), None) is None:
            return []
        conditions = ["ts_known <= $as_of"]
        params: dict[str, Any] = {"as_of": query.as_of}
        for i, (column, value) in enumerate(query.where.items()):
            if value is not None:
                conditions.append(f"{column} = $w{i}")
                params[f"w{i}"] = value
        if query.start is not None:
            conditions.append(f"{fact_set.event_time} >= $start")
            params["start"] = query.start
        if query.end is not None:
            conditions.append(f"{fact_set.event_time} <= $end")
            params["end"] = query.end
        if query.instrument is not None:
            conditions.append("list_contains(instruments, $instrument)")
            params["instrument"] = query.instrument
        latest = "ts_known DESC" + (
            ", revision DESC" if "revision" in fact_set.schema.names else ""
        )
        order = "DESC" if fact_set is NEWS else "ASC"
        columns = ", ".join(fact_set.schema.names)
        sql = f"""
            SELECT {columns}
            FROM read_parquet('{pattern}', hive_partitioning = false, union_by_name = true)
            WHERE {" AND ".join(conditions)}
            QUALIFY row_number() OVER (
                PARTITION BY {", ".join(fact_set.identity)} ORDER BY {latest}) = 1
            ORDER BY {fact_set.event_time} {order}, {", ".join(fact_set.identity)}
            {f"LIMIT {int(query.limit)}" if query.limit is not None else ""}
        """  # noqa: S608 schema names + lake path; values bound
        cursor = thread_cursor(self._db, self._local)
        try:
            result = cursor.execute(sql, params)
        except duckdb.IOException:  # a file vanished between listing and reading: once more
            result = cursor.execute(sql, params)
        names = [d[0] for d in result.description]
        return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def partition_dir(column: str, value: str) -> str:
    """The partition directory (``column=value``, value percent-encoded) of rows whose
    partition column has ``value`` (e.g. ``partition_dir("entity", "AAPL")``)."""
    return _quoted(column, value)
