"""Option mechanics in the event engine: exercise, assignment, expiry, model marks, equity identity.

Every expected number is computed by hand from the rules in ``sextant_quant.backtest.event``:
option premiums are paid/received as price x 100 per contract, physical exercise books 100
shares at the strike against cash, cash settlement pays intrinsic x 100, and options without bars
are marked with ``bsm_price`` (BAW when American) at Act/365 years from the bar's ts.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from sextant_quant.backtest import (
    BacktestInputError,
    Bar,
    Context,
    EventResult,
    InstrumentSpec,
    OptionExpiry,
    run_events,
)
from sextant_quant.options import baw_price, bsm_price

DAY = 86_400 * 1_000_000_000
T0 = 1_704_067_200_000_000_000  # 2024-01-01T00:00Z
YEAR = 365 * DAY
EXPIRY = T0 + 3 * DAY + 21 * 3_600 * 1_000_000_000  # after bar 3 starts, before bar 4
CLOSES = [100.0, 102.0, 105.0, 110.0, 111.0]  # settlement at expiry = bar 3's close, 110
VOL, RATE = 0.3, 0.02
CASH = 20_000.0


def underlying_bars(closes: Sequence[float] = CLOSES, symbol: str = "XYZ") -> list[Bar]:
    return [
        Bar(symbol, T0 + d * DAY, c, c + 1.0, c - 1.0, c, 1_000.0) for d, c in enumerate(closes)
    ]


def stock() -> InstrumentSpec:
    return InstrumentSpec("XYZ", lot_size=1.0)


def option(option_type: str = "call", strike: float = 100.0, **kw: object) -> InstrumentSpec:
    args: dict[str, object] = {"expiry": EXPIRY, "pricing_vol": VOL, "rate": RATE} | kw
    return InstrumentSpec.option(
        "OPT",
        underlying="XYZ",
        option_type=option_type,  # type: ignore[arg-type]
        strike=strike,
        **args,  # type: ignore[arg-type]
    )


def bsm(option_type: str, spot: float, strike: float, bar: int) -> float:
    t = (EXPIRY - (T0 + bar * DAY)) / YEAR
    return float(bsm_price(option_type, spot, strike, t, RATE, RATE, VOL))


class Script:
    """Places ``orders[bar] = [(symbol, qty), ...]`` on the first bar seen at that index."""

    def __init__(self, orders: dict[int, list[tuple[str, float]]]) -> None:
        self.orders = orders
        self.seen = -1

    def on_bar(self, bar: Bar, ctx: Context) -> None:
        day = (bar.ts - T0) // DAY
        if day == self.seen:
            return
        self.seen = day
        for symbol, qty in self.orders.get(day, []):
            if qty > 0:
                ctx.buy(symbol, qty)
            else:
                ctx.sell(symbol, -qty)


def run(
    spec: InstrumentSpec, orders: dict[int, list[tuple[str, float]]], bars: list[Bar] | None = None
) -> EventResult:
    return run_events(
        bars or underlying_bars(),
        Script(orders),
        init_cash=CASH,
        instruments=[stock(), spec],
    )


def test_long_call_itm_physical_is_exercised_into_shares_at_strike() -> None:
    res = run(option("call", 100.0), {0: [("OPT", 1)]})
    premium = bsm("call", 100.0, 100.0, 0)
    assert res.cash[0] == pytest.approx(CASH - 100 * premium)
    assert res.equity[0] == pytest.approx(CASH)  # bought at the model price it is marked at
    # Expiry on bar 4 at bar 3's close (110): pay 100 x 100, receive 100 shares.
    assert res.positions["OPT"].qty == 0
    assert res.positions["XYZ"].qty == 100
    assert res.positions["XYZ"].avg_price == 100.0
    assert res.cash[4] == pytest.approx(CASH - 100 * premium - 100 * 100.0)
    assert res.equity[4] == pytest.approx(res.cash[4] + 100 * 111.0)
    assert res.expiries == [
        OptionExpiry(4, T0 + 4 * DAY, "OPT", 1.0, 110.0, 10.0, "exercised", -10_000.0)
    ]
    assert [(f.symbol, f.qty, f.price, f.commission) for f in res.fills[1:]] == [
        ("OPT", -1.0, 0.0, 0.0),
        ("XYZ", 100.0, 100.0, 0.0),
    ]


def test_long_call_itm_cash_settled_credits_intrinsic() -> None:
    res = run(option("call", 100.0, settlement="cash"), {0: [("OPT", 1)]})
    premium = bsm("call", 100.0, 100.0, 0)
    assert res.positions["OPT"].qty == 0
    assert res.positions["XYZ"].qty == 0
    assert res.cash[4] == pytest.approx(CASH - 100 * premium + 10.0 * 100)
    assert res.equity[4] == pytest.approx(res.cash[4])
    assert res.expiries[0].action == "exercised"
    assert res.expiries[0].cash == pytest.approx(1_000.0)
    assert res.positions["OPT"].realized_pnl == pytest.approx(100 * (10.0 - premium))


def test_otm_put_expires_worthless_and_the_premium_is_lost() -> None:
    res = run(option("put", 90.0), {0: [("OPT", 2)]})
    premium = bsm("put", 100.0, 90.0, 0)
    assert res.positions["OPT"].qty == 0
    assert res.positions["XYZ"].qty == 0
    assert res.cash[3] == pytest.approx(CASH - 2 * 100 * premium)
    assert res.cash[4] == res.cash[3]  # nothing moves at expiry
    assert res.equity[4] == pytest.approx(CASH - 2 * 100 * premium)
    assert res.positions["OPT"].realized_pnl == pytest.approx(-2 * 100 * premium)
    assert res.expiries[0].action == "expired"
    assert res.expiries[0].intrinsic == 0.0
    assert res.expiries[0].cash == 0.0


def test_short_call_itm_is_assigned_into_a_short_stock_position() -> None:
    res = run(option("call", 100.0), {0: [("OPT", -1)]})
    premium = bsm("call", 100.0, 100.0, 0)
    assert res.cash[0] == pytest.approx(CASH + 100 * premium)
    assert res.positions["OPT"].qty == 0
    assert res.positions["XYZ"].qty == -100
    assert res.cash[4] == pytest.approx(CASH + 100 * premium + 100 * 100.0)
    assert res.equity[4] == pytest.approx(res.cash[4] - 100 * 111.0)
    assert res.expiries[0].action == "assigned"


def test_long_put_itm_physical_delivers_shares_at_strike() -> None:
    closes = [100.0, 95.0, 90.0, 80.0, 81.0]
    res = run(option("put", 100.0), {0: [("XYZ", 100), ("OPT", 1)]}, underlying_bars(closes))
    # Buy 100 shares at 100 and a put; at expiry (spot 80) deliver the shares for 100 each.
    premium = bsm("put", 100.0, 100.0, 0)
    assert res.positions["XYZ"].qty == 0
    assert res.positions["XYZ"].realized_pnl == pytest.approx(0.0)
    assert res.cash[4] == pytest.approx(CASH - 100 * premium)


def test_model_mark_without_quotes_equals_bsm_price() -> None:
    res = run(option("call", 100.0), {0: [("OPT", 3)]})
    for bar in range(4):
        mark = res.equity[bar] - res.cash[bar]
        assert mark == pytest.approx(3 * 100 * bsm("call", CLOSES[bar], 100.0, bar), rel=1e-12)


def test_american_model_mark_uses_baw() -> None:
    res = run(option("put", 105.0, exercise="american", carry=-0.03), {0: [("OPT", 1)]})
    t = (EXPIRY - (T0 + DAY)) / YEAR
    expected = float(baw_price("put", 102.0, 105.0, t, RATE, -0.03, VOL))
    assert res.equity[1] - res.cash[1] == pytest.approx(100 * expected, rel=1e-12)


def test_option_with_bars_fills_and_marks_at_its_quotes() -> None:
    quotes = [2.0, 3.5, 6.0, 10.5, 1.5]  # the bar after expiry is ignored by the settlement
    bars = sorted(
        underlying_bars() + underlying_bars(quotes, symbol="OPT"), key=lambda b: (b.ts, b.symbol)
    )
    spec = option("call", 100.0, pricing_vol=None)
    res = run(spec, {0: [("OPT", 1)]}, bars)
    assert res.fills[0].price == 2.0
    # bar rows alternate OPT, XYZ; rows 1, 3, 5 end each of days 0-2 with the mark at the quote
    for day, row in enumerate((1, 3, 5)):
        assert res.equity[row] - res.cash[row] == pytest.approx(100 * quotes[day])
    assert res.positions["XYZ"].qty == 100
    assert res.final_value == pytest.approx(CASH - 200.0 - 10_000.0 + 100 * 111.0)


def test_next_open_fill_of_model_priced_option_uses_the_open() -> None:
    bars = underlying_bars()
    bars[1] = bars[1]._replace(open=101.0)
    res = run_events(
        bars,
        Script({0: [("OPT", 1)]}),
        init_cash=CASH,
        instruments=[stock(), option()],
        fill_at="next_open",
    )
    assert res.fills[0].bar_index == 1
    assert res.fills[0].price == pytest.approx(bsm("call", 101.0, 100.0, 1))


def test_equity_identity_holds_every_bar() -> None:
    closes = [100.0, 97.0, 104.0, 96.0, 99.0, 101.0]
    bars = underlying_bars(closes)
    put = InstrumentSpec.option(
        "PUT",
        underlying="XYZ",
        option_type="put",
        strike=98.0,
        expiry=EXPIRY,
        pricing_vol=VOL,
        rate=RATE,
        settlement="cash",
    )
    specs = [stock(), option("call", 100.0), put]
    script = Script(
        {0: [("OPT", 2), ("PUT", -3), ("XYZ", 50)], 1: [("OPT", -1)], 2: [("XYZ", -20)]}
    )
    res = run_events(bars, script, init_cash=CASH, instruments=specs)
    qty = {"XYZ": 0.0, "OPT": 0.0, "PUT": 0.0}
    fills = iter(res.fills)
    pending = next(fills, None)
    for bar in range(len(closes)):
        while pending is not None and pending.bar_index == bar:
            qty[pending.symbol] += pending.qty
            pending = next(fills, None)
        value = qty["XYZ"] * closes[bar]
        if bar < 4:  # before expiry the options are model priced at the bar's close
            value += 100 * qty["OPT"] * bsm("call", closes[bar], 100.0, bar)
            value += 100 * qty["PUT"] * bsm("put", closes[bar], 98.0, bar)
        else:
            assert qty["OPT"] == qty["PUT"] == 0.0
        assert res.equity[bar] == pytest.approx(res.cash[bar] + value, rel=1e-12), bar
    # Settlement at 96: the remaining long call expires worthless, the short put is cash-assigned.
    assert [(e.symbol, e.action, e.cash) for e in res.expiries] == [
        ("OPT", "expired", 0.0),
        ("PUT", "assigned", pytest.approx(-3 * 100 * 2.0)),
    ]
    assert np.all(np.isfinite(res.equity))


def test_orders_after_expiry_are_dropped() -> None:
    res = run(option("call", 100.0), {4: [("OPT", 1)]})
    assert res.fills == []
    assert res.positions["OPT"].qty == 0


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"option_type": "straddle"}, "option_type"),
        ({"strike": -1.0}, "strike"),
        ({"expiry": 1.5}, "expiry"),
        ({"settlement": "gold"}, "settlement"),
        ({"exercise": "bermudan"}, "exercise"),
        ({"pricing_vol": 0.0}, "pricing_vol"),
        ({"underlying": "OPT"}, "underlying"),
    ],
)
def test_bad_option_terms_are_rejected(kw: dict[str, object], match: str) -> None:
    args: dict[str, object] = {
        "underlying": "XYZ",
        "option_type": "call",
        "strike": 100.0,
        "expiry": EXPIRY,
        "pricing_vol": VOL,
    }
    args.update(kw)
    with pytest.raises(BacktestInputError, match=match):
        InstrumentSpec.option("OPT", **args)  # type: ignore[arg-type]


def test_quoteless_option_needs_pricing_vol_and_a_physical_underlying_needs_shares() -> None:
    with pytest.raises(BacktestInputError, match="set pricing_vol"):
        run(option(pricing_vol=None), {})
    fut = InstrumentSpec("XYZ", kind="future", multiplier=50.0, margin=0.1)
    with pytest.raises(BacktestInputError, match="settlement='cash'"):
        run_events(underlying_bars(), Script({}), init_cash=CASH, instruments=[fut, option()])
    with pytest.raises(BacktestInputError, match="underlying 'ABC' has no bars"):
        run_events(
            underlying_bars(),
            Script({}),
            init_cash=CASH,
            instruments=[
                stock(),
                InstrumentSpec.option(
                    "OPT",
                    underlying="ABC",
                    option_type="call",
                    strike=1.0,
                    expiry=EXPIRY,
                    pricing_vol=VOL,
                ),
            ],
        )


def test_limit_orders_on_model_priced_options_are_refused() -> None:
    class Limit:
        def on_bar(self, bar: Bar, ctx: Context) -> None:
            ctx.buy("OPT", 1, limit=5.0)

    with pytest.raises(BacktestInputError, match="limit orders on 'OPT'"):
        run_events(underlying_bars(), Limit(), init_cash=CASH, instruments=[stock(), option()])


def test_option_spec_defaults_to_100_multiplier_and_whole_contracts() -> None:
    spec = option()
    assert (spec.kind, spec.multiplier, spec.lot_size) == ("option", 100.0, 1.0)
    assert (spec.settlement, spec.exercise) == ("physical", "european")
