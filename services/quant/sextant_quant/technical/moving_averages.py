"""Moving averages with TA-Lib's conventions: SMA, EMA (seeded with the SMA), WMA.

Each kernel does TA-Lib's float operations in TA-Lib's order (running window sums, not
cumulative-sum differences), so the averages agree to a few ulps and a flat stretch averages
to exactly its price, which the bands and oscillators built on them rely on.

Not the averages of :mod:`sextant_quant.backtest.indicators`: those follow vectorbt (an EMA
seeded with the first price, an SMA from cumulative sums) so that the backtester's two engines
trade identically; the numbers differ in the warm-up and by rounding after it.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import ArrayLike

from ._inputs import FloatArray, as_series, check_period, nan_array


@njit(cache=True)
def sma_from(x: FloatArray, period: int, start: int) -> FloatArray:  # pragma: no cover - numba
    """SMA of ``x[start:]`` written at its own rows (NaN before ``start + period - 1``)."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    first = start + period - 1
    if first >= n:
        return out
    total = 0.0
    for i in range(start, first):
        total += x[i]
    trailing = start
    for i in range(first, n):
        total += x[i]
        value = total
        total -= x[trailing]
        trailing += 1
        out[i] = value / period
    return out


@njit(cache=True)
def window_mean(x: FloatArray, period: int, last: int) -> float:  # pragma: no cover - numba
    """Mean of the ``period`` values ending at row ``last``, summed oldest first: the seed of
    TA-Lib's EMA and of Wilder's averages."""
    total = 0.0
    for i in range(last - period + 1, last + 1):
        total += x[i]
    return total / period


@njit(cache=True)
def ema_from(x: FloatArray, period: int, first: int) -> FloatArray:  # pragma: no cover - numba
    """EMA with k = 2 / (period + 1) whose first value, at row ``first``, is the mean of the
    ``period`` values ending there (TA-Lib's default seed); NaN before ``first``."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    if first >= n:
        return out
    k = 2.0 / (period + 1)
    prev = window_mean(x, period, first)
    out[first] = prev
    for i in range(first + 1, n):
        prev = ((x[i] - prev) * k) + prev
        out[i] = prev
    return out


@njit(cache=True)
def _wma_nb(x: FloatArray, period: int) -> FloatArray:  # pragma: no cover - numba
    n = x.shape[0]
    out = np.full(n, np.nan)
    if period > n:
        return out
    divider = (period * (period + 1)) / 2.0
    weighted = 0.0  # sum of weight * value over the window
    plain = 0.0  # sum of the values, subtracted to shift every weight down by one
    for i in range(period - 1):
        weighted += x[i] * (i + 1)
        plain += x[i]
    trailing_value = 0.0
    for i in range(period - 1, n):
        value = x[i]
        plain += value
        plain -= trailing_value
        weighted += value * period
        trailing_value = x[i - period + 1]
        out[i] = weighted / divider
        weighted -= plain
    return out


def sma(close: ArrayLike, period: int) -> FloatArray:
    """Simple moving average of the last ``period`` values, in the input's units; NaN for the
    first ``period - 1`` rows (TA-Lib ``SMA``)."""
    x = as_series(close, "close")
    out: FloatArray = sma_from(x, check_period(period, "period", 2), 0)
    return out


def ema(close: ArrayLike, period: int) -> FloatArray:
    """Exponential moving average, k = 2 / (period + 1), in the input's units, seeded with the
    SMA of the first ``period`` values; NaN for the first ``period - 1`` rows (TA-Lib ``EMA``)."""
    x = as_series(close, "close")
    p = check_period(period, "period", 2)
    out: FloatArray = ema_from(x, p, p - 1) if p <= x.size else nan_array(x.size)
    return out


def wma(close: ArrayLike, period: int) -> FloatArray:
    """Linearly weighted moving average (weight ``period`` on the latest value, 1 on the
    oldest), in the input's units; NaN for the first ``period - 1`` rows (TA-Lib ``WMA``)."""
    x = as_series(close, "close")
    out: FloatArray = _wma_nb(x, check_period(period, "period", 2))
    return out
