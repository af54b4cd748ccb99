"""American options: Barone-Adesi-Whaley and binomial trees against Haug's table and QuantLib."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest
import QuantLib as ql

from sextant_quant.options import baw_price, binomial_price, bsm_price
from tests.quant.test_options_oracle import (
    QuantLibMarket,
    market,  # noqa: F401  (fixture)
    year_fraction,
)

# Barone-Adesi & Whaley (1987) table as printed in Haug, "Option pricing formulas" (1998) p. 24 /
# Haug (2007) Table 3-1, and used by QuantLib's americanoption.cpp: K = 100, r = 10%, b = 0
# (q = r), (call?, spot, t, vol, value). QuantLib notes Haug's VBA replicates them only to the
# second decimal, hence its (and our) 3e-3 tolerance.
BAW_TABLE = [
    (True, 90.0, 0.10, 0.15, 0.0206),
    (True, 100.0, 0.10, 0.15, 1.8771),
    (True, 110.0, 0.10, 0.15, 10.0089),
    (True, 90.0, 0.10, 0.25, 0.3159),
    (True, 100.0, 0.10, 0.25, 3.1280),
    (True, 110.0, 0.10, 0.25, 10.3919),
    (True, 90.0, 0.10, 0.35, 0.9495),
    (True, 100.0, 0.10, 0.35, 4.3777),
    (True, 110.0, 0.10, 0.35, 11.1679),
    (True, 90.0, 0.50, 0.15, 0.8208),
    (True, 100.0, 0.50, 0.15, 4.0842),
    (True, 110.0, 0.50, 0.15, 10.8087),
    (True, 90.0, 0.50, 0.25, 2.7437),
    (True, 100.0, 0.50, 0.25, 6.8015),
    (True, 110.0, 0.50, 0.25, 13.0170),
    (True, 90.0, 0.50, 0.35, 5.0063),
    (True, 100.0, 0.50, 0.35, 9.5106),
    (True, 110.0, 0.50, 0.35, 15.5689),
    (False, 90.0, 0.10, 0.15, 10.0000),
    (False, 100.0, 0.10, 0.15, 1.8770),
    (False, 110.0, 0.10, 0.15, 0.0410),
    (False, 90.0, 0.10, 0.25, 10.2533),
    (False, 100.0, 0.10, 0.25, 3.1277),
    (False, 110.0, 0.10, 0.25, 0.4562),
    (False, 90.0, 0.10, 0.35, 10.8787),
    (False, 100.0, 0.10, 0.35, 4.3777),
    (False, 110.0, 0.10, 0.35, 1.2402),
    (False, 90.0, 0.50, 0.15, 10.5595),
    (False, 100.0, 0.50, 0.15, 4.0842),
    (False, 110.0, 0.50, 0.15, 1.0822),
    (False, 90.0, 0.50, 0.25, 12.4419),
    (False, 100.0, 0.50, 0.25, 6.8014),
    (False, 110.0, 0.50, 0.25, 3.3226),
    (False, 90.0, 0.50, 0.35, 14.6945),
    (False, 100.0, 0.50, 0.35, 9.5104),
    (False, 110.0, 0.50, 0.35, 5.8823),
]


def test_baw_reproduces_haug_table() -> None:
    rows = np.array(BAW_TABLE)
    is_call, spot, t, vol, expected = (rows[:, i] for i in range(5))
    got = baw_price(is_call > 0, spot, 100.0, t, 0.10, 0.0, vol)
    np.testing.assert_allclose(got, expected, atol=3e-3)


def test_baw_put_without_rates_is_european() -> None:
    # Haug / QuantLib table: put S = K = 100, r = q = 0, T = 0.5, vol 15%: 4.2294. With r <= 0 a
    # put is never exercised early, so BAW returns the European value exactly.
    price = baw_price("p", 100.0, 100.0, 0.5, 0.0, 0.0, 0.15)
    assert float(price) == pytest.approx(4.2294, abs=5e-5)
    assert float(price) == float(bsm_price("p", 100.0, 100.0, 0.5, 0.0, 0.0, 0.15))


AMERICAN_GRID = list(
    itertools.product(
        [True, False], [80.0, 100.0, 120.0], [30, 182, 730], [0.0, 0.04], [0.01, 0.06], [0.15, 0.4]
    )
)


def _quantlib_american(market: QuantLibMarket, engine, row) -> float:  # noqa: F811
    is_call, spot, days, q, r, vol = row
    market.set(spot, r, q, vol)
    return float(market.option(is_call, 100.0, days, engine=engine, american=True).NPV())


def _ours(fn, row, **kwargs) -> float:
    is_call, spot, days, q, r, vol = row
    return float(fn(is_call, spot, 100.0, year_fraction(days), r, r - q, vol, **kwargs))


def test_baw_matches_quantlib_engine(market: QuantLibMarket) -> None:  # noqa: F811
    """With QuantLib's own critical-price tolerance (1e-6 K) the two are the same computation;
    converged to 1e-12 K (our default) they differ only by QuantLib's early stop."""
    for row in AMERICAN_GRID:
        theirs = _quantlib_american(market, ql.BaroneAdesiWhaleyApproximationEngine, row)
        assert _ours(baw_price, row, tolerance=1e-6) == pytest.approx(theirs, rel=1e-12, abs=1e-12)
        assert _ours(baw_price, row) == pytest.approx(theirs, abs=5e-5)


def test_leisen_reimer_matches_quantlib(market: QuantLibMarket) -> None:  # noqa: F811
    def engine(process: ql.BlackScholesMertonProcess) -> ql.PricingEngine:
        return ql.BinomialLRVanillaEngine(process, 401)

    for row in AMERICAN_GRID:
        theirs = _quantlib_american(market, engine, row)
        assert _ours(binomial_price, row, steps=401) == pytest.approx(theirs, rel=1e-9, abs=1e-9)


def test_crr_matches_quantlib_to_discretization_error(market: QuantLibMarket) -> None:  # noqa: F811
    """QuantLib's CRR takes the log-space drift for its up-probability, p = 1/2 + (b - vol^2/2)
    sqrt(dt) / (2 vol), where ours is the textbook risk-neutral (e^{b dt} - d) / (u - d); both are
    first-order schemes, so at 801 steps they agree to their O(1/steps) error, not to rounding."""

    def engine(process: ql.BlackScholesMertonProcess) -> ql.PricingEngine:
        return ql.BinomialCRRVanillaEngine(process, 801)

    for row in AMERICAN_GRID:
        theirs = _quantlib_american(market, engine, row)
        assert _ours(binomial_price, row, steps=801, method="crr") == pytest.approx(
            theirs, abs=2e-3
        )


def test_trees_converge_to_each_other_and_to_baw() -> None:
    rows = np.array(AMERICAN_GRID, dtype=float)
    is_call, spot, days, q, r, vol = (rows[:, i] for i in range(6))
    args = (is_call > 0, spot, 100.0, days / 365.0, r, r - q, vol)
    lr = binomial_price(*args, steps=1601)
    # Both are first order for American options (the exercise boundary); measured on this grid
    # CRR(1000) is within 5.5e-3 of LR(1601), which is itself within 7e-4 of LR(3201).
    crr = binomial_price(*args, steps=1000, method="crr")
    np.testing.assert_allclose(crr, lr, atol=8e-3)
    # BAW is an approximation whose error grows with maturity (measured: 0.03 at one month,
    # 0.10 at six months, 0.27 at two years on this grid).
    error = np.abs(baw_price(*args) - lr)
    assert error[days <= 30].max() < 0.04
    assert error[days <= 182].max() < 0.12
    assert error.max() < 0.3


def test_european_tree_converges_to_black_scholes() -> None:
    strikes = np.array([80.0, 100.0, 120.0])
    euro = bsm_price("p", 100.0, strikes, 1.0, 0.05, 0.02, 0.25)
    tree = binomial_price("p", 100.0, strikes, 1.0, 0.05, 0.02, 0.25, steps=1001, american=False)
    np.testing.assert_allclose(tree, euro, atol=2e-6)


def test_american_at_least_european_and_equal_without_early_exercise() -> None:
    rng = np.random.default_rng(3)
    n = 400
    is_call = rng.random(n) < 0.5
    spot, t, vol = rng.uniform(60, 140, n), rng.uniform(0.02, 3, n), rng.uniform(0.05, 0.8, n)
    r, q = rng.uniform(-0.01, 0.08, n), rng.uniform(-0.02, 0.08, n)
    args = (is_call, spot, 100.0, t, r, r - q, vol)
    intrinsic = np.maximum(np.where(is_call, spot - 100.0, 100.0 - spot), 0.0)
    tree = binomial_price(*args, steps=201)
    tree_european = binomial_price(*args, steps=201, american=False)
    assert np.all(tree >= tree_european - 1e-12)
    assert np.all(tree >= intrinsic - 1e-9)
    # BAW needs r >= 0 where early exercise can pay (as QuantLib's engine does).
    euro = bsm_price(*args)
    pos = r >= 0
    baw = baw_price(*(a[pos] if isinstance(a, np.ndarray) else a for a in args))
    assert np.all(baw >= euro[pos] - 1e-12)
    assert np.all(baw >= intrinsic[pos] - 1e-12)
    # Calls with q <= 0 <= r and puts with r <= 0 <= q are never exercised early.
    no_early = pos & np.where(is_call, q <= 0, q >= 0) & np.where(is_call, True, r <= 0)
    no_early_baw = baw_price(*(a[no_early] if isinstance(a, np.ndarray) else a for a in args))
    np.testing.assert_array_equal(no_early_baw, euro[no_early])
    # With negative rates the call can be exercised early, and the tree sees it.
    assert float(binomial_price("c", 140.0, 100.0, 2.0, -0.02, -0.02, 0.1)) > float(
        bsm_price("c", 140.0, 100.0, 2.0, -0.02, -0.02, 0.1)
    )


def test_early_exercise_premium_appears_where_expected() -> None:
    # Dividend-paying call and positive-rate put carry a premium over the European value.
    call = baw_price("c", 100.0, 100.0, 1.0, 0.03, 0.03 - 0.08, 0.25)
    put = binomial_price("p", 100.0, 110.0, 1.0, 0.08, 0.08, 0.25)
    assert float(call) > float(bsm_price("c", 100.0, 100.0, 1.0, 0.03, -0.05, 0.25)) + 0.1
    assert float(put) > float(bsm_price("p", 100.0, 110.0, 1.0, 0.08, 0.08, 0.25)) + 0.1
    # Deep in the money the put is worth its exercise value.
    assert float(baw_price("p", 50.0, 100.0, 1.0, 0.08, 0.08, 0.25)) == 50.0


def test_bad_inputs_raise() -> None:
    with pytest.raises(ValueError, match=re.escape("needs rate >= 0 where early exercise can pay")):
        baw_price("c", 100.0, 100.0, 1.0, [0.01, -0.01], 0.0, 0.2)
    with pytest.raises(
        ValueError, match=re.escape("vol must be finite and > 0, got -0.1 at index 1")
    ):
        baw_price("p", 100.0, 100.0, 1.0, 0.05, 0.05, [0.2, -0.1])
    with pytest.raises(ValueError, match=re.escape("t must be finite and > 0")):
        binomial_price("p", 100.0, 100.0, 0.0, 0.05, 0.05, 0.2)
    with pytest.raises(ValueError, match=re.escape("method must be 'lr' or 'crr'")):
        binomial_price("p", 100.0, 100.0, 1.0, 0.05, 0.05, 0.2, method="jr")
    with pytest.raises(ValueError, match=re.escape("steps must be a positive integer")):
        binomial_price("p", 100.0, 100.0, 1.0, 0.05, 0.05, 0.2, steps=0)
    with pytest.raises(ValueError, match=re.escape("CRR probability")):
        binomial_price("c", 100.0, 100.0, 1.0, 0.05, 5.0, 0.01, steps=10, method="crr")
