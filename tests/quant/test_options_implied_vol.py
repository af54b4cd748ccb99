"""Implied volatility: price -> vol round trips, QuantLib agreement, flagged unsolvable quotes."""

from __future__ import annotations

import numpy as np
import pytest
import QuantLib as ql

from sextant_quant.options import REASONS, ImpliedVolResult, bsm_greeks, bsm_price, implied_vol
from sextant_quant.options.implied_volatility import (
    ABOVE_UPPER_BOUND,
    AT_INTRINSIC,
    BAD_INPUT_PRICE,
    BAD_INPUT_RATE,
    BAD_INPUT_SPOT,
    BAD_INPUT_STRIKE,
    BAD_INPUT_TIME,
    BELOW_INTRINSIC,
)
from tests.quant.test_options_oracle import (
    QuantLibMarket,
    market,  # noqa: F401  (fixture)
    year_fraction,
)

EPS = np.finfo(float).eps


def quotes(n: int, seed: int) -> dict[str, np.ndarray]:
    """Random quotes from 1 hour to 10 years, vols 1%-300%, up to 10 standard deviations (and
    up to a factor e^4) in or out of the money, calls and puts, negative rates and yields."""
    rng = np.random.default_rng(seed)
    t = np.exp(rng.uniform(np.log(1 / (365 * 24)), np.log(10.0), n))
    vol = np.exp(rng.uniform(np.log(0.01), np.log(3.0), n))
    z = rng.uniform(-10, 10, n)
    spot = np.full(n, 100.0)
    strike = spot * np.exp(np.clip(z * vol * np.sqrt(t), -4, 4))
    rate = rng.uniform(-0.01, 0.10, n)
    q = rng.uniform(-0.02, 0.08, n)
    is_call = rng.random(n) < 0.5
    price = bsm_price(is_call, spot, strike, t, rate, rate - q, vol)
    return dict(
        is_call=is_call,
        spot=spot,
        strike=strike,
        t=t,
        rate=rate,
        carry=rate - q,
        vol=vol,
        price=price,
    )


def vol_noise(d: dict[str, np.ndarray]) -> np.ndarray:
    """How far vol can move without changing the quote by one rounding error: eps * (price, plus
    the intrinsic value an in-the-money price carries) / vega. No solver can beat this."""
    g = bsm_greeks(d["is_call"], d["spot"], d["strike"], d["t"], d["rate"], d["carry"], d["vol"])
    fwd_df = d["spot"] * np.exp((d["carry"] - d["rate"]) * d["t"])
    strike_df = d["strike"] * np.exp(-d["rate"] * d["t"])
    itm = np.where(d["is_call"], fwd_df > strike_df, fwd_df < strike_df)
    noise: np.ndarray = EPS * (d["price"] + np.where(itm, np.abs(fwd_df - strike_df), 0.0)) / g.vega
    return noise


def solve(d: dict[str, np.ndarray]) -> ImpliedVolResult:
    return implied_vol(
        d["price"], d["is_call"], d["spot"], d["strike"], d["t"], d["rate"], d["carry"]
    )


def test_round_trip_recovers_vol_to_1e_10_where_the_quote_determines_it() -> None:
    d = quotes(50_000, seed=1)
    res = solve(d)
    err = np.abs(res.vol - d["vol"])
    noise = vol_noise(d)
    determined = res.ok & (noise < 1e-12)
    assert determined.sum() > 0.6 * res.ok.size
    assert err[determined].max() < 1e-10
    # Everywhere else the error stays within the quote's own rounding noise.
    assert np.all(err[res.ok] <= 1e-10 + 100 * noise[res.ok])
    # The only flags are deep in-the-money quotes whose time value is below one ulp of the price.
    assert set(res.flagged()) <= {AT_INTRINSIC}
    flagged = ~res.ok
    assert np.all(noise[flagged] > 1e-6)


@pytest.mark.parametrize(
    ("kind", "strike", "days", "vol"),
    [
        ("c", 100.0, 1, 0.2),  # ATM, one day
        ("p", 100.0, 1, 0.01),  # ATM, one day, 1% vol
        ("c", 140.0, 1, 0.5),  # deep OTM call, one day: price ~1e-40
        ("p", 40.0, 30, 0.3),  # deep OTM put
        ("c", 60.0, 365, 0.3),  # deep ITM call (through put-call parity)
        ("p", 160.0, 365, 0.3),  # deep ITM put
        ("c", 100.0, 3650, 2.5),  # near the upper bound
        ("c", 250.0, 3650, 0.05),  # far OTM, long dated, low vol: price ~1e-33
    ],
)
def test_edge_case_round_trips(kind: str, strike: float, days: int, vol: float) -> None:
    t = year_fraction(days)
    price = bsm_price(kind, 100.0, strike, t, 0.03, 0.01, vol)
    res = implied_vol(price, kind, 100.0, strike, t, 0.03, 0.01)
    assert res.ok.shape == () and bool(res.ok)
    assert float(res.vol) == pytest.approx(vol, abs=1e-10)


def test_black76_quotes_round_trip() -> None:
    """Futures options: carry 0 with the futures price as spot."""
    strikes = np.linspace(60, 140, 17)
    price = bsm_price("p", 100.0, strikes, 0.5, 0.04, 0.0, 0.35)
    res = implied_vol(price, "p", 100.0, strikes, 0.5, 0.04, 0.0)
    np.testing.assert_allclose(res.vol, 0.35, atol=1e-12)


def test_agrees_with_quantlib_implied_volatility(market: QuantLibMarket) -> None:  # noqa: F811
    rng = np.random.default_rng(5)
    worst = 0.0
    for _ in range(150):
        is_call = bool(rng.random() < 0.5)
        days = int(rng.integers(2, 1500))
        vol = float(rng.uniform(0.05, 1.2))
        strike = float(100.0 * np.exp(rng.uniform(-1.5, 1.5) * vol * np.sqrt(days / 365)))
        r, q = float(rng.uniform(0, 0.06)), float(rng.uniform(0, 0.04))
        market.set(100.0, r, q, vol)
        opt = market.option(is_call, strike, days)
        price = opt.NPV()
        ql_vol = opt.impliedVolatility(price, market.process, 1e-14, 1000, 1e-4, 5.0)
        ours = implied_vol(price, is_call, 100.0, strike, year_fraction(days), r, r - q)
        assert bool(ours.ok)
        worst = max(worst, abs(float(ours.vol) - ql_vol))
        assert float(ours.vol) == pytest.approx(vol, abs=1e-11)
    assert worst < 1e-10


def test_unsolvable_quotes_are_flagged_with_reasons() -> None:
    s, k, t, r, b = 100.0, 90.0, 0.5, 0.05, 0.02
    intrinsic_call = s * np.exp((b - r) * t) - k * np.exp(-r * t)  # discounted, ~ 10.5
    upper_call = s * np.exp((b - r) * t)
    upper_put = 110.0 * np.exp(-r * t)
    cases = [
        # (price, type, spot, strike, t, rate, carry, reason)
        (intrinsic_call - 0.01, "c", s, k, t, r, b, BELOW_INTRINSIC),
        (-0.5, "p", s, k, t, r, b, BELOW_INTRINSIC),
        (0.0, "p", s, k, t, r, b, AT_INTRINSIC),
        (upper_call, "c", s, k, t, r, b, ABOVE_UPPER_BOUND),
        (upper_call + 1.0, "c", s, k, t, r, b, ABOVE_UPPER_BOUND),
        (upper_put + 1e-9, "p", s, 110.0, t, r, b, ABOVE_UPPER_BOUND),
        (5.0, "c", s, k, 0.0, r, b, BAD_INPUT_TIME),
        (5.0, "c", s, k, -0.1, r, b, BAD_INPUT_TIME),
        (np.nan, "c", s, k, t, r, b, BAD_INPUT_PRICE),
        (5.0, "c", -1.0, k, t, r, b, BAD_INPUT_SPOT),
        (5.0, "c", s, 0.0, t, r, b, BAD_INPUT_STRIKE),
        (5.0, "c", s, k, t, np.inf, b, BAD_INPUT_RATE),
        (15.0, "c", s, k, t, r, b, ""),  # a good quote among the bad ones
    ]
    columns = list(zip(*cases, strict=True))
    res = implied_vol(*(np.array(c) for c in columns[:7]))
    assert list(res.reason) == list(columns[7])
    assert list(res.ok) == [c == "" for c in columns[7]]
    assert np.isnan(res.vol[~res.ok]).all()
    assert np.isfinite(res.vol[res.ok]).all() and (res.vol[res.ok] > 0).all()
    assert set(res.reason) <= set(REASONS)
    assert res.flagged()[ABOVE_UPPER_BOUND] == 3


def test_never_a_silent_zero_or_nan_on_a_mixed_batch() -> None:
    d = quotes(20_000, seed=9)
    d["price"] = d["price"] * np.random.default_rng(2).choice([0.0, 0.5, 1.0, 3.0], d["price"].size)
    res = solve(d)
    assert not (res.vol == 0).any()
    assert np.array_equal(np.isnan(res.vol), ~res.ok)
    assert all(r for r in res.reason[~res.ok])
    assert not any(res.reason[res.ok])


def test_shapes_broadcast_and_mismatches_raise() -> None:
    res = implied_vol([[5.0], [6.0]], "c", 100.0, [98.0, 100.0, 102.0], 0.5, 0.01, 0.0)
    assert res.vol.shape == res.ok.shape == res.reason.shape == (2, 3)
    with pytest.raises(ValueError, match="strike has shape"):
        implied_vol([5.0, 6.0], "c", 100.0, [98.0, 100.0, 102.0], 0.5, 0.01, 0.0)
    with pytest.raises(ValueError, match="option_type"):
        implied_vol(5.0, "straddle", 100.0, 100.0, 0.5, 0.01, 0.0)


def test_quantlib_market_is_consistent_with_our_year_fraction(market: QuantLibMarket) -> None:  # noqa: F811
    """Guard for the tests above: QuantLib's Act/365F year fraction is days / 365."""
    assert ql.Actual365Fixed().yearFraction(
        ql.Date(1, 1, 2025), ql.Date(1, 1, 2025) + 91
    ) == year_fraction(91)
