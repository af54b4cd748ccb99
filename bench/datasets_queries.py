"""Lake query latency before and after compaction, on 500 symbols x 10 years of daily bars.

Builds a synthetic lake (source="bench", every weekday of 2015-2024) through ``LakeWriter`` the
way production fills it: a backfill flushed once per year for all symbols (one file per
``year=Y`` partition), then the last 11 weekdays of 2024 appended one flush per day, as the live
consumer does (12 files in each 2024 partition). Then measures DuckDB query latency (p50/p95,
up to 50 runs each, capped at ~4 s per measurement) for:
- ``one_symbol_10y_lakereader``: one symbol's 10 years as of now, through ``LakeReader.bars``;
- ``cross_section_*``: all 500 symbols on 2024-12-20, three ways:
  ``manifest`` (``ColdStorageManager.read``: lists only the 500 ``year=2024`` directories),
  ``hive_pruned`` (one recursive glob with ``hive_partitioning`` and ``year = 2024``) and
  ``glob`` (one recursive glob filtered on ``ts_event`` only: every file's footer is read);
before and after ``ColdStorageManager.compact`` with its default policy (which merges only the
fragmented 2024 partitions). Prints one JSON object; never asserts wall-clock numbers.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sextant_common.events import Bar
from sextant_datasets.cold import ColdStorageManager
from sextant_datasets.lake.reader import BarsQuery, LakeReader
from sextant_datasets.lake.writer import LakeWriter

SYMBOLS = [f"B{i:03d}" for i in range(500)]
FIRST_YEAR, YEARS = 2015, 10
RUNS = 50
BUDGET_S = 4.0
"""Stop a measurement after this long (at least 3 runs): the unpruned glob reads every footer."""
LIVE_FROM = datetime(2024, 12, 17, tzinfo=UTC)
"""Bars from here on arrive one flush per day; earlier ones come from the yearly backfill."""
DAY = datetime(2024, 12, 20, tzinfo=UTC)
NOW = datetime(2100, 1, 1, tzinfo=UTC)


def bars_between(first: datetime, end: datetime) -> list[Bar]:
    """Every symbol's weekday bars in [first, end). Built with ``model_construct``: the values
    are valid by construction, and validating 1.3M bars would take a third of the run."""
    days = [
        first + timedelta(days=n)
        for n in range((end - first).days)
        if (first + timedelta(days=n)).weekday() < 5
    ]
    bars = []
    for s, symbol in enumerate(SYMBOLS):
        for day in days:
            close = 50.0 + (s * 7 + day.toordinal()) % 100
            bars.append(
                Bar.model_construct(
                    instrument_id=symbol,
                    asset_class="equity",
                    interval="1d",
                    ts_event=day,
                    open=close,
                    high=close * 1.01,
                    low=close * 0.99,
                    close=close,
                    volume=1e6,
                    source="bench",
                    ts_known=day + timedelta(hours=22),
                    revision=0,
                )
            )
    return bars


def build_lake(root: Path) -> dict[str, Any]:
    writer = LakeWriter(root)
    began = time.perf_counter()
    results = []
    for year in range(FIRST_YEAR, FIRST_YEAR + YEARS):  # the backfill: one flush per year
        first = datetime(year, 1, 1, tzinfo=UTC)
        results.append(
            writer.write(bars_between(first, min(first.replace(year=year + 1), LIVE_FROM)))
        )
    day, end = LIVE_FROM, datetime(FIRST_YEAR + YEARS, 1, 1, tzinfo=UTC)
    while day < end:  # live: one flush per trading day
        if day.weekday() < 5:
            results.append(writer.write(bars_between(day, day + timedelta(days=1))))
        day += timedelta(days=1)
    return {
        "rows": sum(r.written for r in results),
        "files": sum(r.files for r in results),
        "flushes": len(results),
        "seconds": round(time.perf_counter() - began, 1),
    }


def latency(fn: Callable[[], int]) -> dict[str, Any]:
    """p50/p95 in milliseconds over up to RUNS calls (BUDGET_S at most) after one warm-up."""
    rows = fn()
    samples: list[float] = []
    deadline = time.perf_counter() + BUDGET_S
    while len(samples) < RUNS and (len(samples) < 3 or time.perf_counter() < deadline):
        began = time.perf_counter()
        rows = fn()
        samples.append((time.perf_counter() - began) * 1000)
    samples.sort()
    return {
        "p50_ms": round(statistics.median(samples), 2),
        "p95_ms": round(samples[int(0.95 * (len(samples) - 1))], 2),
        "runs": len(samples),
        "rows": rows,
    }


def measure(root: Path) -> dict[str, Any]:
    reader = LakeReader(root)
    manager = ColdStorageManager(root)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    glob = str(root / "bars" / "interval=1d" / "symbol=*" / "**" / "*.parquet")
    one = BarsQuery(SYMBOLS[0], "1d", datetime(2000, 1, 1, tzinfo=UTC), NOW, NOW)

    def hive_pruned() -> int:
        sql = f"""SELECT count(*) FROM read_parquet('{glob}', hive_partitioning = true,
                      hive_types = {{'year': INTEGER}})
                  WHERE year = $year AND ts_event = $day"""
        return int(con.execute(sql, {"year": DAY.year, "day": DAY}).fetchall()[0][0])

    def unpruned() -> int:
        sql = f"""SELECT count(*) FROM read_parquet('{glob}', hive_partitioning = false)
                  WHERE ts_event = $day"""
        return int(con.execute(sql, {"day": DAY}).fetchall()[0][0])

    stats = manager.stats(interval="1d").public()
    return {
        "files": stats["files"],
        "files_per_partition": round(stats["files"] / stats["partitions"], 2),
        "files_per_2024_partition": len(list(root.glob("bars/interval=1d/*/year=2024/*.parquet")))
        / len(SYMBOLS),
        "bytes": stats["bytes"],
        "one_symbol_10y_lakereader": latency(lambda: len(reader.bars(one)[1])),
        "cross_section_manifest": latency(lambda: manager.read(SYMBOLS, "1d", DAY, DAY).num_rows),
        "cross_section_hive_pruned": latency(hive_pruned),
        "cross_section_glob": latency(unpruned),
    }


def main() -> None:
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sextant-bench-lake-") as tmp:
        root = Path(tmp)
        build = build_lake(root)
        before = measure(root)
        compaction = ColdStorageManager(root, grace_seconds=0).compact()
        after = measure(root)
    print(
        json.dumps(
            {
                "lake": {"symbols": len(SYMBOLS), "years": YEARS, **build},
                "before_compaction": before,
                "compaction": {
                    "seconds": compaction.seconds,
                    "partitions": compaction.partitions_compacted,
                    "files_before": compaction.files_before,
                    "files_after": compaction.files_after,
                    "rows": compaction.rows_after,
                },
                "after_compaction": after,
                "total_seconds": round(time.perf_counter() - began, 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
