"""Wilder's directional movement: ADX with its +DI and -DI (TA-Lib ``ADX``, ``PLUS_DI``,
``MINUS_DI``)."""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import ArrayLike

from ._inputs import NEAR_ZERO, FloatArray, as_bars, check_period
from .volatility import true_range_of


@njit(cache=True)
def _adx_nb(
    high: FloatArray, low: FloatArray, close: FloatArray, period: int
) -> tuple[FloatArray, FloatArray, FloatArray]:  # pragma: no cover - numba
    n = high.shape[0]
    day_ranges = true_range_of(high, low, close)
    adx = np.full(n, np.nan)
    plus_di = np.full(n, np.nan)
    minus_di = np.full(n, np.nan)
    if period >= n:
        return adx, plus_di, minus_di
    plus_dm = 0.0
    minus_dm = 0.0
    tr = 0.0
    dx_sum = 0.0
    avg_dx = 0.0
    for i in range(1, n):
        up = high[i] - high[i - 1]
        down = low[i - 1] - low[i]
        if i >= period:  # Wilder's smoothing after period - 1 plain sums
            minus_dm -= minus_dm / period
            plus_dm -= plus_dm / period
        if down > 0 and up < down:
            minus_dm += down
        elif up > 0 and up > down:
            plus_dm += up
        tr = tr - tr / period + day_ranges[i] if i >= period else tr + day_ranges[i]
        if i < period:
            continue
        dx = -1.0  # no DX today: a flat market leaves the ADX where it was
        if tr <= 0.0:  # a sum of true ranges: zero only if every range was
            plus_di[i] = 0.0
            minus_di[i] = 0.0
        else:
            m = 100.0 * (minus_dm / tr)
            p = 100.0 * (plus_dm / tr)
            minus_di[i] = m
            plus_di[i] = p
            both = m + p
            if not (-NEAR_ZERO < both < NEAR_ZERO):
                dx = 100.0 * (abs(m - p) / both)
        if i < 2 * period - 1:
            if dx >= 0.0:
                dx_sum += dx
        elif i == 2 * period - 1:
            if dx >= 0.0:
                dx_sum += dx
            avg_dx = dx_sum / period
            adx[i] = avg_dx
        else:
            if dx >= 0.0:
                avg_dx = (avg_dx * (period - 1) + dx) / period
            adx[i] = avg_dx
    return adx, plus_di, minus_di


def adx(
    high: ArrayLike, low: ArrayLike, close: ArrayLike, period: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(ADX, +DI, -DI), each 0-100: +DI / -DI are Wilder-smoothed directional movement over the
    smoothed true range in percent (NaN for the first ``period`` rows), ADX the Wilder average
    of DX = 100 |+DI - -DI| / (+DI + -DI) (NaN for the first ``2 * period - 1`` rows).

    TA-Lib ``ADX``, ``PLUS_DI`` and ``MINUS_DI``: the first smoothed DM and TR are plain sums of
    ``period - 1`` one-day values, and a day with zero range or no directional movement adds
    no DX (the ADX carries over).
    """
    h, lo, c = as_bars({"high": high, "low": low, "close": close})
    out: tuple[FloatArray, FloatArray, FloatArray] = _adx_nb(
        h, lo, c, check_period(period, "period", 2)
    )
    return out
