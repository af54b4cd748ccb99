"""The ``simulated`` provider: determinism, calendars, bar validity, no future bars, live feed."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import exchange_calendars
import numpy as np
import pytest

from sextant_common.events import AssetClass, Bar, Interval
from sextant_common.instruments import Instrument
from sextant_ingest.providers.base import BarQuery, UnknownInstrument
from sextant_ingest.providers.simulated import SimulatedProvider

NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)
"""The fixed "now" of most tests: their history does not move with the wall clock."""


class FakeClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


def provider(seed: int = 7, now: datetime = NOW) -> SimulatedProvider:
    return SimulatedProvider(seed=seed, clock=FakeClock(now))


async def collect(
    source: SimulatedProvider,
    interval: Interval,
    start: datetime,
    end: datetime,
    *instruments: str,
) -> list[Bar]:
    query = BarQuery(interval, start, end, tuple(instruments) or None)
    return [bar async for bar in source.history(query)]


def dates(bars: list[Bar]) -> list[date]:
    return [bar.ts_event.date() for bar in bars]


async def next_bars(stream: AsyncIterator[Bar], wait: float = 0.5) -> list[Bar]:
    """Bars the stream yields until it has nothing for ``wait`` seconds."""
    bars = []
    while True:
        try:
            bars.append(await asyncio.wait_for(anext(stream), wait))
        except TimeoutError:
            return bars


# -- universe ---------------------------------------------------------------------------------


def test_universe_has_fifty_instruments_of_every_required_class() -> None:
    instruments = SimulatedProvider().instruments()
    by_class = Counter(i.asset_class for i in instruments)
    ids = {i.instrument_id for i in instruments}

    assert len(instruments) >= 50
    assert len(ids) == len(instruments)
    assert by_class[AssetClass.EQUITY] >= 35
    assert {"AAPL", "MSFT", "NVDA"} <= ids
    assert {"NDX", "RUT"} <= ids
    assert "SPX" not in ids  # the real S&P 500 belongs to the shipped provider
    assert {"EURUSD", "USDJPY", "GBPUSD", "AUDUSD", "USDCHF"} <= ids
    assert by_class[AssetClass.CRYPTO] >= 5 and "BTC-USD" in ids
    calendars = {
        AssetClass.EQUITY: "XNYS",
        AssetClass.INDEX: "XNYS",
        AssetClass.FX: "FX",
        AssetClass.CRYPTO: "24/7",
    }
    for instrument in instruments:
        assert instrument.calendar == calendars[instrument.asset_class], instrument


def test_custom_universe_uses_class_defaults_and_rejects_unknown_calendars() -> None:
    xyz = Instrument(
        instrument_id="XYZ", asset_class=AssetClass.EQUITY, name="XYZ", calendar="XNYS"
    )
    bars = asyncio.run(
        collect(
            SimulatedProvider(universe=[xyz], clock=FakeClock(NOW)),
            Interval.D1,
            utc(2024, 6, 3),
            utc(2024, 6, 8),
        )
    )
    assert [b.ts_event.day for b in bars] == [3, 4, 5, 6, 7]
    moon = xyz.model_copy(update={"calendar": "MOON"})
    with pytest.raises(ValueError, match="MOON"):
        SimulatedProvider(universe=[moon])


# -- determinism ------------------------------------------------------------------------------


async def test_same_seed_gives_identical_bars_and_another_seed_differs() -> None:
    start, end = utc(2023, 1, 1), utc(2025, 1, 1)
    first = await collect(provider(7), Interval.D1, start, end)
    again = await collect(provider(7), Interval.D1, start, end)
    other = await collect(provider(8), Interval.D1, start, end)

    assert [b.to_bytes() for b in first] == [b.to_bytes() for b in again]
    assert len(other) == len(first)
    assert [b.close for b in other] != [b.close for b in first]

    day = utc(2024, 6, 5)
    minute = await collect(
        provider(7), Interval.M1, day, day + timedelta(days=1), "AAPL", "BTC-USD"
    )
    minute_again = await collect(
        provider(7), Interval.M1, day, day + timedelta(days=1), "AAPL", "BTC-USD"
    )
    assert minute == minute_again


async def test_a_bar_does_not_depend_on_the_query_around_it() -> None:
    source = provider()
    alone = await collect(source, Interval.D1, utc(2024, 1, 1), utc(2024, 7, 1), "AAPL")
    wide = await collect(source, Interval.D1, utc(2023, 6, 1), utc(2025, 1, 1))
    wide_aapl = {b.ts_event: b for b in wide if b.instrument_id == "AAPL"}
    assert alone and all(bar == wide_aapl[bar.ts_event] for bar in alone)

    day = utc(2024, 6, 5)
    hour = await collect(
        source, Interval.M1, day + timedelta(hours=15), day + timedelta(hours=16), "MSFT"
    )
    whole_day = await collect(source, Interval.M1, day, day + timedelta(days=3), "MSFT", "AAPL")
    by_time = {b.ts_event: b for b in whole_day if b.instrument_id == "MSFT"}
    assert len(hour) == 60 and all(bar == by_time[bar.ts_event] for bar in hour)


def test_paths_do_not_depend_on_python_hash_seed() -> None:
    # Python salts str hashes per process: seeding from hash() would differ between processes.
    script = (
        "import asyncio, hashlib\n"
        "from datetime import datetime, UTC\n"
        "from sextant_common.events import Interval\n"
        "from sextant_ingest.providers.base import BarQuery\n"
        "from sextant_ingest.providers.simulated import SimulatedProvider\n"
        "p = SimulatedProvider(clock=lambda: datetime(2025, 1, 15, tzinfo=UTC))\n"
        "start, end = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 3, 1, tzinfo=UTC)\n"
        "q = BarQuery(Interval.D1, start, end, ('AAPL', 'BTC-USD'))\n"
        "async def main():\n"
        "    return b''.join([b.to_bytes() async for b in p.history(q)])\n"
        "print(hashlib.sha256(asyncio.run(main())).hexdigest())\n"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for hash_seed in ("1", "2")
    }
    bars = asyncio.run(
        collect(
            provider(now=utc(2025, 1, 15)),
            Interval.D1,
            utc(2024, 1, 1),
            utc(2024, 3, 1),
            "AAPL",
            "BTC-USD",
        )
    )
    assert digests == {hashlib.sha256(b"".join(b.to_bytes() for b in bars)).hexdigest()}


# -- validity ---------------------------------------------------------------------------------


async def test_every_bar_is_valid() -> None:
    source = provider()
    day = utc(2024, 11, 29)
    batches = [
        (Interval.D1, await collect(source, Interval.D1, utc(2023, 1, 1), utc(2025, 1, 1))),
        (Interval.M1, await collect(source, Interval.M1, day, day + timedelta(days=1))),
        (Interval.H1, await collect(source, Interval.H1, day - timedelta(days=7), day)),
        (
            Interval.S5,
            await collect(
                source, Interval.S5, day + timedelta(hours=14), day + timedelta(hours=15)
            ),
        ),
    ]
    for interval, bars in batches:
        assert {b.instrument_id for b in bars} >= {"AAPL", "EURUSD", "BTC-USD"}, interval
        for bar in bars:
            assert Bar.model_validate(bar.model_dump()) == bar
            assert bar.interval is interval and bar.source == "simulated" and bar.revision == 0
            values = np.array([bar.open, bar.high, bar.low, bar.close, bar.volume])
            assert np.isfinite(values).all() and bar.low > 0 and bar.volume >= 0
            assert bar.high >= max(bar.open, bar.close) and bar.low <= min(bar.open, bar.close)
            assert bar.ts_known == bar.ts_event + interval.duration


async def test_prices_stay_positive_over_decades() -> None:
    bars = await collect(
        provider(), Interval.D1, utc(1990, 1, 1), utc(2025, 1, 1), "DOGE-USD", "INTC"
    )
    assert min(dates(bars)) >= date(2000, 1, 1)  # the simulated history starts in 2000
    assert all(b.low > 0 for b in bars)


# -- calendars --------------------------------------------------------------------------------


async def test_equity_daily_bars_fall_on_nyse_sessions_only() -> None:
    bars = await collect(provider(), Interval.D1, utc(2024, 1, 1), utc(2025, 1, 1), "AAPL", "NDX")
    nyse = exchange_calendars.get_calendar("XNYS").sessions_in_range("2024-01-01", "2024-12-31")
    expected = [d.date() for d in nyse]

    for instrument_id in ("AAPL", "NDX"):
        days = dates([b for b in bars if b.instrument_id == instrument_id])
        assert days == expected
    assert date(2024, 7, 4) not in expected and date(2024, 12, 25) not in expected
    assert all(b.ts_event.weekday() < 5 for b in bars)
    assert all(
        b.ts_event == datetime.combine(b.ts_event.date(), datetime.min.time(), UTC) for b in bars
    )


async def test_crypto_trades_every_day_and_fx_on_weekdays() -> None:
    bars = await collect(
        provider(), Interval.D1, utc(2024, 1, 1), utc(2025, 1, 1), "BTC-USD", "EURUSD"
    )
    btc = dates([b for b in bars if b.instrument_id == "BTC-USD"])
    eurusd = dates([b for b in bars if b.instrument_id == "EURUSD"])

    assert len(btc) == 366 and date(2024, 7, 6) in btc and date(2024, 12, 25) in btc
    assert len(eurusd) == 262 and all(d.weekday() < 5 for d in eurusd)


async def test_equity_intraday_bars_lie_in_new_york_regular_hours() -> None:
    # Thanksgiving week 2024: closed on the 28th, closes at 13:00 on the 29th.
    bars = await collect(provider(), Interval.M1, utc(2024, 11, 26), utc(2024, 12, 1), "AAPL")
    local = [b.ts_event.astimezone(NEW_YORK) for b in bars]
    per_day = Counter(t.date() for t in local)

    assert per_day == {date(2024, 11, 26): 390, date(2024, 11, 27): 390, date(2024, 11, 29): 210}
    for t in local:
        minutes = t.hour * 60 + t.minute
        close = 13 * 60 if t.date() == date(2024, 11, 29) else 16 * 60
        assert 9 * 60 + 30 <= minutes < close, t

    hourly = await collect(provider(), Interval.H1, utc(2024, 11, 29), utc(2024, 11, 30), "AAPL")
    assert [b.ts_event.astimezone(NEW_YORK).hour for b in hourly] == [10, 11, 12]


async def test_fx_trades_sunday_evening_to_friday_evening_utc() -> None:
    bars = await collect(provider(), Interval.H1, utc(2024, 6, 7), utc(2024, 6, 11), "EURUSD")
    starts = [b.ts_event for b in bars]

    assert not [t for t in starts if t.weekday() == 5]
    assert max(t for t in starts if t.weekday() == 4) == utc(2024, 6, 7, 21)
    assert [t for t in starts if t.weekday() == 6] == [utc(2024, 6, 9, 22), utc(2024, 6, 9, 23)]
    assert len(starts) == 22 + 2 + 24  # Friday to 22:00, Sunday from 22:00, Monday


def test_is_in_session() -> None:
    source = provider()
    assert source.is_in_session("AAPL", utc(2024, 6, 5, 15))
    assert not source.is_in_session("AAPL", utc(2024, 6, 8, 15))  # Saturday
    assert not source.is_in_session("AAPL", utc(2024, 11, 29, 18, 30))  # after the early close
    assert source.is_in_session("BTC-USD", utc(2024, 6, 8, 3))
    assert source.is_in_session("EURUSD", utc(2024, 6, 9, 22, 30))
    assert not source.is_in_session("EURUSD", utc(2024, 6, 7, 22, 30))
    with pytest.raises(UnknownInstrument):
        source.is_in_session("NOPE", utc(2024, 6, 5))


# -- errors and time --------------------------------------------------------------------------


async def test_unknown_instrument_raises_naming_it() -> None:
    with pytest.raises(UnknownInstrument, match="NOPE"):
        await collect(provider(), Interval.D1, utc(2024, 1, 1), utc(2024, 2, 1), "AAPL", "NOPE")


async def test_no_bar_ends_after_now() -> None:
    now = utc(2024, 6, 5, 14, 3, 27)
    source = provider(now=now)
    minute = await collect(source, Interval.M1, utc(2024, 6, 5), utc(2024, 6, 6), "AAPL", "BTC-USD")
    daily = await collect(source, Interval.D1, utc(2024, 6, 1), utc(2024, 6, 10), "AAPL", "BTC-USD")

    assert all(b.ts_event + b.interval.duration <= now for b in minute + daily)
    aapl = [b.ts_event for b in minute if b.instrument_id == "AAPL"]
    assert (aapl[0], aapl[-1]) == (utc(2024, 6, 5, 13, 30), utc(2024, 6, 5, 14, 2))
    assert max(dates(daily)) == date(2024, 6, 4)

    real = SimulatedProvider()
    wall = datetime.now(UTC)
    recent = await collect(
        real, Interval.M1, wall - timedelta(hours=1), wall + timedelta(hours=1), "BTC-USD"
    )
    recent += await collect(real, Interval.D1, wall - timedelta(days=5), wall + timedelta(days=5))
    after = datetime.now(UTC)
    assert recent and all(b.ts_event + b.interval.duration <= after for b in recent)
    assert all(b.ts_known <= after for b in recent)


# -- model properties -------------------------------------------------------------------------


async def test_intraday_bars_aggregate_to_the_daily_bar() -> None:
    source = provider()
    for instrument_id, interval, day, session_start, session_end in (
        ("AAPL", Interval.M1, utc(2024, 6, 5), utc(2024, 6, 5), utc(2024, 6, 6)),
        ("BTC-USD", Interval.M5, utc(2024, 6, 8), utc(2024, 6, 8), utc(2024, 6, 9)),
        # An FX day's session starts at 22:00 UTC the day before and ends at 22:00.
        ("EURUSD", Interval.S5, utc(2024, 6, 4), utc(2024, 6, 3, 22), utc(2024, 6, 4, 22)),
    ):
        (daily,) = await collect(source, Interval.D1, day, day + timedelta(days=1), instrument_id)
        bars = await collect(source, interval, session_start, session_end, instrument_id)
        assert bars[0].open == daily.open and bars[-1].close == daily.close, instrument_id
        assert max(b.high for b in bars) == daily.high
        assert min(b.low for b in bars) == daily.low
        assert sum(b.volume for b in bars) == pytest.approx(daily.volume, rel=1e-9)


async def test_equities_move_together_and_volume_rises_with_the_move() -> None:
    bars = await collect(provider(), Interval.D1, utc(2023, 1, 1), utc(2025, 1, 1))
    closes = {
        i: np.array([b.close for b in bars if b.instrument_id == i])
        for i in ("AAPL", "MSFT", "NDX")
    }
    returns = {i: np.diff(np.log(c)) for i, c in closes.items()}
    assert np.corrcoef(returns["AAPL"], returns["MSFT"])[0, 1] > 0.2
    assert np.corrcoef(returns["AAPL"], returns["NDX"])[0, 1] > 0.2

    aapl = [b for b in bars if b.instrument_id == "AAPL"]
    move = np.abs(np.log([b.close / b.open for b in aapl]))
    volume = np.array([b.volume for b in aapl])
    assert np.corrcoef(move, volume)[0, 1] > 0.2


async def test_two_years_of_daily_bars_for_the_universe_is_fast() -> None:
    source = provider()
    await collect(source, Interval.D1, utc(2024, 1, 1), utc(2024, 1, 5))  # load the calendar
    started = time.perf_counter()
    bars = await collect(source, Interval.D1, utc(2023, 1, 1), utc(2025, 1, 1))
    elapsed = time.perf_counter() - started
    assert len(bars) > 50 * 500
    assert elapsed < 2.0  # ~0.25 s on a laptop core; generous for loaded CI machines


# -- live -------------------------------------------------------------------------------------


async def test_live_on_a_saturday_yields_crypto_bars_only() -> None:
    saturday_noon = utc(2024, 6, 8, 12)
    source = provider(now=saturday_noon)
    crypto = {i.instrument_id for i in source.instruments() if i.asset_class is AssetClass.CRYPTO}
    stream = source.live(Interval.S5)

    # The clock stands on a boundary: the bar that just ended comes at once, then nothing
    # until the clock moves.
    bars = await next_bars(stream)
    assert {b.instrument_id for b in bars} == crypto and len(bars) == len(crypto)
    assert all(b.ts_event == saturday_noon - timedelta(seconds=5) for b in bars)
    assert all(b.ts_known == saturday_noon for b in bars)
    await stream.aclose()


async def test_live_bars_continue_the_history() -> None:
    clock = FakeClock(utc(2024, 6, 5, 15, 0, 4, 900_000))
    source = SimulatedProvider(clock=clock)
    stream = source.live(Interval.S5)
    pending = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.15)
    assert not pending.done()  # the clock has not reached the 15:00:05 boundary
    clock.now = utc(2024, 6, 5, 15, 0, 5)
    bars = [await asyncio.wait_for(pending, 1.0), *await next_bars(stream)]
    await stream.aclose()

    assert {b.instrument_id for b in bars} == {i.instrument_id for i in source.instruments()}
    history = await collect(provider(now=clock.now), Interval.S5, utc(2024, 6, 5, 15), clock.now)
    assert sorted(bars, key=lambda b: b.instrument_id) == sorted(
        [b.model_copy(update={"ts_known": clock.now}) for b in history],
        key=lambda b: b.instrument_id,
    )


async def test_live_crypto_day_opens_at_the_previous_daily_close() -> None:
    midnight = utc(2024, 6, 8)
    source = provider(now=midnight + timedelta(seconds=5))
    live = source.bars_ending_at(Interval.S5, midnight + timedelta(seconds=5))
    (first,) = [b for b in live if b.instrument_id == "BTC-USD"]
    (yesterday,) = await collect(
        source, Interval.D1, midnight - timedelta(days=1), midnight, "BTC-USD"
    )
    assert first.ts_event == midnight and first.open == yesterday.close
    assert source.bars_ending_at(Interval.S5, midnight + timedelta(seconds=10)) == []  # future
