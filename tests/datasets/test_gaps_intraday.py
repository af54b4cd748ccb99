"""Intraday gap reports count missing bars, not missing days: a 35 s hole in 5 s bars is a gap.

Before, ``GET /v1/storage/gaps`` only asked whether each session had *a* bar, so any intraday
series with one bar a day reported ``ok``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sextant_common.events import AssetClass, Bar, Interval
from sextant_datasets.app import build_app
from sextant_datasets.cold import BarGap, ColdStorageManager, IntradayGapReport
from sextant_datasets.lake.writer import LakeWriter
from sextant_datasets.settings import DatasetsSettings

T0 = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
S5 = timedelta(seconds=5)
HOLE_START = T0 + timedelta(seconds=30)
HOLE_END = HOLE_START + timedelta(seconds=35)  # 7 bars of 5 s: 10:00:30 .. 10:01:00


def bars(
    symbol: str, starts: Iterable[datetime], interval: Interval, asset_class: AssetClass
) -> list[Bar]:
    return [
        Bar(
            instrument_id=symbol,
            asset_class=asset_class,
            interval=interval,
            ts_event=start,
            open=100.0,
            high=101.0,
            low=99.0,
            close=100.5,
            volume=10.0,
            source="coingecko" if asset_class is AssetClass.CRYPTO else "polygon",
            ts_known=start + interval.duration,
        )
        for start in starts
    ]


def every(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    """``start``, ``start + step`` ... before ``end``."""
    return [start + step * n for n in range(int((end - start) / step))]


def crypto_with_hole(root: Path) -> None:
    starts = [t for t in every(T0, T0 + timedelta(minutes=5), S5) if not HOLE_START <= t < HOLE_END]
    LakeWriter(root).write(bars("BTC-USD", starts, Interval.S5, AssetClass.CRYPTO))


def test_a_35_second_hole_in_5_second_crypto_bars_is_named(tmp_path: Path) -> None:
    crypto_with_hole(tmp_path)
    report = ColdStorageManager(tmp_path).gap_report("BTC-USD", "5s")
    assert isinstance(report, IntradayGapReport)
    assert report.calendar == "24/7"
    assert report.gaps == (BarGap(HOLE_START, HOLE_END - S5, 7, S5),)
    assert report.gaps[0].end == HOLE_END
    assert (report.missing_bars, report.max_gap_bars) == (7, 7)
    assert report.expected_bars == 60 and report.stored_bars == 53
    assert not report.ok() and report.ok(max_gap=7) and not report.ok(max_gap=6)
    assert report.unexpected_count == 0


def test_the_http_report_names_the_hole(tmp_path: Path) -> None:
    settings = DatasetsSettings(kafka_bootstrap="127.0.0.1:9", data_dir=tmp_path)
    crypto_with_hole(settings.lake_dir)
    client = TestClient(build_app(settings))
    response = client.get("/v1/storage/gaps", params={"symbol": "BTC-USD", "interval": "5s"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] is False and body["unit"] == "bars"
    assert body["gaps"] == [
        {
            "start": "2024-03-01T10:00:30Z",
            "end": "2024-03-01T10:01:05Z",
            "first_missing": "2024-03-01T10:00:30Z",
            "last_missing": "2024-03-01T10:01:00Z",
            "missing_bars": 7,
        }
    ]
    assert body["missing_bars"] == body["max_gap_bars"] == 7
    # an explicit range that ends before the hole is complete
    narrowed = client.get(
        "/v1/storage/gaps",
        params={"symbol": "BTC-USD", "interval": "5s", "end": "2024-03-01T10:00:25Z"},
    ).json()
    assert narrowed["ok"] is True and narrowed["expected_bars"] == 6


def test_exchange_bars_count_only_inside_sessions(tmp_path: Path) -> None:
    """Two NYSE sessions of 5 m bars (14:30-21:00 UTC): nights and the weekend are not gaps, a
    missing quarter hour on Monday is."""
    friday = every(T0.replace(hour=14, minute=30), T0.replace(hour=21), timedelta(minutes=5))
    monday_open = datetime(2024, 3, 4, 14, 30, tzinfo=UTC)
    monday = every(monday_open, monday_open.replace(hour=21, minute=0), timedelta(minutes=5))
    hole = {monday_open + timedelta(hours=1, minutes=5 * k) for k in range(3)}
    stored = [*friday, *(t for t in monday if t not in hole)]
    LakeWriter(tmp_path).write(bars("AAPL", stored, Interval.M5, AssetClass.EQUITY))
    report = ColdStorageManager(tmp_path).gap_report("AAPL", "5m")
    assert report.calendar == "XNYS"
    assert report.gaps == (
        BarGap(
            monday_open + timedelta(hours=1),
            monday_open + timedelta(hours=1, minutes=10),
            3,
            timedelta(minutes=5),
        ),
    )
    assert report.expected_bars == 2 * 78 and report.unexpected_count == 0


def test_a_bar_outside_the_session_is_unexpected_not_a_gap(tmp_path: Path) -> None:
    day = every(T0.replace(hour=14, minute=30), T0.replace(hour=21), timedelta(minutes=5))
    premarket = T0.replace(hour=13)
    LakeWriter(tmp_path).write(bars("AAPL", [premarket, *day], Interval.M5, AssetClass.EQUITY))
    report = ColdStorageManager(tmp_path).gap_report("AAPL", "5m")
    assert isinstance(report, IntradayGapReport)
    assert report.gaps == () and report.unexpected == (premarket,)


def test_the_bar_still_forming_is_not_missing(tmp_path: Path) -> None:
    crypto_with_hole(tmp_path)
    now = T0 + timedelta(seconds=33)  # the 10:00:30 bar has not ended yet
    report = ColdStorageManager(tmp_path).gap_report(
        "BTC-USD", "5s", T0, T0 + timedelta(hours=1), now=now
    )
    assert report.gaps == () and report.expected_bars == 6


def test_a_huge_grid_is_refused_with_what_to_do(tmp_path: Path) -> None:
    crypto_with_hole(tmp_path)
    with pytest.raises(ValueError, match="narrow start and end"):
        ColdStorageManager(tmp_path).gap_report(
            "BTC-USD", "5s", datetime(2000, 1, 1, tzinfo=UTC), T0
        )
