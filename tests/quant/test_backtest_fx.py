"""FX pairs in the event engine: base-currency sizing, margin, P&L converted to USD (by hand)."""

from __future__ import annotations

import numpy as np
import pytest

from sextant_quant.backtest import (
    BAR_DTYPE,
    BacktestInputError,
    Bar,
    Commission,
    Context,
    InstrumentSpec,
    Slippage,
    run_events,
)

HOUR = 3_600_000_000_000


def frame(close: list[float]) -> np.ndarray:
    arr = np.zeros(len(close), dtype=BAR_DTYPE)
    arr["ts"] = np.arange(len(close)) * HOUR
    arr["open"] = arr["high"] = arr["low"] = arr["close"] = close
    arr["volume"] = 1.0
    return arr


class RoundTrip:
    """Trade ``qty`` (signed) on the first bar and flatten on the last."""

    def __init__(self, symbol: str, qty: float, last: int) -> None:
        self.symbol, self.qty, self.last = symbol, qty, last

    def on_bar(self, bar: Bar, ctx: Context) -> None:
        if ctx.bar_index == 0 and self.qty > 0:
            ctx.buy(self.symbol, self.qty)
        elif ctx.bar_index == 0:
            ctx.sell(self.symbol, -self.qty)
        elif ctx.bar_index == self.last:
            held = ctx.position(self.symbol)
            if held > 0:
                ctx.sell(self.symbol, held)
            elif held < 0:
                ctx.buy(self.symbol, -held)


def test_eurusd_round_trip_is_500_usd_without_costs() -> None:
    eur = InstrumentSpec("EURUSD", kind="fx", margin=0.02, lot_size=1_000)
    res = run_events(
        {"EURUSD": frame([1.1000, 1.1020, 1.1050])},
        RoundTrip("EURUSD", 100_400, last=2),  # rounded down to 100 lots of 1,000
        init_cash=10_000.0,
        instruments=[eur],
    )
    buy, sell = res.fills
    assert buy.qty == 100_000 and sell.qty == -100_000
    # No notional changes hands: cash moves only by realized P&L; equity marks 100k * 0.0020.
    assert res.cash.tolist() == pytest.approx([10_000.0, 10_000.0, 10_500.0])
    assert res.equity.tolist() == pytest.approx([10_000.0, 10_200.0, 10_500.0])
    assert res.positions["EURUSD"].realized_pnl == pytest.approx(500.0)


def test_eurusd_round_trip_with_spread_and_commission() -> None:
    eur = InstrumentSpec(
        "EUR/USD",
        kind="fx",
        margin=0.02,
        commission=Commission(percent=0.00002),  # 0.2 bp of the USD notional per fill
        slippage=Slippage(per_unit=0.00005),  # half of a 1-pip spread
    )
    res = run_events(
        {"EUR/USD": frame([1.1000, 1.1020, 1.1050])},
        RoundTrip("EUR/USD", 100_000, last=2),
        init_cash=10_000.0,
        instruments=[eur],
    )
    buy, sell = res.fills
    assert buy.price == pytest.approx(1.10005) and sell.price == pytest.approx(1.10495)
    assert buy.commission == pytest.approx(110_005 * 0.00002)  # 2.2001
    assert sell.commission == pytest.approx(110_495 * 0.00002)  # 2.2099
    # 500 - 10 pips of spread (1 pip each way) - 4.41 commission
    assert res.final_value == pytest.approx(10_000.0 + 490.0 - 4.41)
    assert res.commission == pytest.approx(4.41)


@pytest.mark.parametrize(
    ("qty", "closes", "pnl_jpy"),
    [
        (100_000, [150.00, 149.00, 151.50], 150_000.0),  # long USD: +1.50 JPY per USD
        (-100_000, [150.00, 151.00, 148.00], 200_000.0),  # short USD: +2.00 JPY per USD
    ],
)
def test_usdjpy_pnl_converted_to_usd_at_the_exit_rate(
    qty: float, closes: list[float], pnl_jpy: float
) -> None:
    jpy = InstrumentSpec("USDJPY", kind="fx", margin=0.05, commission=Commission(percent=0.00002))
    res = run_events(
        {"USDJPY": frame(closes)},
        RoundTrip("USDJPY", qty, last=2),
        init_cash=10_000.0,
        instruments=[jpy],
    )
    # The USD notional of 100,000 USDJPY is 100,000 USD: 2.00 commission per fill.
    assert [f.commission for f in res.fills] == pytest.approx([2.0, 2.0])
    mid = qty * (closes[1] - closes[0]) / closes[1]  # JPY mark converted at that bar's close
    assert res.equity[1] == pytest.approx(10_000.0 - 2.0 + mid)
    exit_usd = pnl_jpy / closes[2]  # 150,000 / 151.5 = 990.10; 200,000 / 148 = 1,351.35
    assert res.positions["USDJPY"].realized_pnl == pytest.approx(exit_usd)
    assert res.final_value == pytest.approx(10_000.0 + exit_usd - 4.0)


def test_usdjpy_next_open_fill_converts_at_the_last_known_close() -> None:
    arr = frame([150.0, 152.0, 151.0])
    arr["open"][2] = 153.0
    jpy = InstrumentSpec("USDJPY", kind="fx")

    class BuyThenSell:
        def on_bar(self, bar: Bar, ctx: Context) -> None:
            if ctx.bar_index == 0:
                ctx.buy("USDJPY", 1_000)
            elif ctx.bar_index == 1:
                ctx.sell("USDJPY", 1_000)

    res = run_events(
        {"USDJPY": arr}, BuyThenSell(), init_cash=10_000.0, instruments=[jpy], fill_at="next_open"
    )
    # bought at bar 1's open (152), sold at bar 2's open (153): 1,000 JPY at bar 1's close 152
    assert [f.price for f in res.fills] == [152.0, 153.0]
    assert res.final_value == pytest.approx(10_000.0 + 1_000.0 / 152.0)


def test_fx_margin_and_target_percent_sizing() -> None:
    eur = InstrumentSpec("EURUSD", kind="fx", margin=0.02)
    too_big = run_events(
        {"EURUSD": frame([1.1, 1.2])},
        RoundTrip("EURUSD", 1_000_000, last=1),  # needs 0.02 * 1.1M = 22,000 of equity
        init_cash=10_000.0,
        instruments=[eur],
    )
    assert too_big.fills == [] and too_big.final_value == 10_000.0

    class Target:
        def __init__(self, symbol: str, percent: float) -> None:
            self.symbol, self.percent = symbol, percent

        def on_bar(self, bar: Bar, ctx: Context) -> None:
            if ctx.bar_index == 0:
                ctx.order_target_percent(self.symbol, self.percent)

    one_x = run_events(
        {"EURUSD": frame([1.1, 1.1])}, Target("EURUSD", 1.0), init_cash=110_000.0, instruments=[eur]
    )
    assert one_x.fills[0].qty == pytest.approx(100_000)  # 110,000 USD of EUR at 1.10
    jpy = InstrumentSpec("USDJPY", kind="fx", margin=0.02)
    half = run_events(
        {"USDJPY": frame([150.0, 150.0])},
        Target("USDJPY", -0.5),
        init_cash=100_000.0,
        instruments=[jpy],
    )
    assert half.fills[0].qty == pytest.approx(-50_000)  # 50,000 USD short


def test_fx_symbol_validation() -> None:
    with pytest.raises(BacktestInputError, match="cross pairs"):
        InstrumentSpec("EURJPY", kind="fx")
    with pytest.raises(BacktestInputError, match="currency pair"):
        InstrumentSpec("EURO", kind="fx")
    with pytest.raises(BacktestInputError, match="fx"):
        InstrumentSpec("X", kind="bond")  # type: ignore[arg-type]
    assert InstrumentSpec("usd_jpy", kind="fx").fx_pair == ("USD", "JPY")
