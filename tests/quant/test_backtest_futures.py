"""Futures in the event engine: daily variation margin, maintenance-margin calls with forced
liquidation, and rolls from one contract to the next (all hand-computed)."""

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
    MarginCall,
    Roll,
    RollingStrategy,
    Slippage,
    run_events,
)

DAY = 86_400_000_000_000


def daily(closes: list[float], start_day: int = 0) -> np.ndarray:
    arr = np.zeros(len(closes), dtype=BAR_DTYPE)
    arr["ts"] = (np.arange(len(closes)) + start_day) * DAY
    arr["open"] = arr["high"] = arr["low"] = arr["close"] = closes
    arr["volume"] = 1.0
    return arr


class BuyOnce:
    """Buy ``qty`` of each symbol in ``orders`` on its first bar."""

    def __init__(self, **orders: float) -> None:
        self.orders = dict(orders)

    def on_bar(self, bar: Bar, ctx: Context) -> None:
        qty = self.orders.pop(bar.symbol, 0.0)
        if qty:
            ctx.buy(bar.symbol, qty)


def es(**kw: object) -> InstrumentSpec:
    return InstrumentSpec("ES", kind="future", multiplier=50, margin=0.1, **kw)  # type: ignore[arg-type]


def test_long_future_pays_and_receives_variation_margin_daily() -> None:
    fut = es(commission=Commission(per_unit=2.0))
    res = run_events(
        {"ES": daily([100.0, 103.0, 101.0, 98.0, 104.0])},
        BuyOnce(ES=2),
        init_cash=10_000.0,
        instruments=[fut],
    )
    # Each day's first bar settles the previous close: 2 contracts x 50 x the price change.
    # day 0: -4 commission; day 1: settle 100 (0); day 2: +300; day 3: -200; day 4: -300.
    assert res.cash.tolist() == pytest.approx([9_996.0, 9_996.0, 10_296.0, 10_096.0, 9_796.0])
    # equity adds the variation since the last settlement: 2 x 50 x (close - last settle)
    assert res.equity.tolist() == pytest.approx([9_996.0, 10_296.0, 10_096.0, 9_796.0, 10_396.0])
    assert res.margin_calls == [] and res.positions["ES"].qty == 2


def test_margin_breach_liquidates_at_the_settlement_price_with_costs() -> None:
    fut = es(commission=Commission(per_unit=2.0), slippage=Slippage(per_unit=0.25))
    res = run_events(
        {"ES": daily([100.0, 85.0, 80.0])}, BuyOnce(ES=1), init_cash=1_000.0, instruments=[fut]
    )
    # day 0: buy 1 at 100.25 (slippage), fee 2 -> cash 998 (initial margin 501.25 <= 998),
    # marked 50 x (100 - 100.25) = -12.5; day 1 settles 100: cash 985.5. Day 2's bar settles
    # day 1's close 85: 50 x (85 - 100) = -750 -> cash 235.5, below the maintenance
    # 0.075 x 50 x 85 = 318.75: sell 1 at 85 - 0.25, variation -12.5, fee 2 -> 221.
    assert res.cash.tolist() == pytest.approx([998.0, 985.5, 221.0])
    assert res.equity.tolist() == pytest.approx([985.5, 235.5, 221.0])
    assert res.positions["ES"].qty == 0
    (call,) = res.margin_calls
    assert call[:3] == (2, 2 * DAY, "ES") and call.liquidated == ("ES",)
    assert (call.cash, call.requirement, call.cash_after) == pytest.approx((235.5, 318.75, 221.0))
    assert isinstance(call, MarginCall)
    sell = res.fills[-1]
    assert (sell.bar_index, sell.qty, sell.price, sell.commission) == (2, -1, 84.75, 2.0)


def test_liquidation_stops_once_the_requirement_is_met() -> None:
    specs = [
        InstrumentSpec("ES", kind="future", multiplier=50, margin=0.1, maintenance_margin=0.05),
        InstrumentSpec("NQ", kind="future", multiplier=20, margin=0.1, maintenance_margin=0.05),
    ]
    bars = {"ES": daily([100.0, 65.0, 66.0]), "NQ": daily([100.0, 100.0, 100.0])}
    res = run_events(bars, BuyOnce(ES=1, NQ=1), init_cash=2_000.0, instruments=specs)
    # ES settles 65 on day 2: cash 2000 - 50 x 35 = 250 < 0.05 x 50 x 65 + 0.05 x 20 x 100
    # = 262.5, so ES (the settling contract) is closed at 65; 250 covers NQ's 100: NQ stays.
    (call,) = res.margin_calls
    assert call.symbol == "ES" and call.liquidated == ("ES",)
    assert call.cash == pytest.approx(250.0) and call.requirement == pytest.approx(262.5)
    assert call.cash_after == pytest.approx(250.0)
    assert res.positions["ES"].qty == 0 and res.positions["NQ"].qty == 1
    assert res.final_value == pytest.approx(250.0)


def test_maintenance_margin_validation() -> None:
    assert es().maintenance == pytest.approx(0.075)
    assert es(maintenance_margin=0.05).maintenance == 0.05
    with pytest.raises(BacktestInputError, match="maintenance_margin must be <="):
        es(maintenance_margin=0.2)


def test_roll_closes_the_front_and_opens_the_next_contract() -> None:
    fee = Commission(per_unit=2.0)
    specs = [
        InstrumentSpec("ESH", kind="future", multiplier=50, margin=0.1, commission=fee),
        InstrumentSpec("ESM", kind="future", multiplier=50, margin=0.1, commission=fee),
    ]
    bars = {"ESH": daily([100.0, 102.0, 104.0]), "ESM": daily([101.0, 103.0, 105.0, 106.0])}
    strategy = RollingStrategy(BuyOnce(ESH=2), [Roll(DAY, "ESH", "ESM")])
    res = run_events(bars, strategy, init_cash=10_000.0, instruments=specs)
    fills = [(f.bar_index, f.symbol, f.qty, f.price, f.commission) for f in res.fills]
    # stream: ESH d0, ESM d0, ESH d1, ESM d1, ESH d2, ESM d2, ESM d3
    assert fills == [
        (0, "ESH", 2, 100.0, 4.0),
        (2, "ESH", -2, 102.0, 4.0),
        (3, "ESM", 2, 103.0, 4.0),
    ]
    # cash: 10000 - 4; close ESH: +2 x 50 x 2 - 4; open ESM: -4; d3 settles ESM at 105: +200
    assert res.cash.tolist() == pytest.approx(
        [9_996.0, 9_996.0, 10_192.0, 10_188.0, 10_188.0, 10_188.0, 10_388.0]
    )
    assert res.positions["ESH"].qty == 0 and res.positions["ESM"].qty == 2
    assert res.final_value == pytest.approx(10_388.0 + 2 * 50 * (106.0 - 105.0))


def test_roll_of_a_flat_front_opens_nothing() -> None:
    specs = [InstrumentSpec(s, kind="future", multiplier=50, margin=0.1) for s in ("H", "M")]
    bars = {"H": daily([100.0, 101.0]), "M": daily([100.0, 101.0])}
    res = run_events(bars, RollingStrategy(None, [Roll(DAY, "H", "M")]), instruments=specs)
    assert res.fills == []
    with pytest.raises(BacktestInputError, match="to itself"):
        Roll(DAY, "H", "H")
