"""Kupiec and Christoffersen statistics against hand-computed values on a small hit series."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from sextant_quant.risk import (
    RiskInputError,
    backtest_var,
    christoffersen_independence,
    kupiec_pof,
)

# 20 days, exceptions on days 2, 6, 7 and 19 (a cluster at 6-7).
HITS = [0, 0, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
# Transitions read off by hand: 0->0 x13, 0->1 x3 (1-2, 5-6, 18-19), 1->0 x2 (2-3, 7-8), 1->1 x1.
N00, N01, N10, N11 = 13, 3, 2, 1


def test_kupiec_pof_hand_computed():
    n, x, p = 20, 4, 0.05
    by_hand = -2 * (
        (n - x) * math.log(1 - p)
        + x * math.log(p)
        - (n - x) * math.log(1 - x / n)
        - x * math.log(x / n)
    )
    result = kupiec_pof(HITS, confidence=0.95)
    assert result.statistic == pytest.approx(by_hand, rel=1e-12)
    # -2 * [(16 ln .95 + 4 ln .05) - (16 ln .8 + 4 ln .2)] = -2 * (-12.80362 + 10.00805)
    assert result.statistic == pytest.approx(5.5911, abs=1e-4)
    assert result.p_value == pytest.approx(stats.chi2.sf(by_hand, 1), rel=1e-12)
    assert result.dof == 1
    assert result.reject  # p = 0.018: 4 hits in 20 days is too many for a 95% VaR


def test_christoffersen_independence_hand_computed():
    pi01, pi11, pi = N01 / (N00 + N01), N11 / (N10 + N11), (N01 + N11) / 19
    log_null = (N00 + N10) * math.log(1 - pi) + (N01 + N11) * math.log(pi)
    log_alt = (
        N00 * math.log(1 - pi01)
        + N01 * math.log(pi01)
        + N10 * math.log(1 - pi11)
        + N11 * math.log(pi11)
    )
    by_hand = -2 * (log_null - log_alt)
    result = christoffersen_independence(HITS)
    assert result.statistic == pytest.approx(by_hand, rel=1e-12)
    assert result.p_value == pytest.approx(stats.chi2.sf(by_hand, 1), rel=1e-12)
    assert not result.reject


def test_backtest_var_reports_counts_and_conditional_coverage():
    var = np.full(20, 0.02)
    returns = np.where(np.array(HITS) == 1, -0.03, 0.001)
    returns[10] = -0.02  # a loss exactly at VaR is not an exception
    report = backtest_var(returns, var, confidence=0.95, significance=0.05)
    assert report.exceptions == 4 and report.n_obs == 20
    assert report.expected_exceptions == pytest.approx(1.0)
    assert report.exception_rate == pytest.approx(0.2)
    assert report.exception_index == (2, 6, 7, 19)
    assert report.transitions == (N00, N01, N10, N11)
    pof, ind = kupiec_pof(HITS, 0.95), christoffersen_independence(HITS)
    assert report.pof == pof and report.independence == ind
    cc = report.conditional_coverage
    assert cc.statistic == pytest.approx(pof.statistic + ind.statistic, rel=1e-14)
    assert cc.dof == 2
    assert cc.p_value == pytest.approx(stats.chi2.sf(cc.statistic, 2), rel=1e-12)
    assert cc.reject == (cc.p_value < 0.05)


def test_no_exceptions_gives_finite_statistics():
    n, p = 250, 0.01
    result = kupiec_pof(np.zeros(n, dtype=bool), confidence=0.99)
    assert result.statistic == pytest.approx(-2 * n * math.log(1 - p), rel=1e-12)
    assert christoffersen_independence(np.zeros(n)).statistic == 0.0
    report = backtest_var(np.full(n, 0.001), np.full(n, 0.02), confidence=0.99)
    assert report.exceptions == 0 and math.isfinite(report.conditional_coverage.p_value)


def test_backtest_input_errors():
    with pytest.raises(RiskInputError, match="var_forecasts has 3 entries but returns has 4"):
        backtest_var([0.0, 0.0, 0.0, 0.0], [0.01, 0.01, 0.01], confidence=0.99)
    with pytest.raises(RiskInputError, match="var_forecasts contains 1 NaN"):
        backtest_var([0.0, 0.0], [0.01, float("nan")], confidence=0.99)
    with pytest.raises(RiskInputError, match="exceptions must be 0/1"):
        kupiec_pof([0, 2, 1], confidence=0.99)
    with pytest.raises(RiskInputError, match="significance must be strictly between 0 and 1"):
        kupiec_pof(HITS, confidence=0.95, significance=0.0)
