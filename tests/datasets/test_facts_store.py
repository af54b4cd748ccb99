"""The fetched datasets' store: natural keys, restart-safe idempotence, the as-of rule."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sextant_common.events import MacroObservation, NewsItem
from sextant_datasets.facts.store import MACRO, NEWS, FactQuery, FactReader, FactWriter

T0 = datetime(2025, 1, 1, tzinfo=UTC)
T1 = datetime(2025, 2, 1, tzinfo=UTC)


def observation(value: float, revision: int, known: datetime) -> MacroObservation:
    return MacroObservation(
        series_id="FRED:GDP/real",  # ':' and '/' must survive the partition directory
        period=datetime(2024, 10, 1, tzinfo=UTC),
        frequency="Q",
        value=value,
        source="fred",
        ts_known=known,
        revision=revision,
    )


def macro_as_of(lake: Path, as_of: datetime) -> list[tuple[float, int]]:
    rows = FactReader(lake).read(FactQuery(MACRO, as_of, {"series_id": "FRED:GDP/real"}))
    return [(row["value"], row["revision"]) for row in rows]


def test_each_natural_key_is_stored_once_even_across_a_restart(tmp_path: Path) -> None:
    first = observation(1.0, 0, T0)
    assert FactWriter(tmp_path).write([first, first]).written == {"macro": 1}
    again = FactWriter(tmp_path).write([first])  # a new writer relearns the keys from disk
    assert (again.written, again.duplicates) == ({}, {"macro": 1})
    assert len(list((tmp_path / "macro").glob("*/*.parquet"))) == 1


def test_as_of_returns_what_was_learned_last_by_then(tmp_path: Path) -> None:
    FactWriter(tmp_path).write([observation(1.0, 0, T0), observation(1.1, 1, T1)])
    assert macro_as_of(tmp_path, datetime(2024, 12, 31, tzinfo=UTC)) == []
    assert macro_as_of(tmp_path, T0) == [(1.0, 0)]
    assert macro_as_of(tmp_path, T1) == [(1.1, 1)]


def test_news_is_filtered_by_instrument_newest_first(tmp_path: Path) -> None:
    def item(n: int, instruments: tuple[str, ...]) -> NewsItem:
        return NewsItem(
            item_id=f"n{n}",
            ts_published=datetime(2025, 1, n, tzinfo=UTC),
            title=f"t{n}",
            url="https://example.com",
            publisher="p",
            instruments=instruments,
            source="newsapi",
            ts_known=datetime(2025, 1, n, 1, tzinfo=UTC),
        )

    FactWriter(tmp_path).write([item(1, ("AAA",)), item(2, ("AAA", "BBB")), item(3, ("BBB",))])
    query = FactQuery(NEWS, T1, {}, instrument="AAA")
    assert [row["item_id"] for row in FactReader(tmp_path).read(query)] == ["n2", "n1"]
