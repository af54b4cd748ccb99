"""Crypto trades 24/7: a position opened on a Friday is marked and closed on weekend bars."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from sextant_quant.backtest import BAR_DTYPE, Bar, Context, InstrumentSpec, MakerTaker, run_events

FRIDAY = datetime(2024, 1, 5, tzinfo=UTC)
DAY = 86_400_000_000_000


def test_crypto_position_opened_friday_is_marked_and_closed_over_the_weekend() -> None:
    # Fri, Sat, Sun, Mon daily bars with no session gap: (open, high, low, close)
    ohlc = [
        (39_800.0, 40_100.0, 39_700.0, 40_000.0),
        (40_000.0, 41_200.0, 39_900.0, 41_000.0),
        (41_500.0, 42_500.0, 41_400.0, 42_200.0),
        (42_200.0, 42_400.0, 41_000.0, 41_100.0),
    ]
    arr = np.zeros(len(ohlc), dtype=BAR_DTYPE)
    arr["ts"] = int(FRIDAY.timestamp()) * 1_000_000_000 + np.arange(len(ohlc)) * DAY
    for f, col in enumerate(("open", "high", "low", "close")):
        arr[col] = [row[f] for row in ohlc]
    arr["volume"] = 1.0
    btc = InstrumentSpec("BTC", kind="crypto", commission=MakerTaker(maker=0.0002, taker=0.0005))

    class WeekendTrader:
        def on_bar(self, bar: Bar, ctx: Context) -> None:
            day = datetime.fromtimestamp(bar.ts / 1e9, UTC).strftime("%a")
            if day == "Fri":
                ctx.buy("BTC", 0.2)  # taker at Friday's close
            elif day == "Sat":
                ctx.sell("BTC", 0.1, limit=42_000.0)  # resting: maker on Sunday
            elif day == "Sun":
                ctx.sell("BTC", ctx.position("BTC"))  # the rest at Sunday's close, taker

    res = run_events({"BTC": arr}, WeekendTrader(), init_cash=10_000.0, instruments=[btc])
    # Fri: pay 0.2 x 40,000 = 8,000 + 0.0005 x 8,000 = 4 -> cash 1,996
    # Sat: no trade, marked at Saturday's close: 1,996 + 0.2 x 41,000 = 10,196
    # Sun: the limit fills at 42,000 (open 41,500 below it, high reaches it): +4,200 - 0.84;
    #      then 0.1 at the close 42,200: +4,220 - 2.11 -> flat with 10,413.05 in cash
    assert res.cash.tolist() == pytest.approx([1_996.0, 1_996.0, 10_413.05, 10_413.05])
    assert res.equity.tolist() == pytest.approx([9_996.0, 10_196.0, 10_413.05, 10_413.05])
    fills = [
        (datetime.fromtimestamp(f.ts / 1e9, UTC).strftime("%a"), f.qty, f.price, f.maker)
        for f in res.fills
    ]
    assert fills == [
        ("Fri", 0.2, 40_000.0, False),
        ("Sun", -0.1, 42_000.0, True),
        ("Sun", -0.1, 42_200.0, False),
    ]
    assert [f.commission for f in res.fills] == pytest.approx([4.0, 0.84, 2.11])
    assert res.positions["BTC"].qty == 0.0
    (trade_pnl,) = res.trades["BTC"].pnl
    assert trade_pnl == pytest.approx(10_413.05 - 10_000.0)
