"""True range and Wilder's average true range (TA-Lib ``TRANGE``, ``ATR``)."""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import ArrayLike

from ._inputs import FloatArray, as_bars, check_period
from .moving_averages import window_mean


@njit(cache=True)
def true_range_of(
    high: FloatArray, low: FloatArray, close: FloatArray
) -> FloatArray:  # pragma: no cover - numba
    """Checked arrays' true range: the largest of high - low, |high - previous close| and
    |low - previous close|, in price units; NaN on the first row (no previous close)."""
    n = high.shape[0]
    out = np.full(n, np.nan)
    for i in range(1, n):
        day_range = high[i] - low[i]
        day_range = max(day_range, abs(close[i - 1] - high[i]))
        out[i] = max(day_range, abs(close[i - 1] - low[i]))
    return out


@njit(cache=True)
def wilder_average(values: FloatArray, period: int, first: int) -> FloatArray:  # pragma: no cover
    """Wilder's smoothing of ``values``: the plain mean of the ``period`` values ending at row
    ``first``, then avg = (avg * (period - 1) + value) / period; NaN before ``first``."""
    n = values.shape[0]
    out = np.full(n, np.nan)
    if first >= n:
        return out
    avg = window_mean(values, period, first)
    out[first] = avg
    for i in range(first + 1, n):
        avg *= period - 1
        avg += values[i]
        avg /= period
        out[i] = avg
    return out


def true_range(high: ArrayLike, low: ArrayLike, close: ArrayLike) -> FloatArray:
    """True range per row in price units; NaN on the first row (TA-Lib ``TRANGE``)."""
    h, lo, c = as_bars({"high": high, "low": low, "close": close})
    return true_range_of(h, lo, c)


def atr(high: ArrayLike, low: ArrayLike, close: ArrayLike, period: int) -> FloatArray:
    """Average true range in price units: Wilder's smoothing of the true range over ``period``
    rows, seeded with the mean of the first ``period`` true ranges; NaN for the first
    ``period`` rows (TA-Lib ``ATR``; ``period`` 1 is the true range itself)."""
    h, lo, c = as_bars({"high": high, "low": low, "close": close})
    p = check_period(period, "period", 1)
    tr = true_range_of(h, lo, c)
    if p == 1:
        return tr
    out: FloatArray = wilder_average(tr, p, p)
    return out
