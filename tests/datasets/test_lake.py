"""The lake on real files and a real DuckDB: layout, idempotency, point-in-time reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from sextant_common.events import Interval
from sextant_datasets.lake.reader import BarsQuery, LakeReader, UnknownSymbol
from sextant_datasets.lake.writer import LakeWriter
from tests.support import bar_series, make_bar

DAY = datetime(2021, 3, 1, tzinfo=UTC)
FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)


def query(symbol: str = "S000", **kw: object) -> BarsQuery:
    fields: dict[str, object] = {
        "symbol": symbol,
        "interval": "1d",
        "start": datetime(2000, 1, 1, tzinfo=UTC),
        "end": FAR_FUTURE,
        "as_of": FAR_FUTURE,
    }
    fields.update(kw)
    return BarsQuery(**fields)  # type: ignore[arg-type]


def test_partition_layout_is_interval_symbol_year_month(tmp_path: Path) -> None:
    moment = datetime(2021, 3, 5, 14, 30, tzinfo=UTC)
    LakeWriter(tmp_path).write(
        [make_bar("AAPL", moment, interval=Interval.M1), make_bar("AAPL", moment.replace(hour=0))]
    )
    minute = list(tmp_path.glob("bars/interval=1m/symbol=AAPL/year=2021/month=03/part-*.parquet"))
    daily = list(tmp_path.glob("bars/interval=1d/symbol=AAPL/year=2021/part-*.parquet"))
    assert len(minute) == len(daily) == 1  # daily bars: one directory per year, not per month
    assert pq.read_table(minute[0]).num_rows == pq.read_table(daily[0]).num_rows == 1


def test_rewriting_the_same_bars_adds_nothing(tmp_path: Path) -> None:
    bars = bar_series(3, 40)
    first = LakeWriter(tmp_path).write(bars)
    again = LakeWriter(tmp_path).write(bars + bars[:5])  # fresh writer: keys come from disk
    assert (first.written, first.duplicates) == (120, 0)
    assert (again.written, again.duplicates) == (0, 125)
    _, rows = LakeReader(tmp_path).bars(query())
    assert len(rows) == 40


def test_no_partial_files_are_visible(tmp_path: Path) -> None:
    LakeWriter(tmp_path).write(bar_series(2, 10))
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".")]


def test_as_of_returns_what_was_known_then(tmp_path: Path) -> None:
    original = make_bar("AAPL", DAY, close=100.0, ts_known=DAY + timedelta(days=1))
    correction = make_bar("AAPL", DAY, close=101.0, revision=1, ts_known=DAY + timedelta(days=2))
    LakeWriter(tmp_path).write([original, correction])
    reader = LakeReader(tmp_path)

    def close_as_of(moment: datetime) -> list[float]:
        return [row[4] for row in reader.bars(query("AAPL", as_of=moment))[1]]

    assert close_as_of(DAY + timedelta(hours=12)) == []
    assert close_as_of(DAY + timedelta(days=1, hours=1)) == [100.0]
    assert close_as_of(DAY + timedelta(days=3)) == [101.0]


def test_range_bounds_are_inclusive(tmp_path: Path) -> None:
    LakeWriter(tmp_path).write(bar_series(1, 10))
    start = datetime(2015, 1, 3, tzinfo=UTC)
    _, rows = LakeReader(tmp_path).bars(query(start=start, end=start + timedelta(days=2)))
    assert [r[0] for r in rows] == [
        "2015-01-03T00:00:00Z",
        "2015-01-04T00:00:00Z",
        "2015-01-05T00:00:00Z",
    ]


def test_real_source_is_preferred_over_simulated(tmp_path: Path) -> None:
    LakeWriter(tmp_path).write(
        [make_bar("SPX", DAY, source="simulated"), make_bar("SPX", DAY, source="shipped")]
    )
    reader = LakeReader(tmp_path)
    assert reader.bars(query("SPX"))[0] == "shipped"
    assert reader.bars(query("SPX", source="simulated"))[0] == "simulated"
    with pytest.raises(UnknownSymbol, match="available: shipped, simulated"):
        reader.bars(query("SPX", source="polygon"))


def test_unknown_symbol_and_interval_are_reported(tmp_path: Path) -> None:
    LakeWriter(tmp_path).write([make_bar("AAPL", DAY)])
    reader = LakeReader(tmp_path)
    with pytest.raises(UnknownSymbol, match="unknown symbol 'MSFT'"):
        reader.bars(query("MSFT"))
    with pytest.raises(UnknownSymbol, match="no 1m bars stored for 'AAPL'"):
        reader.bars(query("AAPL", interval="1m"))


def test_catalog_lists_each_instrument_source_and_interval(tmp_path: Path) -> None:
    LakeWriter(tmp_path).write([*bar_series(2, 5), make_bar("S000", DAY, source="other")])
    entries = {(e.instrument_id, e.source): e.rows for e in LakeReader(tmp_path).catalog()}
    assert entries == {("S000", "test"): 5, ("S001", "test"): 5, ("S000", "other"): 1}
