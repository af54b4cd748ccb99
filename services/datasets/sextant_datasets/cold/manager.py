"""``ColdStorageManager``: upkeep and bulk reads of the bars lake on local Parquet.

Safety against the writer and readers running concurrently in the same process:

* Compaction never changes what a reader can see mid-file: the merged file is written under a
  hidden temp name, synced, renamed in (``compact-<uuid>.parquet``) and synced again.
* Its inputs are deleted only ``grace_seconds`` later. DuckDB expands a glob when a query is
  bound and opens the files afterwards, so a file deleted in between fails the query
  ("Cannot open file"); the grace period outlasts that window. Meanwhile a reader may see the
  old files *and* the merged one, i.e. every row twice. That is harmless to bar queries:
  ``LakeReader.bars`` keeps one row per ``ts_event`` of one source (``QUALIFY row_number()``),
  and :meth:`ColdStorageManager.read` keeps one per (instrument, source, ts_event). Row counts
  that sum over files (``LakeReader.catalog``, :meth:`stats`) can be briefly high.
* A file the writer adds while a partition is compacted is not an input, so it is kept. The
  writer's cache of known keys stays valid: compaction drops only exact natural-key duplicates.
* One compaction at a time per lake (an ``flock`` on ``<root>/.compaction.lock``). A crash
  between rename and delete leaves exact duplicates on disk, which the next compaction removes.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from sextant_common.events import Interval
from sextant_datasets.cold import calendars
from sextant_datasets.cold.compaction import (
    CompactionPolicy,
    CompactionResult,
    PartitionCompaction,
    compact_to_temp,
)
from sextant_datasets.cold.gaps import (
    GapReport,
    IntradayGapReport,
    build_intraday_report,
    build_report,
)
from sextant_datasets.cold.integrity import IntegrityReport, check_integrity
from sextant_datasets.cold.inventory import (
    COMPACTED_PREFIX,
    PartitionFiles,
    has_files,
    partition_dirs,
    scan,
    visible_files,
)
from sextant_datasets.lake.layout import BAR_SCHEMA, BARS_DATASET
from sextant_datasets.lake.reader import (
    BAR_COLUMNS,
    REAL_SOURCES_FIRST,
    UnknownSymbol,
    thread_cursor,
)
from sextant_datasets.lake.writer import sync_filesystem

BATCH_PARTITIONS = 256
"""Partitions merged between two filesystem syncs (one ``syncfs`` pair per batch)."""

READ_ATTEMPTS = 3
"""A read whose listed file was deleted by compaction before DuckDB opened it is re-listed."""

READ_COLUMNS = ("instrument_id", *BAR_COLUMNS)
"""Columns of the table :meth:`ColdStorageManager.read` returns."""


@dataclass(frozen=True)
class SeriesStats:
    """Storage used by one (dataset, interval, symbol)."""

    dataset: str
    interval: str
    symbol: str
    partitions: int
    files: int
    compacted_files: int
    max_files_per_partition: int
    bytes: int
    rows: int


@dataclass
class StorageStats:
    """Files, bytes and rows per (dataset, interval, symbol), and their totals."""

    series: list[SeriesStats] = field(default_factory=list)
    unreadable_files: int = 0
    """Files whose footer could not be read; their rows are not counted."""

    def public(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "partitions": sum(s.partitions for s in self.series),
            "files": sum(s.files for s in self.series),
            "bytes": sum(s.bytes for s in self.series),
            "rows": sum(s.rows for s in self.series),
            "unreadable_files": self.unreadable_files,
            "series": [s.__dict__ for s in self.series],
        }


class ColdStorageManager:
    """Compaction, cross-partition reads, stats, integrity and gap reports over ``root``.

    ``grace_seconds`` is how long compacted inputs stay on disk after the merged file is renamed
    in (see the module docstring). Thread-safe.
    """

    def __init__(
        self,
        root: Path,
        *,
        grace_seconds: float = 5.0,
        policy: CompactionPolicy | None = None,
        workers: int = 8,
    ) -> None:
        if grace_seconds < 0:
            raise ValueError(f"grace_seconds must be >= 0, got {grace_seconds}")
        self.root = root
        self.grace_seconds = grace_seconds
        self.policy = policy or CompactionPolicy()
        self._workers = workers
        self._db = duckdb.connect(":memory:")
        self._local = threading.local()
        self._compacting = threading.Lock()
        self._gate = _DeletionGate()

    # -- compaction ---------------------------------------------------------------------------

    def compact(
        self,
        *,
        symbol: str | None = None,
        interval: str | None = None,
        policy: CompactionPolicy | None = None,
    ) -> CompactionResult:
        """Merge the files of every partition ``policy`` selects (default: the manager's) into
        one file each, optionally only for one symbol and/or interval. Blocks until the inputs
        are deleted, ``grace_seconds`` after the last merged file was renamed in."""
        policy = policy or self.policy
        began = time.monotonic()
        result = CompactionResult()
        with self._exclusive():
            partitions = scan(self.root, interval=interval, symbol=symbol)
            result.partitions_scanned = len(partitions)
            _remove_stale_temp_files(partitions)
            wanted = [p for p in partitions if policy.wants(p)]
            retired: list[tuple[float, tuple[Path, ...]]] = []
            with ThreadPoolExecutor(self._workers, thread_name_prefix="lake-compact") as pool:
                for first in range(0, len(wanted), BATCH_PARTITIONS):
                    batch = wanted[first : first + BATCH_PARTITIONS]
                    merged = self._merge_batch(pool, batch, result)
                    retired.extend((time.monotonic(), m.inputs) for m in merged)
            if retired:
                time.sleep(max(0.0, retired[-1][0] + self.grace_seconds - time.monotonic()))
            with self._gate.deleting():
                for _, inputs in retired:
                    for path in inputs:
                        with contextlib.suppress(FileNotFoundError):
                            path.unlink()
        result.seconds = round(time.monotonic() - began, 3)
        return result

    def _merge_batch(
        self, pool: ThreadPoolExecutor, batch: Sequence[PartitionFiles], result: CompactionResult
    ) -> list[PartitionCompaction]:
        def attempt(partition: PartitionFiles) -> PartitionCompaction | str:
            try:
                return compact_to_temp(partition)
            except ValueError as exc:
                return str(exc)

        merged: list[PartitionCompaction] = []
        for partition, outcome in zip(batch, pool.map(attempt, batch), strict=True):
            if isinstance(outcome, str):
                where = str(partition.directory.relative_to(self.root))
                result.skipped.append({"directory": where, "reason": outcome})
            else:
                merged.append(outcome)
        if not merged:
            return merged
        sync_filesystem(self.root)  # the merged files' bytes are durable before they appear
        for item in merged:
            os.replace(item.tmp, item.compacted)
            result.add(item)
        sync_filesystem(self.root)  # ... and the renames before any input is deleted
        return merged

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with self._compacting, open(self.root / ".compaction.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    # -- reads --------------------------------------------------------------------------------

    def read(
        self,
        symbols: Sequence[str],
        interval: str,
        start: datetime,
        end: datetime,
        *,
        as_of: datetime | None = None,
        source: str | None = None,
    ) -> pa.Table:
        """Bars of ``symbols`` with start in [start, end] (inclusive, aware datetimes), each at
        its latest revision known at ``as_of`` (default: everything stored), as a table of
        :data:`READ_COLUMNS` sorted by (instrument_id, ts_event).

        Only the partition directories that can hold the range are listed (no recursive glob),
        so a one-day cross-section of 500 symbols opens 500 files, not every year's. Without
        ``source``, each symbol's series comes from one source, a real one before
        ``simulated`` (as ``LakeReader.bars`` chooses).
        """
        if end < start:
            raise ValueError(f"end ({end.isoformat()}) is before start ({start.isoformat()})")
        symbols = list(dict.fromkeys(symbols))
        sql = f"""
            WITH known AS (
                SELECT {", ".join(READ_COLUMNS)}
                FROM read_parquet($files, hive_partitioning = false)
                WHERE interval = $interval AND instrument_id IN (SELECT unnest($symbols))
                  AND ts_event BETWEEN $start AND $end AND ts_known <= $as_of
                  {"AND source = $source" if source else ""}
                QUALIFY row_number() OVER (
                    PARTITION BY instrument_id, source, ts_event ORDER BY revision DESC) = 1
            )
            SELECT * FROM known
            {"" if source else _ONE_SOURCE_PER_SYMBOL}
            ORDER BY instrument_id, ts_event
        """  # noqa: S608 constant SQL fragments; values bound
        params: dict[str, Any] = {
            "interval": interval,
            "symbols": symbols,
            "start": start,
            "end": end,
            "as_of": as_of or datetime(9999, 12, 31, tzinfo=UTC),
        }
        if source:
            params["source"] = source
        for attempt in range(READ_ATTEMPTS):
            # The gate keeps this manager's own compactions from deleting a listed file before
            # DuckDB opens it; the retry covers compactions run by another process.
            with self._gate.reading():
                files = [
                    str(f.path)
                    for directory in partition_dirs(self.root, symbols, interval, start, end)
                    for f in visible_files(directory)
                ]
                if not files:
                    break
                try:
                    relation = self._cursor().sql(sql, params={**params, "files": files})
                    table: pa.Table = relation.to_arrow_table()
                except duckdb.IOException:
                    if attempt == READ_ATTEMPTS - 1:  # not a passing compaction race: report it
                        raise
                    continue
            return table.select(list(READ_COLUMNS))
        return _empty_read_table()

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        return thread_cursor(self._db, self._local)

    # -- stats and integrity ------------------------------------------------------------------

    def has_symbol(self, symbol: str, interval: str | None = None) -> bool:
        """Whether any file is stored for ``symbol`` (at ``interval`` when given)."""
        return has_files(self.root, interval=interval, symbol=symbol)

    def stats(self, *, symbol: str | None = None, interval: str | None = None) -> StorageStats:
        """Partitions, files, bytes and rows (from Parquet footers) per (dataset, interval,
        symbol), optionally narrowed to one symbol and/or interval."""
        partitions = scan(self.root, interval=interval, symbol=symbol)
        paths = [f.path for p in partitions for f in p.files]
        with ThreadPoolExecutor(self._workers, thread_name_prefix="lake-stats") as pool:
            rows = dict(zip(paths, pool.map(_footer_rows, paths), strict=True))
        grouped: dict[tuple[str, str], list[PartitionFiles]] = defaultdict(list)
        for p in partitions:
            grouped[(p.partition.interval, p.partition.symbol)].append(p)
        stats = StorageStats(unreadable_files=sum(r is None for r in rows.values()))
        for (series_interval, series_symbol), parts in sorted(grouped.items()):
            files = [f for p in parts for f in p.files]
            stats.series.append(
                SeriesStats(
                    dataset=BARS_DATASET,
                    interval=series_interval,
                    symbol=series_symbol,
                    partitions=len(parts),
                    files=len(files),
                    compacted_files=sum(f.path.name.startswith(COMPACTED_PREFIX) for f in files),
                    max_files_per_partition=max(len(p.files) for p in parts),
                    bytes=sum(f.bytes for f in files),
                    rows=sum(rows[f.path] or 0 for f in files),
                )
            )
        return stats

    def integrity(
        self, *, symbol: str | None = None, interval: str | None = None
    ) -> IntegrityReport:
        """Check every file (readable, schema, sha256, partition of each row) and look for
        natural keys stored twice; see :mod:`sextant_datasets.cold.integrity`."""
        return check_integrity(self.root, scan(self.root, interval=interval, symbol=symbol))

    # -- gaps ---------------------------------------------------------------------------------

    def gap_report(
        self,
        symbol: str,
        interval: str = "1d",
        start: date | datetime | None = None,
        end: date | datetime | None = None,
        *,
        calendar: str | None = None,
        source: str | None = None,
        now: datetime | None = None,
    ) -> GapReport | IntradayGapReport:
        """Holes in the stored series of ``symbol`` on ``calendar`` over [start, end].

        Daily bars: a :class:`GapReport` of sessions without a bar (a session counts as stored
        when a bar starts on that UTC date). Intraday bars: an :class:`IntradayGapReport` of
        bars missing inside the sessions, e.g. a 35 s hole in 5 s bars (see
        :mod:`sextant_datasets.cold.gaps`). ``calendar`` defaults from the stored
        ``asset_class`` (equity/etf/index: XNYS, crypto: 24/7, fx: 24/5); ``source`` defaults as
        in ``LakeReader.bars``; ``start``/``end`` (inclusive; dates or aware datetimes, a date
        ``end`` covering its day) default to the first/last stored bar, so history before the
        first bar is not a gap, and never reach past ``now`` for intraday bars.

        Raises :class:`UnknownSymbol` when nothing is stored for the symbol, interval or source,
        ``calendars.UnknownCalendar`` (a ``ValueError``) for a bad calendar and ``ValueError``
        when ``end`` is before ``start`` or an intraday range is too large.
        """
        if start is not None and end is not None and _day_of(end) < _day_of(start):
            raise ValueError(f"end ({end}) is before start ({start})")
        files = self._series_files(symbol, interval)
        if interval != Interval.D1:
            return self._intraday_gap_report(
                symbol, interval, files, start, end, calendar, source, now or datetime.now(UTC)
            )
        rows = (
            self._cursor()
            .execute(
                """SELECT source, asset_class, CAST(ts_event AS DATE) AS day
                   FROM read_parquet($files, hive_partitioning = false)
                   WHERE instrument_id = $symbol AND interval = $interval
                   GROUP BY ALL""",
                {"files": files, "symbol": symbol, "interval": interval},
            )
            .fetchall()
        )
        chosen = _choose_source({r[0] for r in rows}, source, symbol, interval)
        days = sorted({r[2] for r in rows if r[0] == chosen})
        asset_class = Counter(r[1] for r in rows if r[0] == chosen).most_common(1)[0][0]
        calendar = calendar or calendars.calendar_for_asset_class(asset_class)
        first = _day_of(start) if start is not None else days[0]
        last = _day_of(end) if end is not None else days[-1]
        if last < first:
            raise ValueError(f"end ({last}) is before start ({first})")
        return build_report(
            symbol=symbol,
            interval=interval,
            source=chosen,
            calendar=calendar,
            start=first,
            end=last,
            sessions=calendars.sessions(calendar, first, last),
            stored=days,
        )

    def _series_files(self, symbol: str, interval: str) -> list[str]:
        if not self.has_symbol(symbol):
            raise UnknownSymbol(f"unknown symbol {symbol!r}: no bars stored")
        partitions = scan(self.root, interval=interval, symbol=symbol)
        files = [str(f.path) for p in partitions for f in p.files]
        if not files:
            raise UnknownSymbol(f"no {interval} bars stored for {symbol!r}")
        return files

    def _intraday_gap_report(
        self,
        symbol: str,
        interval: str,
        files: list[str],
        start: date | datetime | None,
        end: date | datetime | None,
        calendar: str | None,
        source: str | None,
        now: datetime,
    ) -> IntradayGapReport:
        step = Interval(interval).duration
        series = {"files": files, "symbol": symbol, "interval": interval}
        where = "WHERE instrument_id = $symbol AND interval = $interval"
        cursor = self._cursor()
        sources = cursor.execute(
            f"""SELECT source, asset_class, count(*) AS n
                FROM read_parquet($files, hive_partitioning = false) {where} GROUP BY ALL""",  # noqa: S608 constant SQL fragments; values bound
            series,
        ).fetchall()
        chosen = _choose_source({r[0] for r in sources}, source, symbol, interval)
        asset_class = max((r for r in sources if r[0] == chosen), key=lambda r: r[2])[1]
        calendar = calendar or calendars.calendar_for_asset_class(asset_class)
        stored: npt.NDArray[np.int64] = (
            cursor.execute(
                f"""SELECT DISTINCT epoch_ms(ts_event) AS t
                    FROM read_parquet($files, hive_partitioning = false)
                    {where} AND source = $source ORDER BY t""",  # noqa: S608 constant SQL fragments; values bound
                {**series, "source": chosen},
            )
            .fetchnumpy()["t"]
            .astype(np.int64)
        )
        first = _from_epoch_ms(int(stored[0])) if start is None else _bound(start)
        last = _from_epoch_ms(int(stored[-1])) if end is None else _bound(end, end_of_day=True)
        last = min(last, now - step)  # a bar still forming is not missing yet
        if last < first:
            raise ValueError(f"end ({last.isoformat()}) is before start ({first.isoformat()})")
        return build_intraday_report(
            symbol=symbol,
            interval=interval,
            source=chosen,
            calendar=calendar,
            start=first,
            end=last,
            step=step,
            # bars starting at or before ``last`` (epoch ms are floored: +1 ms keeps ``last``)
            windows=calendars.session_windows(calendar, first, last + timedelta(milliseconds=1)),
            stored_ms=stored,
        )


def _choose_source(available: set[str], source: str | None, symbol: str, interval: str) -> str:
    """``source`` when stored, else a real source before ``simulated``; UnknownSymbol if none."""
    ranked = sorted(available, key=lambda s: (s == REAL_SOURCES_FIRST, s))
    chosen = source or (ranked[0] if ranked else None)
    if chosen is None or chosen not in available:
        raise UnknownSymbol(
            f"no {interval} bars for {symbol!r} from source {source!r} "
            f"(available: {', '.join(ranked) or 'none'})"
        )
    return chosen


def _day_of(moment: date | datetime) -> date:
    return moment.astimezone(UTC).date() if isinstance(moment, datetime) else moment


def _bound(moment: date | datetime, *, end_of_day: bool = False) -> datetime:
    """An aware UTC datetime; a date is its midnight, or its last microsecond as an end."""
    if isinstance(moment, datetime):
        return moment.astimezone(UTC)
    midnight = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    return midnight + timedelta(days=1, microseconds=-1) if end_of_day else midnight


def _from_epoch_ms(ms: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)


class _DeletionGate:
    """Readers of this manager list files and query them inside :meth:`reading`; compaction
    deletes its inputs inside :meth:`deleting`, which waits for readers in flight and holds new
    ones back for the few milliseconds the unlinks take."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._readers = 0
        self._deleting = False

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        with self._changed:
            self._changed.wait_for(lambda: not self._deleting)
            self._readers += 1
        try:
            yield
        finally:
            with self._changed:
                self._readers -= 1
                self._changed.notify_all()

    @contextlib.contextmanager
    def deleting(self) -> Iterator[None]:
        with self._changed:
            self._changed.wait_for(lambda: not self._deleting)
            self._deleting = True
            self._changed.wait_for(lambda: self._readers == 0)
        try:
            yield
        finally:
            with self._changed:
                self._deleting = False
                self._changed.notify_all()


_ONE_SOURCE_PER_SYMBOL = f"""
    QUALIFY source = first_value(source) OVER (
        PARTITION BY instrument_id ORDER BY source = '{REAL_SOURCES_FIRST}', source
        ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
"""


def _footer_rows(path: Path) -> int | None:
    try:
        return int(pq.read_metadata(path).num_rows)
    except (OSError, pa.ArrowException):
        return None


def _remove_stale_temp_files(partitions: Sequence[PartitionFiles]) -> None:
    """Delete temp files a crashed compaction left (the caller holds the compaction lock, so
    none is in flight). The writer's own ``.part-*.tmp`` files are not touched."""
    for partition in partitions:
        for stale in partition.directory.glob(f".{COMPACTED_PREFIX}*.parquet.tmp"):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()


def _empty_read_table() -> pa.Table:
    return BAR_SCHEMA.empty_table().select(list(READ_COLUMNS))
