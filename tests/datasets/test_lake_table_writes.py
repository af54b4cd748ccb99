"""The writer's table path: vectorized partitioning, dedupe within and across writes, mkdirs."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sextant_common.events import Bar, Interval
from sextant_datasets.catalog import Catalog, CatalogedWriter
from sextant_datasets.lake.layout import BAR_SCHEMA, Partition, partition_rows
from sextant_datasets.lake.reader import LakeReader
from sextant_datasets.lake.writer import LakeWriter, bars_to_table
from tests.support import make_bar


def mixed_bars(count: int, seed: int = 7) -> list[Bar]:
    """Bars over every interval, a few symbols and sources, across month and year ends."""
    rng = random.Random(seed)
    base = datetime(2019, 12, 30, 22, tzinfo=UTC)
    return [
        make_bar(
            rng.choice(["AAPL", "MSFT", "BTC-USD", "ES^F"]),
            base + timedelta(minutes=rng.randrange(0, 60 * 24 * 70)),
            interval=rng.choice(list(Interval)),
            source=rng.choice(["test", "acme"]),
            revision=rng.randrange(2),
        )
        for _ in range(count)
    ]


def stored_rows(root: Path) -> list[dict[str, object]]:
    files = sorted(root.rglob("*.parquet"))
    table = pq.read_table(files, partitioning=None) if files else BAR_SCHEMA.empty_table()
    return sorted(table.to_pylist(), key=lambda r: (r["instrument_id"], r["interval"], str(r)))


def test_rows_are_grouped_by_the_partition_each_bar_belongs_to() -> None:
    bars = mixed_bars(2_000)
    grouped = partition_rows(bars_to_table(bars))
    assert grouped.partitions == sorted(set(grouped.partitions))
    seen: list[int] = []
    for partition, first, end in zip(
        grouped.partitions, grouped.bounds[:-1], grouped.bounds[1:], strict=True
    ):
        rows = grouped.order[first:end].tolist()
        assert rows == sorted(rows)  # each partition's rows keep their order
        assert {
            Partition.of(bars[r].interval, bars[r].instrument_id, bars[r].ts_event) for r in rows
        } == {partition}
        seen += rows
    assert sorted(seen) == list(range(len(bars)))


def test_a_table_write_drops_keys_seen_on_disk_and_earlier_in_the_table(tmp_path: Path) -> None:
    bars = mixed_bars(1_500)
    assert len({natural_key(b) for b in bars}) == len(bars)
    newer = [b.model_copy(update={"close": b.close + 1}) for b in bars[1_000:1_100]]
    writer = LakeWriter(tmp_path)
    first = writer.write_table(bars_to_table(bars[:1_000]))
    again = writer.write_table(bars_to_table(bars + newer))  # same keys later in the table
    assert (first.written, first.duplicates) == (1_000, 0)
    assert (again.written, again.duplicates) == (500, 1_100)
    assert stored_rows(tmp_path) == sorted(
        bars_to_table(bars).to_pylist(), key=lambda r: (r["instrument_id"], r["interval"], str(r))
    )  # the first of two rows with one key is the one kept
    assert LakeWriter(tmp_path).write(bars).written == 0  # a fresh writer reads the keys back


def natural_key(bar: Bar) -> tuple[object, ...]:
    return (bar.instrument_id, bar.interval, bar.source, bar.ts_event, bar.revision)


def test_stored_rows_are_returned_partition_by_partition(tmp_path: Path) -> None:
    bars = mixed_bars(300)
    result = LakeWriter(tmp_path).write(bars)
    assert result.stored.schema.equals(BAR_SCHEMA)
    assert result.stored.num_rows == result.written
    assert result.files == len(partition_rows(result.stored).partitions)
    assert sorted(result.stored.to_pylist(), key=str) == sorted(stored_rows(tmp_path), key=str)


def test_a_table_of_another_schema_is_refused(tmp_path: Path) -> None:
    table = bars_to_table([make_bar()]).drop_columns(["revision"])
    with pytest.raises(ValueError, match="lake schema"):
        LakeWriter(tmp_path).write_table(table)
    assert LakeWriter(tmp_path).write_table(BAR_SCHEMA.empty_table()).written == 0


def test_each_directory_is_made_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[Path] = []
    real_mkdir = Path.mkdir

    def counting_mkdir(self: Path, *args: object, **kwargs: object) -> None:
        made.append(self)
        real_mkdir(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "mkdir", counting_mkdir)
    base = datetime(2024, 3, 4, 14, 30, tzinfo=UTC)
    writer = LakeWriter(tmp_path / "lake")
    symbols = [f"M{s:03d}" for s in range(20)]
    writer.write([make_bar(s, base, interval=Interval.M1) for s in symbols])
    # root, bars/, interval=1m/, then symbol, year and month per symbol: nothing twice
    assert len(made) == len(set(made)) == 3 + 3 * len(symbols)
    made.clear()
    writer.write([make_bar(s, base + timedelta(minutes=1), interval=Interval.M1) for s in symbols])
    assert made == []


def test_the_catalog_folds_a_table_write_like_a_scan(tmp_path: Path) -> None:
    catalog = Catalog(LakeReader(tmp_path))
    writer = CatalogedWriter(tmp_path, catalog)
    bars = mixed_bars(800)
    writer.write(bars[:10])
    assert catalog.entries()  # scanned: later writes are folded in
    writer.write_table(bars_to_table(bars))
    writer.write_table(pa.concat_tables([bars_to_table(bars[:50]), bars_to_table(bars[700:])]))
    assert catalog.entries() == sorted(
        LakeReader(tmp_path).catalog(), key=lambda e: (e.instrument_id, e.source, e.interval)
    )
