"""Cold storage on real files and a real DuckDB: compaction, concurrent safety, reads, stats."""

from __future__ import annotations

import shutil
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from sextant_datasets.cold import ColdStorageManager, CompactionPolicy
from sextant_datasets.cold.compaction import merge_tables
from sextant_datasets.lake.layout import BAR_SCHEMA
from sextant_datasets.lake.reader import BarsQuery, LakeReader
from sextant_datasets.lake.writer import LakeWriter, bars_to_table
from tests.support import bar_series, make_bar

FAR_PAST = datetime(2000, 1, 1, tzinfo=UTC)
FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)
FORCE = CompactionPolicy(force=True)


def files_in(root: Path) -> list[Path]:
    return sorted(root.rglob("*.parquet"))


def all_rows(root: Path) -> list[tuple[object, ...]]:
    """Every stored row (all columns) as tuples, sorted."""
    table = pq.read_table(files_in(root), partitioning=None, schema=BAR_SCHEMA)
    return sorted(tuple(r.values()) for r in table.to_pylist())


def write_in_batches(root: Path, symbols: int, days: int, batches: int) -> LakeWriter:
    """Write a series in ``batches`` flushes: each partition gets about one file per flush."""
    bars = bar_series(symbols, days)
    by_day = sorted(bars, key=lambda b: b.ts_event)
    size = -(-len(by_day) // batches)
    writer = LakeWriter(root)
    for first in range(0, len(by_day), size):
        writer.write(by_day[first : first + size])
    return writer


def test_compaction_keeps_every_row_once_and_leaves_one_file_per_partition(
    tmp_path: Path,
) -> None:
    write_in_batches(tmp_path, symbols=3, days=500, batches=10)  # 2015 and 2016 partitions
    before = all_rows(tmp_path)
    shutil.copy(files_in(tmp_path)[0], files_in(tmp_path)[0].with_name("part-copy.parquet"))
    assert len(all_rows(tmp_path)) > len(before)  # planted exact duplicates
    files_before = len(files_in(tmp_path))

    result = ColdStorageManager(tmp_path, grace_seconds=0).compact(policy=FORCE)

    assert all_rows(tmp_path) == before  # every row exactly once, values unchanged
    partitions = {p.parent for p in files_in(tmp_path)}
    assert len(partitions) == 6 and len(files_in(tmp_path)) == 6
    assert all(p.name.startswith("compact-") for p in files_in(tmp_path))
    assert (result.partitions_compacted, result.files_before, result.files_after) == (
        6,
        files_before,
        6,
    )
    assert result.rows_after == len(before)
    assert result.duplicates_dropped == result.rows_before - len(before) > 0
    assert not [p for p in tmp_path.rglob(".*") if p.name != ".compaction.lock"]


def test_compacted_files_are_sorted_by_source_event_time_revision(tmp_path: Path) -> None:
    day = datetime(2021, 3, 1, tzinfo=UTC)
    writer = LakeWriter(tmp_path)
    writer.write([make_bar("AAPL", day + timedelta(days=2), source="b")])
    writer.write([make_bar("AAPL", day, source="b", revision=1)])
    writer.write([make_bar("AAPL", day, source="b"), make_bar("AAPL", day, source="a")])
    ColdStorageManager(tmp_path, grace_seconds=0).compact(policy=FORCE)
    (only,) = files_in(tmp_path)
    rows = pq.read_table(only).select(["source", "ts_event", "revision"]).to_pylist()
    keys = [(r["source"], r["ts_event"], r["revision"]) for r in rows]
    assert keys == sorted(keys) and len(keys) == 4


def test_merge_keeps_the_earliest_known_copy_of_a_key() -> None:
    day = datetime(2021, 3, 1, tzinfo=UTC)
    early = make_bar("AAPL", day, close=100.0, ts_known=day + timedelta(hours=1))
    late = make_bar("AAPL", day, close=999.0, ts_known=day + timedelta(hours=5))
    tables = [bars_to_table([late]), bars_to_table([early])]
    merged = merge_tables(tables)
    assert merged.column("close").to_pylist() == [100.0]


def test_policy_selects_partitions_by_file_count_and_size(tmp_path: Path) -> None:
    write_in_batches(tmp_path, symbols=1, days=100, batches=3)  # one partition, three files
    manager = ColdStorageManager(tmp_path, grace_seconds=0)
    untouched = manager.compact(policy=CompactionPolicy(max_files=5, small_file_bytes=0))
    assert untouched.partitions_compacted == 0 and len(files_in(tmp_path)) == 3
    by_size = manager.compact(policy=CompactionPolicy(max_files=5, small_file_bytes=1 << 20))
    assert by_size.partitions_compacted == 1 and len(files_in(tmp_path)) == 1
    again = manager.compact(policy=FORCE)  # a single file is never rewritten
    assert again.partitions_compacted == 0 and again.partitions_scanned == 1
    with pytest.raises(ValueError, match="max_files"):
        CompactionPolicy(max_files=0)


def test_compaction_can_be_narrowed_to_one_symbol(tmp_path: Path) -> None:
    write_in_batches(tmp_path, symbols=2, days=50, batches=4)
    result = ColdStorageManager(tmp_path, grace_seconds=0).compact(symbol="S000", policy=FORCE)
    assert result.partitions_compacted == 1
    assert len(list(tmp_path.rglob("symbol=S000/**/*.parquet"))) == 1
    assert len(list(tmp_path.rglob("symbol=S001/**/*.parquet"))) == 4


def test_readers_during_compaction_never_see_duplicates_or_missing_bars(tmp_path: Path) -> None:
    """While partitions are merged, every bar query returns exactly the bars stored: never a
    duplicate (old and merged files are both visible for a moment) and never a gap.

    ``LakeReader`` has no retry: a query whose glob listed an input just before it was deleted
    fails with DuckDB's "Cannot open file". Such transient failures are counted, not hidden;
    ``ColdStorageManager.read`` retries them and must never fail."""
    write_in_batches(tmp_path, symbols=4, days=400, batches=8)
    reader = LakeReader(tmp_path)
    manager = ColdStorageManager(tmp_path, grace_seconds=0.2)
    symbols = [f"S{i:03d}" for i in range(4)]
    query = BarsQuery("S001", "1d", FAR_PAST, FAR_FUTURE, FAR_FUTURE)
    expected = reader.bars(query)
    expected_cross = manager.read(symbols, "1d", FAR_PAST, FAR_FUTURE)
    assert len(expected[1]) == 400 and expected_cross.num_rows == 1600
    stop = threading.Event()
    problems: list[str] = []
    vanished: list[str] = []
    reads = [0, 0]

    def read_bars() -> None:
        while not stop.is_set():
            try:
                result = reader.bars(query)
            except duckdb.IOException as exc:
                vanished.append(str(exc))
                continue
            if result != expected:
                problems.append(f"bars() returned {len(result[1])} rows")
            reads[0] += 1

    def read_cross_section() -> None:
        while not stop.is_set():
            try:
                cross = manager.read(symbols, "1d", FAR_PAST, FAR_FUTURE)
            except Exception as exc:
                problems.append(f"read() failed: {exc!r}")
                continue
            if not cross.equals(expected_cross):
                problems.append(f"read() returned {cross.num_rows} rows")
            reads[1] += 1

    threads = [threading.Thread(target=read_bars) for _ in range(2)]
    threads.append(threading.Thread(target=read_cross_section))
    for thread in threads:
        thread.start()
    try:
        for round_ in range(3):  # compact, then plant exact duplicates as a crash leaves them
            manager.compact(policy=FORCE)
            for src in files_in(tmp_path)[:8]:
                tmp = src.with_name(f".dup{round_}-{src.name}.tmp")
                shutil.copy(src, tmp)
                tmp.rename(src.with_name(f"part-dup{round_}-{src.name}"))
        manager.compact(policy=FORCE)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert problems == [], problems[:20]
    assert all("Cannot open file" in v or "No files found" in v for v in vanished), vanished
    assert reads[0] > 10 and reads[1] > 10


def test_writer_during_compaction_loses_nothing_and_its_cache_stays_valid(
    tmp_path: Path,
) -> None:
    bars = bar_series(3, 720)  # 2015 and 2016
    writer = LakeWriter(tmp_path)
    writer.write(bars[:100])
    manager = ColdStorageManager(tmp_path, grace_seconds=0.05)
    done = threading.Event()

    def write_the_rest() -> None:
        for first in range(100, len(bars), 40):
            writer.write(bars[first : first + 40])
        done.set()

    thread = threading.Thread(target=write_the_rest)
    thread.start()
    while not done.is_set():
        manager.compact(policy=FORCE)
    thread.join()
    manager.compact(policy=FORCE)

    assert len(all_rows(tmp_path)) == len(bars)
    assert writer.write(bars).written == 0  # cached keys still match the disk
    assert LakeWriter(tmp_path).write(bars).written == 0  # and so do the keys on disk
    assert len(files_in(tmp_path)) == 6


def test_read_spans_symbols_and_years_with_as_of_and_source_choice(tmp_path: Path) -> None:
    writer = LakeWriter(tmp_path)
    writer.write(bar_series(3, 800))  # 2015-01-01 .. 2017-03-10
    writer.write(bar_series(1, 10, source="simulated"))
    day = datetime(2016, 6, 1, tzinfo=UTC)
    writer.write([make_bar("S002", day, close=55.0, revision=1, ts_known=FAR_FUTURE)])
    manager = ColdStorageManager(tmp_path)

    table = manager.read(["S000", "S002"], "1d", datetime(2015, 12, 30, tzinfo=UTC), day)
    assert table.num_rows == 2 * 155
    assert set(table.column("instrument_id").to_pylist()) == {"S000", "S002"}
    assert set(table.column("source").to_pylist()) == {"test"}  # real before simulated
    last = table.slice(table.num_rows - 1).to_pylist()[0]
    assert (last["ts_event"], last["close"], last["revision"]) == (day, 55.0, 1)

    before = manager.read(["S002"], "1d", day, day, as_of=datetime(2030, 1, 1, tzinfo=UTC))
    assert before.column("revision").to_pylist() == [0]
    simulated = manager.read(["S000"], "1d", FAR_PAST, FAR_FUTURE, source="simulated")
    assert simulated.num_rows == 10
    assert manager.read(["NOPE"], "1d", FAR_PAST, FAR_FUTURE).num_rows == 0
    with pytest.raises(ValueError, match="before start"):
        manager.read(["S000"], "1d", day, day - timedelta(days=1))


def test_read_of_intraday_bars_lists_month_partitions(tmp_path: Path) -> None:
    from sextant_common.events import Interval

    start = datetime(2021, 1, 31, 23, 0, tzinfo=UTC)
    hours = [start + timedelta(hours=h) for h in range(4)]
    LakeWriter(tmp_path).write([make_bar("AAPL", h, interval=Interval.H1) for h in hours])
    table = ColdStorageManager(tmp_path).read(["AAPL"], "1h", start, start + timedelta(hours=2))
    assert table.num_rows == 3  # spans the January and February partitions


def test_stats_count_files_bytes_and_rows(tmp_path: Path) -> None:
    write_in_batches(tmp_path, symbols=2, days=400, batches=4)  # 2015 (365) + 2016 (35)
    manager = ColdStorageManager(tmp_path, grace_seconds=0)
    stats = manager.stats()
    body = stats.public()
    assert body["rows"] == 800 and body["partitions"] == 4
    assert body["files"] == len(files_in(tmp_path))
    assert body["bytes"] == sum(p.stat().st_size for p in files_in(tmp_path))
    s000 = next(s for s in stats.series if s.symbol == "S000")
    assert (s000.dataset, s000.interval, s000.rows, s000.partitions) == ("bars", "1d", 400, 2)
    assert s000.compacted_files == 0 and s000.max_files_per_partition >= 2

    manager.compact(policy=FORCE)
    after = manager.stats(symbol="S000").public()
    assert (after["files"], after["rows"], after["partitions"]) == (2, 400, 2)
    assert after["series"][0]["compacted_files"] == 1  # 2016 had one file: left alone
    assert manager.stats(symbol="NOPE").public()["files"] == 0
