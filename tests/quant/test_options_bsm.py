"""European GBSM, Black-76 and Garman-Kohlhagen prices and Greeks vs QuantLib and Haug (2007)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import QuantLib as ql

from sextant_quant.options import (
    Greeks,
    OptionInputError,
    black76_greeks,
    black76_price,
    bsm_greeks,
    bsm_price,
    garman_kohlhagen_greeks,
    garman_kohlhagen_price,
)
from tests.quant.test_options_oracle import (
    DAY_COUNT,
    EVALUATION_DATE,
    HAUG_EUROPEAN,
    QuantLibMarket,
    market,  # noqa: F401  (fixture)
    year_fraction,
)

# A grid with the edge cases: strikes from 5x in the money to 5x out, 1 day to 5 years, vols
# from 5% to 150%, negative rates and yields.
STRIKES = [20.0, 50.0, 80.0, 95.0, 100.0, 105.0, 125.0, 200.0, 500.0]
DAYS = [1, 7, 30, 91, 365, 1826]
VOLS = [0.05, 0.2, 0.6, 1.5]
RATES = [-0.01, 0.0, 0.05]
YIELDS = [-0.02, 0.0, 0.03]
SPOT = 100.0


@pytest.fixture(scope="module")
def grid(market: QuantLibMarket) -> dict[str, np.ndarray]:  # noqa: F811
    """Our inputs and QuantLib's price and Greeks for every point of the grid (one by one)."""
    rows = list(itertools.product([True, False], STRIKES, DAYS, VOLS, RATES, YIELDS))
    cols: dict[str, list[float]] = {
        k: [] for k in ("price", "delta", "gamma", "theta", "theta_per_day", "vega", "rho", "div")
    }
    for is_call, strike, days, vol, r, q in rows:
        market.set(SPOT, r, q, vol)
        opt = market.option(is_call, strike, days)
        cols["price"].append(opt.NPV())
        cols["delta"].append(opt.delta())
        cols["gamma"].append(opt.gamma())
        cols["theta"].append(opt.theta())
        cols["theta_per_day"].append(opt.thetaPerDay())
        cols["vega"].append(opt.vega())
        cols["rho"].append(opt.rho())
        cols["div"].append(opt.dividendRho())
    arr = np.array(rows, dtype=float)
    out = {f"ql_{k}": np.array(v) for k, v in cols.items()}
    out.update(
        is_call=arr[:, 0] > 0,
        strike=arr[:, 1],
        t=np.array([year_fraction(int(d)) for d in arr[:, 2]]),
        vol=arr[:, 3],
        rate=arr[:, 4],
        q=arr[:, 5],
    )
    return out


def ours(g: dict[str, np.ndarray]) -> Greeks:
    return bsm_greeks(
        g["is_call"], SPOT, g["strike"], g["t"], g["rate"], g["rate"] - g["q"], g["vol"]
    )


def assert_close(name: str, got: np.ndarray, want: np.ndarray, rtol: float) -> None:
    """|got - want| <= rtol * max(|want|, 1): relative for values above 1, absolute below.

    An absolute floor is needed because QuantLib's own normal CDF is only ~1e-6 relative-accurate
    below 1e-8 (it switches to a short asymptotic series there): for a 1.2e-8 deep OTM price it
    is off by 1.9e-14 while ours agrees with a 50-digit evaluation (checked with mpmath).
    """
    err = np.abs(got - want) / np.maximum(np.abs(want), 1.0)
    worst = int(np.argmax(err))
    assert err[worst] <= rtol, f"{name}: {got[worst]!r} vs QuantLib {want[worst]!r} at row {worst}"


@pytest.mark.parametrize(
    ("field", "ql_field", "rtol"),
    [
        ("price", "price", 1e-12),
        ("delta", "delta", 1e-12),
        ("gamma", "gamma", 1e-12),
        ("vega", "vega", 1e-12),
        ("rho", "rho", 1e-12),
        ("rho_yield", "div", 1e-12),
        # QuantLib computes theta from the PDE, rV - bS delta - vol^2 S^2 gamma / 2, whose terms
        # cancel for deep in-the-money short-dated options (1.9e-11 on a theta of -3).
        ("theta", "theta", 1e-10),
        ("theta_per_day", "theta_per_day", 1e-12),
    ],
)
def test_greeks_match_quantlib_on_grid(
    grid: dict[str, np.ndarray], field: str, ql_field: str, rtol: float
) -> None:
    g = ours(grid)
    assert len(grid["strike"]) == 2 * 9 * 6 * 4 * 3 * 3
    assert_close(field, getattr(g, field), grid[f"ql_{ql_field}"], rtol)


def test_prices_match_quantlib_relatively_where_quantlib_is_exact(
    grid: dict[str, np.ndarray],
) -> None:
    """Prices above 0.01 agree with QuantLib to 1e-12 relative. (Below ~1e-5 QuantLib's
    0.5 (1 + erf) normal CDF loses relative digits: 1.8e-9 off at a 1.4e-6 price, where ours is
    1e-13 from the 50-digit value; see test_tail_prices_against_high_precision_values.)"""
    price, want = ours(grid).price, grid["ql_price"]
    keep = want > 1e-2
    assert keep.sum() > 0.75 * keep.size
    rel = np.abs(price[keep] - want[keep]) / want[keep]
    assert rel.max() < 1e-12


# Reference prices computed offline with mpmath at 50 significant digits from the closed form:
# (call?, spot, strike, t, r, q, vol, price). Tiny out-of-the-money values test the tails, the
# 1-hour in-the-money call the put-call-parity path for in-the-money prices.
HIGH_PRECISION = [
    (True, 100.0, 200.0, 1826 / 365, -0.01, -0.02, 0.05, 1.2460581612346842899e-8),
    (False, 100.0, 80.0, 1.0, 0.0, 0.0, 0.05, 3.7198331813068007491e-6),
    (True, 100.0, 130.0, 7 / 365, 0.03, 0.01, 0.2, 5.0864879124108787702e-22),
    (False, 100.0, 60.0, 30 / 365, 0.05, 0.0, 0.3, 1.1265366720316615752e-9),
    (True, 100.0, 99.0, 1 / (365 * 24), 0.05, 0.02, 0.2, 1.000336809735032323),
    (False, 100.0, 150.0, 1 / 365, 0.05, 0.0, 0.4, 49.979453462123765428),
]


@pytest.mark.parametrize("row", HIGH_PRECISION)
def test_tail_prices_against_high_precision_values(row: tuple[float, ...]) -> None:
    is_call, spot, strike, t, r, q, vol, exact = row
    price = float(bsm_price(bool(is_call), spot, strike, t, r, r - q, vol))
    # 1e-11: the closed form itself cancels ~|ln(F/K)| / (vol^2 T) digits deep out of the money.
    assert price == pytest.approx(exact, rel=1e-11)


def test_second_order_greeks_match_finite_differences_of_quantlib(
    market: QuantLibMarket,  # noqa: F811
) -> None:
    """vanna = d(vega)/dS and volga = d(vega)/dvol from QuantLib's analytic vega, charm =
    -d(delta)/dT from our (QuantLib-verified) delta (QuantLib's T moves in whole days); each a
    central difference with one Richardson step, so the truncation error is O(h^4)."""

    def richardson(f, h: float) -> float:
        def central(step: float) -> float:
            return (f(step) - f(-step)) / (2 * step)

        return (4 * central(h / 2) - central(h)) / 3

    for is_call, strike, days, vol, r, q in itertools.product(
        [True, False], [80.0, 100.0, 130.0], [7, 91, 730], [0.15, 0.45], [0.03], [0.01]
    ):
        t = year_fraction(days)
        g = bsm_greeks(is_call, SPOT, strike, t, r, r - q, vol)
        opt = market.option(is_call, strike, days)

        case = (r, q, vol)

        def vega_at(d_spot: float, d_vol: float, opt: ql.VanillaOption = opt, c=case) -> float:
            market.set(SPOT + d_spot, c[0], c[1], c[2] + d_vol)
            return float(opt.vega())

        def delta_at(
            d_t: float, is_call: bool = is_call, strike: float = strike, c=case, t=t
        ) -> float:
            return float(bsm_greeks(is_call, SPOT, strike, t + d_t, c[0], c[0] - c[1], c[2]).delta)

        vanna = richardson(lambda h: vega_at(h, 0.0), 1e-2 * SPOT * vol * np.sqrt(t))
        volga = richardson(lambda h: vega_at(0.0, h), 1e-2 * vol)
        charm = -richardson(delta_at, 1e-3 * t)
        assert float(g.vanna) == pytest.approx(vanna, rel=1e-6, abs=1e-8)
        assert float(g.volga) == pytest.approx(volga, rel=1e-6, abs=1e-6)
        assert float(g.charm) == pytest.approx(charm, rel=1e-7, abs=1e-8)


@pytest.mark.parametrize("row", HAUG_EUROPEAN)
def test_haug_reference_prices(row: tuple[float, ...]) -> None:
    """Haug (2007) ch. 1 worked examples, printed to 4 decimals (b = r - q)."""
    is_call, spot, strike, q, r, t, vol, expected = row
    price = bsm_price("call" if is_call else "put", spot, strike, t, r, r - q, vol)
    assert float(price) == pytest.approx(expected, abs=5e-5)


def test_haug_named_model_examples() -> None:
    # Haug (2007) 1.1.1: GBSM / Black-Scholes, S=60 K=65 T=0.25 r=8% b=8% v=30%: call 2.1334.
    assert float(bsm_price("c", 60, 65, 0.25, 0.08, 0.08, 0.30)) == pytest.approx(2.1334, abs=5e-5)
    # 1.1.3 Black-76: F=19 K=19 T=0.75 r=10% v=28%: call = put = 1.7011.
    assert float(black76_price("p", 19, 19, 0.75, 0.10, 0.28)) == pytest.approx(1.7011, abs=5e-5)
    assert float(black76_price("c", 19, 19, 0.75, 0.10, 0.28)) == pytest.approx(1.7011, abs=5e-5)
    # 1.1.6 Garman-Kohlhagen: S=1.56 K=1.60 T=0.5 r_d=6% r_f=8% v=12%: call 0.0291.
    gk = garman_kohlhagen_price("c", 1.56, 1.60, 0.5, 0.06, 0.08, 0.12)
    assert float(gk) == pytest.approx(0.0291, abs=5e-5)


# Haug (2007) ch. 2 Greek examples (also 1st ed. pp. 11-16; QuantLib europeanoption.cpp):
# (greek, option, spot, strike, t, r, b, vol, value to 4 dp).
HAUG_GREEKS = [
    ("delta", "c", 105.0, 100.0, 0.5, 0.10, 0.0, 0.36, 0.5946),
    ("delta", "p", 105.0, 100.0, 0.5, 0.10, 0.0, 0.36, -0.3566),
    ("gamma", "c", 55.0, 60.0, 0.75, 0.10, 0.10, 0.30, 0.0278),
    ("gamma", "p", 55.0, 60.0, 0.75, 0.10, 0.10, 0.30, 0.0278),
    ("vega", "c", 55.0, 60.0, 0.75, 0.10, 0.10, 0.30, 18.9358),
    ("theta", "p", 430.0, 405.0, 1 / 12, 0.07, 0.02, 0.20, -31.1924),
    ("theta_per_day", "p", 430.0, 405.0, 1 / 12, 0.07, 0.02, 0.20, -0.0855),
    ("rho", "c", 72.0, 75.0, 1.0, 0.09, 0.09, 0.19, 38.7325),
    ("rho_yield", "p", 500.0, 490.0, 0.25, 0.08, 0.03, 0.15, 42.2254),
]


@pytest.mark.parametrize("row", HAUG_GREEKS)
def test_haug_reference_greeks(row: tuple) -> None:
    name, kind, spot, strike, t, r, b, vol, expected = row
    value = getattr(bsm_greeks(kind, spot, strike, t, r, b, vol), name)
    assert float(value) == pytest.approx(expected, abs=5e-5)


def test_black76_against_quantlib_black_process() -> None:
    """Black-76 against QuantLib's BlackProcess (a forward quote on flat curves)."""
    ql.Settings.instance().evaluationDate = EVALUATION_DATE
    fwd, rate, vol = ql.SimpleQuote(0.0), ql.SimpleQuote(0.0), ql.SimpleQuote(0.0)
    process = ql.BlackProcess(
        ql.QuoteHandle(fwd),
        ql.YieldTermStructureHandle(
            ql.FlatForward(EVALUATION_DATE, ql.QuoteHandle(rate), DAY_COUNT)
        ),
        ql.BlackVolTermStructureHandle(
            ql.BlackConstantVol(EVALUATION_DATE, ql.NullCalendar(), ql.QuoteHandle(vol), DAY_COUNT)
        ),
    )
    engine = ql.AnalyticEuropeanEngine(process)
    for is_call, f, strike, days, v, r in itertools.product(
        [True, False], [19.0, 75.0], [15.0, 19.0, 30.0], [1, 91, 730], [0.1, 0.5], [0.0, 0.07]
    ):
        fwd.setValue(f)
        rate.setValue(r)
        vol.setValue(v)
        payoff = ql.PlainVanillaPayoff(ql.Option.Call if is_call else ql.Option.Put, strike)
        opt = ql.VanillaOption(payoff, ql.EuropeanExercise(EVALUATION_DATE + days))
        opt.setPricingEngine(engine)
        t = year_fraction(days)
        g = black76_greeks(is_call, f, strike, t, r, v)
        assert float(g.price) == pytest.approx(opt.NPV(), rel=1e-12, abs=1e-13)
        assert float(g.delta) == pytest.approx(opt.delta(), rel=1e-12, abs=1e-13)
        assert float(g.gamma) == pytest.approx(opt.gamma(), rel=1e-12, abs=1e-13)
        assert float(g.vega) == pytest.approx(opt.vega(), rel=1e-12, abs=1e-13)
        # dV/dr with the futures price fixed is -T V (Haug 2007, sec. 2.4).
        assert float(g.rho) == pytest.approx(-t * float(g.price), rel=1e-13, abs=1e-15)
        assert float(g.rho_yield) == 0.0


def test_garman_kohlhagen_against_quantlib_gk_process() -> None:
    ql.Settings.instance().evaluationDate = EVALUATION_DATE
    spot, r_d, r_f, vol = (ql.SimpleQuote(0.0) for _ in range(4))

    def curve(q: ql.SimpleQuote) -> ql.YieldTermStructureHandle:
        return ql.YieldTermStructureHandle(
            ql.FlatForward(EVALUATION_DATE, ql.QuoteHandle(q), DAY_COUNT)
        )

    process = ql.GarmanKohlagenProcess(
        ql.QuoteHandle(spot),
        curve(r_f),
        curve(r_d),
        ql.BlackVolTermStructureHandle(
            ql.BlackConstantVol(EVALUATION_DATE, ql.NullCalendar(), ql.QuoteHandle(vol), DAY_COUNT)
        ),
    )
    engine = ql.AnalyticEuropeanEngine(process)
    for is_call, s, strike, days, v, rd, rf in itertools.product(
        [True, False],
        [1.08, 1.56],
        [1.0, 1.2, 1.6],
        [2, 91, 365],
        [0.07, 0.3],
        [0.05],
        [-0.005, 0.08],
    ):
        spot.setValue(s)
        r_d.setValue(rd)
        r_f.setValue(rf)
        vol.setValue(v)
        payoff = ql.PlainVanillaPayoff(ql.Option.Call if is_call else ql.Option.Put, strike)
        opt = ql.VanillaOption(payoff, ql.EuropeanExercise(EVALUATION_DATE + days))
        opt.setPricingEngine(engine)
        g = garman_kohlhagen_greeks(is_call, s, strike, year_fraction(days), rd, rf, v)
        for ours_value, theirs in [
            (g.price, opt.NPV()),
            (g.delta, opt.delta()),
            (g.gamma, opt.gamma()),
            (g.vega, opt.vega()),
            (g.rho, opt.rho()),
            (g.rho_yield, opt.dividendRho()),
        ]:
            assert float(ours_value) == pytest.approx(theirs, rel=1e-12, abs=1e-14)


def test_put_call_parity_and_deep_in_the_money_precision() -> None:
    """C - P = S e^{(b-r)T} - K e^{-rT}; a 1-hour in-the-money option keeps its tiny time value."""
    s, k, t, r, b, v = 100.0, 99.0, 1 / (365 * 24), 0.05, 0.03, 0.2
    call, put = bsm_price("c", s, k, t, r, b, v), bsm_price("p", s, k, t, r, b, v)
    parity = s * np.exp((b - r) * t) - k * np.exp(-r * t)
    assert float(call - put) == pytest.approx(parity, rel=1e-14)
    assert float(put) > 0  # the out-of-the-money side is computed directly, never as a difference


def test_broadcasting_and_option_type_forms() -> None:
    spots = np.array([[90.0], [100.0], [110.0]])  # (3, 1)
    strikes = np.array([95.0, 100.0, 105.0, 110.0])  # (4,)
    price = bsm_price("call", spots, strikes, 0.5, 0.02, 0.01, 0.25)
    assert price.shape == (3, 4)
    assert bsm_price("c", 100, 100, 1, 0.0, 0.0, 0.2).shape == ()
    kinds = ["call", "PUT", "c", "p"]
    by_str = bsm_price(kinds, 100, 100, 1, 0.01, 0.0, 0.2)
    by_bool = bsm_price([True, False, True, False], 100, 100, 1, 0.01, 0.0, 0.2)
    by_int = bsm_price([1, -1, 1, 0], 100, 100, 1, 0.01, 0.0, 0.2)
    np.testing.assert_array_equal(by_str, by_bool)
    np.testing.assert_array_equal(by_str, by_int)
    g = bsm_greeks(["c", "p"], 100.0, [[90.0], [110.0]], 1.0, 0.01, 0.0, 0.2)
    assert all(getattr(g, f).shape == (2, 2) for f in ("price", "gamma", "charm", "theta_per_day"))


def test_large_batch_matches_small_batches() -> None:
    """The block-wise evaluation gives the same numbers as element-wise calls."""
    rng = np.random.default_rng(7)
    n = 20_000
    args = (
        rng.random(n) < 0.5,
        rng.uniform(50, 150, n),
        rng.uniform(50, 150, n),
        rng.uniform(0.01, 3, n),
        rng.uniform(-0.01, 0.08, n),
        rng.uniform(-0.05, 0.08, n),
        rng.uniform(0.05, 1.0, n),
    )
    g = bsm_greeks(*args)
    for i in [0, 8191, 8192, 16383, 19999]:
        one = bsm_greeks(*(a[i] for a in args))
        assert float(one.price) == g.price[i]
        assert float(one.charm) == g.charm[i]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"vol": np.r_[np.full(17, 0.2), -0.2]},
            "vol must be finite and > 0, got -0.2 at index 17",
        ),
        ({"spot": np.r_[100.0, np.nan]}, "spot must be a number > 0, got NaN at index 1"),
        ({"strike": 0.0}, "strike must be finite and > 0, got 0.0"),
        ({"t": np.r_[0.5, 0.0]}, "t must be finite and > 0, got 0.0 at index 1"),
        ({"rate": np.r_[0.01, np.inf]}, "rate must be finite, got inf at index 1"),
        ({"carry": np.nan}, "carry must be finite, got nan"),
        (
            {"strike": np.ones(3), "vol": np.full(4, 0.2)},
            "vol has shape (4,), which does not broadcast",
        ),
        ({"option_type": ["call", "straddle"]}, "option_type must be 'call' or 'put'"),
        (
            {"option_type": [1, 2]},
            "option_type integers must be 1 (call) or -1/0 (put), got 2 at index 1",
        ),
    ],
)
def test_bad_inputs_raise_value_error_naming_field(kwargs: dict, message: str) -> None:
    args = {
        "option_type": "call",
        "spot": 100.0,
        "strike": 100.0,
        "t": 1.0,
        "rate": 0.01,
        "carry": 0.0,
        "vol": 0.2,
    } | kwargs
    with pytest.raises(ValueError, match=None) as info:
        bsm_greeks(**args)
    assert message in str(info.value)
    assert isinstance(info.value, OptionInputError)
    with pytest.raises(ValueError):
        bsm_price(**args)
