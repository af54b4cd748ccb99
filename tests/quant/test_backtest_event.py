"""Event-driven engine: parity with the vectorized engine, costs, asset mechanics, bad input."""

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
    MaCross,
    MakerTaker,
    MeanReversion,
    Momentum,
    Slippage,
    SmaCross,
    SpecStrategy,
    run_events,
    run_spec,
)

MINUTE = 60_000_000_000
DAY = 86_400_000_000_000


def frame(close: np.ndarray, step: int = MINUTE, volume: float = 1.0) -> np.ndarray:
    arr = np.zeros(close.shape[0], dtype=BAR_DTYPE)
    arr["ts"] = np.arange(close.shape[0]) * step
    arr["open"] = arr["high"] = arr["low"] = arr["close"] = close
    arr["volume"] = volume
    return arr


def gbm(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out: np.ndarray = 100 * np.exp(np.cumsum(rng.normal(0, 0.002, n)))
    return out


@pytest.mark.parametrize(
    "spec",
    [
        SmaCross(20, 80),
        MaCross(10, 50, "SMA", "EMA", allow_short=True),
        Momentum(30),
        MeanReversion(20, 1.5, 0.2),
    ],
    ids=str,
)
def test_parity_with_vectorized(spec: object) -> None:
    close = gbm(5000, seed=4)
    costs = {"fees": 0.001, "slippage": 0.0005}
    vec = run_spec(close, spec, **costs)  # type: ignore[arg-type]
    ev = run_events(
        {"X": frame(close)},
        SpecStrategy(spec),  # type: ignore[arg-type]
        commission=Commission(percent=0.001),
        slippage=Slippage(0.0005),
    )
    trades = ev.trades["X"]
    assert len(vec.trades) > 5
    assert trades.entry_index.tolist() == vec.trades.entry_index.tolist()
    assert trades.exit_index.tolist() == vec.trades.exit_index.tolist()
    np.testing.assert_allclose(trades.pnl, vec.trades.pnl, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(trades.size, vec.trades.size, rtol=1e-9)
    np.testing.assert_allclose(ev.equity, vec.equity, rtol=1e-9)
    assert ev.total_return == pytest.approx(vec.total_return, rel=1e-9)


def test_bar_sequence_input_and_realized_pnl() -> None:
    closes = [10.0, 11.0, 12.0, 9.0]
    bars = [Bar("A", i * DAY, c, c, c, c, 100.0) for i, c in enumerate(closes)]

    class Script:
        def on_bar(self, bar: Bar, ctx: Context) -> None:
            if ctx.bar_index == 0:
                ctx.buy("A", 5)
            elif ctx.bar_index == 2:
                ctx.sell("A", 3)

    res = run_events(bars, Script(), init_cash=1000.0, commission=Commission(per_unit=0.1))
    pos = res.positions["A"]
    assert pos.qty == 2 and pos.realized_pnl == pytest.approx(3 * 2.0)
    # cash: 1000 - 50 - 0.5 + 36 - 0.3 ; equity at the end adds 2 * 9
    assert res.cash[-1] == pytest.approx(985.2)
    assert res.final_value == pytest.approx(985.2 + 18.0)
    assert res.commission == pytest.approx(0.8)


def test_futures_multiplier_and_daily_variation_margin() -> None:
    closes = np.array([100.0, 102.0, 99.0])
    fut = InstrumentSpec(
        "ES", kind="future", multiplier=50, margin=0.1, commission=Commission(per_unit=2.0)
    )

    class BuyTwo:
        def on_bar(self, bar: Bar, ctx: Context) -> None:
            if ctx.bar_index == 0:
                ctx.buy("ES", 2)

    res = run_events(
        {"ES": frame(closes, step=DAY)}, BuyTwo(), init_cash=100_000.0, instruments=[fut]
    )
    # day 0: only the commission leaves cash; day 1: settle at 100 (0), equity marks +200;
    # day 2: settle day 1's close 102 into cash (+200), equity marks 2*50*(99-102) = -300
    assert res.cash.tolist() == pytest.approx([99_996.0, 99_996.0, 100_196.0])
    assert res.equity.tolist() == pytest.approx([99_996.0, 100_196.0, 99_896.0])


def test_futures_initial_margin_rejects_oversized_order() -> None:
    fut = InstrumentSpec("ES", kind="future", multiplier=50, margin=0.1)

    class TooBig:
        def on_bar(self, bar: Bar, ctx: Context) -> None:
            if ctx.bar_index == 0:
                ctx.buy("ES", 30)  # needs 0.1 * 30 * 50 * 100 = 15,000 of equity

    res = run_events(
        {"ES": frame(np.array([100.0, 101.0]), step=DAY)},
        TooBig(),
        init_cash=10_000.0,
        instruments=[fut],
    )
    assert res.fills == [] and res.final_value == 10_000.0


def test_crypto_fractional_maker_taker() -> None:
    arr = frame(np.array([20_000.0, 20_500.0, 20_800.0]))
    arr["open"][1], arr["high"][1] = 20_500.0, 21_500.0
    btc = InstrumentSpec("BTC", kind="crypto", commission=MakerTaker(maker=0.0002, taker=0.0005))

    class AllInThenLimit:
        def on_bar(self, bar: Bar, ctx: Context) -> None:
            if ctx.bar_index == 0:
                ctx.order_target_percent("BTC", 1.0)
                ctx.sell("BTC", 1000.0 / 1.0005 / 20_000.0, limit=21_000.0)

    res = run_events({"BTC": arr}, AllInThenLimit(), init_cash=1000.0, instruments=[btc])
    qty = 1000.0 / 1.0005 / 20_000.0
    buy, sell = res.fills
    assert buy.qty == pytest.approx(qty) and not buy.maker
    assert buy.commission == pytest.approx(qty * 20_000.0 * 0.0005)
    assert sell.price == 21_000.0 and sell.maker and sell.bar_index == 1
    assert sell.commission == pytest.approx(qty * 21_000.0 * 0.0002)
    assert res.final_value == pytest.approx(qty * 21_000.0 * (1 - 0.0002), rel=1e-12)


def test_no_fills_on_zero_volume_bars() -> None:
    arr = frame(np.array([10.0, 11.0, 12.0, 13.0]))
    arr["volume"][0] = arr["volume"][1] = 0.0
    arr["open"][2] = 11.5

    class BuyFirst:
        def on_bar(self, bar: Bar, ctx: Context) -> None:
            if ctx.bar_index == 0:
                ctx.buy("X", 1)

    res = run_events({"X": arr}, BuyFirst())
    (fill,) = res.fills
    assert fill.bar_index == 2 and fill.price == 11.5  # next traded bar's open


def test_fill_at_next_open_and_multi_symbol() -> None:
    a, b = frame(gbm(300, 1)), frame(gbm(300, 2))
    b["ts"] += 1  # interleaved, not simultaneous
    res = run_events({"A": a, "B": b}, SpecStrategy(SmaCross(5, 20)), fill_at="next_open")
    assert res.equity.shape == (600,)
    assert set(res.trades) == {"A", "B"}
    for f in res.fills:
        assert res.symbols[res.symbol_index[f.bar_index]] == f.symbol


def test_bad_input() -> None:
    strat = SpecStrategy(SmaCross(2, 3))
    with pytest.raises(BacktestInputError, match="empty"):
        run_events([], strat)
    arr = frame(np.array([1.0, 2.0, 3.0]))
    arr["ts"][2] = 0
    with pytest.raises(BacktestInputError, match=r"strictly increasing.*position 2"):
        run_events({"X": arr}, strat)
    arr = frame(np.array([1.0, np.nan, 3.0]))
    with pytest.raises(BacktestInputError, match=r"bar 1 .* open=nan"):
        run_events({"X": arr}, strat)
    with pytest.raises(BacktestInputError, match=r"unknown symbol\(s\) \['X'\]"):
        run_events({"X": frame(np.ones(3))}, strat, instruments=[InstrumentSpec("Y")])
    with pytest.raises(ValueError, match="commission percent must be >= 0"):
        Commission(percent=-0.01)

    class Stray:
        def on_bar(self, bar: Bar, ctx: Context) -> None:
            ctx.buy("NOPE", 1)

    with pytest.raises(BacktestInputError, match="unknown symbol 'NOPE'"):
        run_events({"X": frame(np.ones(3))}, Stray())
    bars = [Bar("X", 5, 1, 1, 1, 1, 1), Bar("X", 4, 1, 1, 1, 1, 1)]
    with pytest.raises(BacktestInputError, match="non-decreasing"):
        run_events(bars, strat)
