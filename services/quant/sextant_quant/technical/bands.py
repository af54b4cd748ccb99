"""Bollinger bands with TA-Lib's conventions (SMA middle, population standard deviation)."""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import ArrayLike

from ._inputs import FloatArray, as_series, check_period
from .moving_averages import sma_from

RESEED_EVERY = 32
"""Windows (of ``period`` rows) after which the running variance sums are rebuilt."""


@njit(cache=True)
def _window_sums(x: FloatArray, lo: int, hi: int, shift: float) -> tuple[float, float]:
    """Sum of x - shift and of (x - shift)^2 over rows ``lo..hi - 1``."""  # pragma: no cover
    total = 0.0
    squares = 0.0
    for j in range(lo, hi):
        d = x[j] - shift
        total += d
        squares += d * d
    return total, squares


@njit(cache=True)
def _stddev_nb(x: FloatArray, period: int) -> FloatArray:  # pragma: no cover - numba
    """Population standard deviation of the last ``period`` rows (TA-Lib's ``var.c``).

    Running sums of deviations from a shift (the first value, later a window mean) keep the
    variance free of the cancellation that E[x^2] - E[x]^2 suffers at price levels; the sums
    are rebuilt around the window mean when the variance falls below 1e-6 of the mean square,
    when a leaving value dwarfs the sums, and every ``RESEED_EVERY`` windows. After a rebuild
    a variance below 1e-12 of the mean square is exactly 0 (a flat window).
    """
    n = x.shape[0]
    out = np.full(n, np.nan)
    if period > n:
        return out
    inv = 1.0 / period
    shift = x[0]
    total, squares = _window_sums(x, 0, period - 1, shift)
    countdown = RESEED_EVERY * period
    for i in range(period - 1, n):
        d = x[i] - shift
        total += d
        squares += d * d
        mean = total * inv
        variance = squares * inv - mean * mean
        d = x[i - period + 1] - shift
        total -= d
        d *= d
        squares -= d
        countdown -= 1
        if variance < 0.000001 * (squares * inv) or d > 1000000.0 * squares or countdown <= 0:
            countdown = RESEED_EVERY * period
            start = i - period + 1
            level = 0.0
            for j in range(start, i + 1):
                level += x[j]
            shift = level * inv
            total, squares = _window_sums(x, start, i + 1, shift)
            mean = total * inv
            variance = squares * inv - mean * mean
            if variance < 0.000000000001 * (squares * inv):
                variance = 0.0
            d = x[start] - shift
            total -= d
            squares -= d * d
        out[i] = np.sqrt(variance) if variance != 0.0 else 0.0
    return out


def bbands(
    close: ArrayLike, period: int, nbdev_up: float = 2.0, nbdev_dn: float = 2.0
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(upper, middle, lower) Bollinger bands in price units: the ``period``-row SMA plus and
    minus ``nbdev_up`` / ``nbdev_dn`` population standard deviations of the same rows; NaN for
    the first ``period - 1`` rows (TA-Lib ``BBANDS`` with ``matype=SMA``)."""
    x = as_series(close, "close")
    p = check_period(period, "period", 2)
    for name, value in (("nbdev_up", nbdev_up), ("nbdev_dn", nbdev_dn)):
        if not np.isfinite(value):
            raise ValueError(f"{name} must be a finite number of standard deviations, got {value}")
    middle: FloatArray = sma_from(x, p, 0)
    deviation = _stddev_nb(x, p)
    return middle + deviation * nbdev_up, middle, middle - deviation * nbdev_dn
