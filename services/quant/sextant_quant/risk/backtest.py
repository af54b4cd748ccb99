"""VaR backtests: Kupiec proportion of failures, Christoffersen independence, conditional coverage.

An exception (hit) on day t is a realised loss larger than that day's VaR forecast,
``-return_t > var_t``, with VaR as a positive loss fraction as everywhere in this package.
All three are likelihood-ratio tests with chi-squared p-values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats
from scipy.special import xlogy

from ._validate import RiskInputError, check_confidence, check_unit_interval, check_vector


@dataclass(frozen=True)
class LRTest:
    """One likelihood-ratio test: statistic, chi-squared degrees of freedom, p-value, verdict."""

    statistic: float
    dof: int
    p_value: float
    significance: float
    reject: bool


@dataclass(frozen=True)
class VaRBacktest:
    """Outcome of backtesting a VaR forecast series against realised returns.

    ``exceptions`` counts days with loss > VaR out of ``n_obs``; ``expected_exceptions`` is
    ``n_obs * (1 - confidence)``. ``transitions`` are the hit-sequence counts
    ``(n00, n01, n10, n11)`` where ``nij`` counts day pairs going from state i to state j
    (1 = exception). ``exception_index`` lists the positions of the exceptions.
    """

    n_obs: int
    confidence: float
    exceptions: int
    expected_exceptions: float
    exception_rate: float
    exception_index: tuple[int, ...]
    transitions: tuple[int, int, int, int]
    pof: LRTest
    independence: LRTest
    conditional_coverage: LRTest


def kupiec_pof(exceptions: ArrayLike, confidence: float, significance: float = 0.05) -> LRTest:
    """Kupiec (1995) proportion-of-failures test of the exception rate against ``1 - confidence``.

    ``exceptions`` is the 0/1 (or boolean) hit series. With ``n`` days, ``x`` hits and
    ``p = 1 - confidence``:
    ``LR = -2 [ (n-x) ln(1-p) + x ln p - (n-x) ln(1-x/n) - x ln(x/n) ]`` (0 ln 0 = 0),
    asymptotically chi2(1) under correct coverage.
    """
    hits = _hits(exceptions)
    c = check_confidence(confidence)
    alpha = _significance(significance)
    n, x = hits.size, int(hits.sum())
    p, phat = 1.0 - c, x / n
    log_null = xlogy(n - x, 1 - p) + xlogy(x, p)
    log_alt = xlogy(n - x, 1 - phat) + xlogy(x, phat)
    return _lr_test(-2.0 * (log_null - log_alt), 1, alpha)


def christoffersen_independence(exceptions: ArrayLike, significance: float = 0.05) -> LRTest:
    """Christoffersen (1998) test that exceptions do not cluster (first-order Markov alternative).

    From the transition counts ``nij`` of the hit series, ``pi01 = n01/(n00+n01)``,
    ``pi11 = n11/(n10+n11)`` and ``pi = (n01+n11)/(n00+n01+n10+n11)``:
    ``LR = -2 [ ln L(pi) - ln L(pi01, pi11) ]`` with
    ``ln L(pi) = (n00+n10) ln(1-pi) + (n01+n11) ln pi`` and
    ``ln L(pi01, pi11) = n00 ln(1-pi01) + n01 ln pi01 + n10 ln(1-pi11) + n11 ln pi11``,
    asymptotically chi2(1). Needs at least two observations.
    """
    hits = _hits(exceptions)
    alpha = _significance(significance)
    if hits.size < 2:
        raise RiskInputError("exceptions needs at least 2 observations for the independence test")
    return _lr_test(_independence_statistic(*_transitions(hits)), 1, alpha)


def backtest_var(
    returns: ArrayLike,
    var_forecasts: ArrayLike,
    confidence: float,
    significance: float = 0.05,
) -> VaRBacktest:
    """Backtest VaR forecasts against the realised returns of the same periods.

    ``returns`` are realised portfolio returns (fractions) and ``var_forecasts`` the VaR
    forecast made for each of those periods (positive loss fractions, same length, aligned).
    Reports the Kupiec POF test, the Christoffersen independence test and their conditional
    coverage combination ``LR_cc = LR_pof + LR_ind`` (chi2(2)); ``reject`` means the test
    rejects correct VaR at ``significance``.
    """
    realised = check_vector(returns, "returns")
    var = check_vector(var_forecasts, "var_forecasts")
    if var.size != realised.size:
        raise RiskInputError(
            f"var_forecasts has {var.size} entries but returns has {realised.size}; "
            "pass one VaR forecast per realised return, aligned by period"
        )
    c = check_confidence(confidence)
    alpha = _significance(significance)
    if realised.size < 2:
        raise RiskInputError("returns needs at least 2 observations to backtest")
    hits = -realised > var
    pof = kupiec_pof(hits, c, alpha)
    counts = _transitions(hits)
    ind = _lr_test(_independence_statistic(*counts), 1, alpha)
    n, x = int(hits.size), int(hits.sum())
    return VaRBacktest(
        n_obs=n,
        confidence=c,
        exceptions=x,
        expected_exceptions=n * (1.0 - c),
        exception_rate=x / n,
        exception_index=tuple(int(i) for i in np.flatnonzero(hits)),
        transitions=counts,
        pof=pof,
        independence=ind,
        conditional_coverage=_lr_test(pof.statistic + ind.statistic, 2, alpha),
    )


def _independence_statistic(n00: int, n01: int, n10: int, n11: int) -> float:
    total = n00 + n01 + n10 + n11
    pi = (n01 + n11) / total
    pi01 = n01 / (n00 + n01) if n00 + n01 else 0.0
    pi11 = n11 / (n10 + n11) if n10 + n11 else 0.0
    log_null = xlogy(n00 + n10, 1 - pi) + xlogy(n01 + n11, pi)
    log_alt = xlogy(n00, 1 - pi01) + xlogy(n01, pi01) + xlogy(n10, 1 - pi11) + xlogy(n11, pi11)
    return float(-2.0 * (log_null - log_alt))


def _transitions(hits: np.ndarray) -> tuple[int, int, int, int]:
    prev, curr = hits[:-1], hits[1:]
    return (
        int(np.sum(~prev & ~curr)),
        int(np.sum(~prev & curr)),
        int(np.sum(prev & ~curr)),
        int(np.sum(prev & curr)),
    )


def _lr_test(statistic: float, dof: int, significance: float) -> LRTest:
    # Rounding can leave a log-likelihood difference of -1e-15; the statistic is >= 0 by theory.
    stat = max(float(statistic), 0.0)
    p_value = float(stats.chi2.sf(stat, dof))
    return LRTest(stat, dof, p_value, significance, p_value < significance)


def _hits(exceptions: ArrayLike) -> np.ndarray:
    arr = check_vector(exceptions, "exceptions")
    if not np.all((arr == 0) | (arr == 1)):
        raise RiskInputError("exceptions must be 0/1 or boolean (1 = loss exceeded VaR)")
    return arr.astype(bool)


def _significance(value: float) -> float:
    alpha = check_unit_interval(value, "significance")
    if alpha in (0.0, 1.0):
        raise RiskInputError(f"significance must be strictly between 0 and 1, got {value!r}")
    return alpha
