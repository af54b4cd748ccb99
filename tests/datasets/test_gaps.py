"""Gap reports against real exchange calendars (exchange_calendars), on real files.

The equity series here is written from a hand-kept list of NYSE holidays, not from the calendar
under test, so the calendar and the expectation are independent.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from sextant_common.events import AssetClass, Bar, Interval
from sextant_datasets.cold import ColdStorageManager, Gap
from sextant_datasets.cold.calendars import UnknownCalendar
from sextant_datasets.cold.gaps import find_gaps
from sextant_datasets.lake.reader import UnknownSymbol
from sextant_datasets.lake.writer import LakeWriter

FIRST, LAST = date(2024, 1, 2), date(2025, 1, 31)
NYSE_HOLIDAYS = {
    date(2024, 1, 15),  # Martin Luther King Jr. Day
    date(2024, 2, 19),  # Washington's Birthday
    date(2024, 3, 29),  # Good Friday
    date(2024, 5, 27),  # Memorial Day
    date(2024, 6, 19),  # Juneteenth
    date(2024, 7, 4),  # Independence Day
    date(2024, 9, 2),  # Labor Day
    date(2024, 11, 28),  # Thanksgiving
    date(2024, 12, 25),  # Christmas
    date(2025, 1, 1),  # New Year's Day
    date(2025, 1, 9),  # National Day of Mourning for President Carter
    date(2025, 1, 20),  # Martin Luther King Jr. Day
}


def days(first: date = FIRST, last: date = LAST) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def weekdays(first: date = FIRST, last: date = LAST) -> list[date]:
    return [d for d in days(first, last) if d.weekday() < 5]


def nyse_sessions() -> list[date]:
    return [d for d in weekdays() if d not in NYSE_HOLIDAYS]


def daily_bars(
    symbol: str, dates: Iterable[date], asset_class: AssetClass = AssetClass.INDEX
) -> list[Bar]:
    """One daily bar per date, starting at 00:00 UTC."""
    bars = []
    for day in dates:
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        bars.append(
            Bar(
                instrument_id=symbol,
                asset_class=asset_class,
                interval=Interval.D1,
                ts_event=start,
                open=100.0,
                high=101.0,
                low=99.0,
                close=100.5,
                volume=1e6,
                source="test",
                ts_known=start + timedelta(days=1),
            )
        )
    return bars


def store(root: Path, symbol: str, dates: Iterable[date], asset_class: AssetClass) -> None:
    LakeWriter(root).write(daily_bars(symbol, dates, asset_class))


@pytest.fixture
def manager(tmp_path: Path) -> ColdStorageManager:
    return ColdStorageManager(tmp_path)


def test_a_complete_equity_series_has_no_gaps_across_holidays(
    tmp_path: Path, manager: ColdStorageManager
) -> None:
    store(tmp_path, "SPX", nyse_sessions(), AssetClass.INDEX)
    report = manager.gap_report("SPX")
    assert report.calendar == "XNYS"  # inferred from asset_class=index
    assert (report.start, report.end) == (FIRST, LAST)
    assert report.gaps == () and report.max_gap_sessions == 0 and report.ok()
    assert report.expected_sessions == report.stored_sessions == len(nyse_sessions())
    assert report.unexpected_count == 0  # exchange_calendars agrees with the holiday list


def test_a_planted_gap_of_three_sessions_is_reported_exactly(
    tmp_path: Path, manager: ColdStorageManager
) -> None:
    removed = {date(2024, 5, 14), date(2024, 5, 15), date(2024, 5, 16)}
    store(tmp_path, "SPX", [d for d in nyse_sessions() if d not in removed], AssetClass.INDEX)
    report = manager.gap_report("SPX", "1d")
    assert report.gaps == (Gap(date(2024, 5, 14), date(2024, 5, 16), 3),)
    assert report.max_gap_sessions == report.missing_sessions == 3
    assert report.ok(max_gap=3) and not report.ok(max_gap=1)
    body = report.public(max_gap=1)
    assert body["ok"] is False
    assert body["gaps"] == [
        {"first_missing": "2024-05-14", "last_missing": "2024-05-16", "sessions": 3}
    ]


def test_gaps_are_counted_in_sessions_over_weekends_and_holidays(
    tmp_path: Path, manager: ColdStorageManager
) -> None:
    removed = {
        date(2024, 7, 3),  # Wednesday; Thursday 07-04 is a holiday
        date(2024, 7, 5),  # Friday
        date(2024, 6, 14),  # Friday before a weekend
        date(2024, 6, 17),  # Monday after it
    }
    store(tmp_path, "AAPL", [d for d in nyse_sessions() if d not in removed], AssetClass.EQUITY)
    report = manager.gap_report("AAPL")
    assert report.gaps == (
        Gap(date(2024, 6, 14), date(2024, 6, 17), 2),
        Gap(date(2024, 7, 3), date(2024, 7, 5), 2),
    )
    assert report.ok(max_gap=2) and not report.ok(max_gap=1)


def test_an_equity_bar_on_a_holiday_is_unexpected_not_a_gap(
    tmp_path: Path, manager: ColdStorageManager
) -> None:
    store(tmp_path, "SPY", [*nyse_sessions(), date(2024, 12, 25)], AssetClass.ETF)
    report = manager.gap_report("SPY")
    assert report.gaps == () and report.unexpected_dates == (date(2024, 12, 25),)


def test_weekends_are_gaps_for_crypto_but_not_for_fx(
    tmp_path: Path, manager: ColdStorageManager
) -> None:
    store(tmp_path, "BTC-USD", weekdays(), AssetClass.CRYPTO)
    store(tmp_path, "EURUSD", weekdays(), AssetClass.FX)
    crypto = manager.gap_report("BTC-USD")
    assert crypto.calendar == "24/7"
    weekends = len(days()) - len(weekdays())
    assert crypto.missing_sessions == weekends and crypto.max_gap_sessions == 2
    assert crypto.gaps[0] == Gap(date(2024, 1, 6), date(2024, 1, 7), 2)
    fx = manager.gap_report("EURUSD")
    assert fx.calendar == "24/5" and fx.gaps == ()  # 07-04 and 12-25 are FX sessions, stored


def test_every_day_of_crypto_is_complete(tmp_path: Path, manager: ColdStorageManager) -> None:
    store(tmp_path, "ETH-USD", days(), AssetClass.CRYPTO)
    assert manager.gap_report("ETH-USD").ok()


def test_the_calendar_can_be_given_and_the_range_narrowed(
    tmp_path: Path, manager: ColdStorageManager
) -> None:
    store(tmp_path, "SPX", nyse_sessions(), AssetClass.INDEX)
    report = manager.gap_report(
        "SPX", start=date(2024, 3, 25), end=date(2024, 4, 1), calendar="24/7"
    )
    assert report.gaps == (
        Gap(date(2024, 3, 29), date(2024, 3, 31), 3),  # Good Friday + weekend on a 24/7 clock
    )
    before = manager.gap_report("SPX", start=date(2023, 12, 27), end=date(2024, 1, 3))
    assert before.gaps == (Gap(date(2023, 12, 27), date(2023, 12, 29), 3),)  # before history


def test_unknown_symbols_calendars_and_bad_ranges_are_errors(
    tmp_path: Path, manager: ColdStorageManager
) -> None:
    store(tmp_path, "SPX", nyse_sessions()[:10], AssetClass.INDEX)
    store(tmp_path, "ESZ4", nyse_sessions()[:10], AssetClass.FUTURE)
    with pytest.raises(UnknownSymbol, match="NOPE"):
        manager.gap_report("NOPE")
    with pytest.raises(UnknownSymbol, match="1h"):
        manager.gap_report("SPX", "1h")
    with pytest.raises(UnknownSymbol, match="source"):
        manager.gap_report("SPX", source="other")
    with pytest.raises(UnknownCalendar, match="XXXX"):
        manager.gap_report("SPX", calendar="XXXX")
    with pytest.raises(UnknownCalendar, match="future"):
        manager.gap_report("ESZ4")
    with pytest.raises(ValueError, match="before start"):
        manager.gap_report("SPX", start=date(2024, 2, 1), end=date(2024, 1, 1))


def test_find_gaps_groups_consecutive_missing_sessions() -> None:
    sessions = [date(2024, 1, d) for d in (2, 3, 4, 5, 8, 9, 10)]
    stored = [date(2024, 1, d) for d in (2, 8, 10)]
    assert find_gaps(sessions, stored) == [
        Gap(date(2024, 1, 3), date(2024, 1, 5), 3),
        Gap(date(2024, 1, 9), date(2024, 1, 9), 1),
    ]
    assert find_gaps(sessions, []) == [Gap(date(2024, 1, 2), date(2024, 1, 10), 7)]
    assert find_gaps([], stored) == []
