"""Momentum oscillators with TA-Lib's conventions: RSI, MACD, MOM, ROC, Stochastic, Williams
%R and CCI."""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import ArrayLike

from ._inputs import (
    NEAR_ZERO,
    FloatArray,
    as_bars,
    as_series,
    check_period,
    nan_array,
    rolling_extremes,
    typical_price,
)
from .moving_averages import ema_from, sma_from


@njit(cache=True)
def _rsi_nb(x: FloatArray, period: int) -> FloatArray:  # pragma: no cover - numba
    n = x.shape[0]
    out = np.full(n, np.nan)
    if period >= n:
        return out
    gain = 0.0
    loss = 0.0
    for i in range(1, n):
        change = x[i] - x[i - 1]
        if i > period:
            loss *= period - 1
            gain *= period - 1
        if change < 0.0:
            loss -= change
        else:
            gain += change
        if i < period:
            continue
        loss /= period
        gain /= period
        total = gain + loss
        out[i] = 100.0 * (gain / total) if total > 0.0 else 0.0
    return out


@njit(cache=True)
def _cci_nb(tp: FloatArray, period: int) -> FloatArray:  # pragma: no cover - numba
    n = tp.shape[0]
    out = np.full(n, np.nan)
    for i in range(period - 1, n):
        # Sum in ring-buffer order, as TA-Lib does: row r sits in slot r % period, so the
        # order is the row in slot 0 up to row i, then the window's older rows.
        split = i - (i % period)
        mean = 0.0
        for r in range(split, i + 1):
            mean += tp[r]
        for r in range(i - period + 1, split):
            mean += tp[r]
        mean /= period
        deviation = 0.0
        for r in range(split, i + 1):
            deviation += abs(tp[r] - mean)
        for r in range(i - period + 1, split):
            deviation += abs(tp[r] - mean)
        deviation /= period
        above = tp[i] - mean
        scale = NEAR_ZERO * abs(mean)
        out[i] = above / (0.015 * deviation) if abs(above) > scale and deviation > scale else 0.0
    return out


def rsi(close: ArrayLike, period: int) -> FloatArray:
    """Relative strength index, 0-100: Wilder-smoothed average gain over average gain plus
    loss; 0 while prices have not moved; NaN for the first ``period`` rows (TA-Lib ``RSI``)."""
    x = as_series(close, "close")
    out: FloatArray = _rsi_nb(x, check_period(period, "period", 2))
    return out


def macd(
    close: ArrayLike, fast: int = 12, slow: int = 26, signal: int = 9
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(MACD line, signal line, histogram) in price units: EMA(fast) - EMA(slow), its
    EMA(signal), and their difference; NaN for the first ``slow + signal - 2`` rows.

    TA-Lib ``MACD``: both EMAs start on row ``slow - 1`` (the fast one is seeded with the mean
    of the ``fast`` values ending there, not from row 0), so the MACD line differs from
    ``ema(fast) - ema(slow)`` by a decaying amount; a ``slow`` below ``fast`` is swapped.
    """
    x = as_series(close, "close")
    f = check_period(fast, "fast", 2)
    s = check_period(slow, "slow", 2)
    g = check_period(signal, "signal", 1)
    f, s = min(f, s), max(f, s)
    lookback = s + g - 2
    if lookback >= x.size:
        return nan_array(x.size), nan_array(x.size), nan_array(x.size)
    line = ema_from(x, f, s - 1) - ema_from(x, s, s - 1)
    smooth: FloatArray = ema_from(line, g, lookback)
    line[:lookback] = np.nan
    return line, smooth, line - smooth


def mom(close: ArrayLike, period: int) -> FloatArray:
    """Momentum: close - close ``period`` rows earlier, in price units (TA-Lib ``MOM``)."""
    x = as_series(close, "close")
    p = check_period(period, "period", 1)
    out = nan_array(x.size)
    out[p:] = x[p:] - x[:-p]
    return out


@njit(cache=True)
def _roc_nb(x: FloatArray, period: int) -> FloatArray:  # pragma: no cover - numba
    out = np.full(x.shape[0], np.nan)
    for i in range(period, x.shape[0]):
        before = x[i - period]
        out[i] = ((x[i] / before) - 1.0) * 100.0 if before != 0.0 else 0.0
    return out


def roc(close: ArrayLike, period: int) -> FloatArray:
    """Rate of change in percent: (close / close ``period`` rows earlier - 1) * 100; 0 where
    the earlier close is 0; NaN for the first ``period`` rows (TA-Lib ``ROC``)."""
    x = as_series(close, "close")
    out: FloatArray = _roc_nb(x, check_period(period, "period", 1))
    return out


@njit(cache=True)
def _fast_k_nb(
    high: FloatArray, low: FloatArray, close: FloatArray, period: int
) -> FloatArray:  # pragma: no cover - numba
    """100 (close - lowest low) / (highest high - lowest low) over ``period`` rows; 0 where the
    range is within ``NEAR_ZERO`` of the extremes' size (a flat window)."""
    hh, ll = rolling_extremes(high, low, period)
    out = np.full(close.shape[0], np.nan)
    for i in range(period - 1, close.shape[0]):
        spread = hh[i] - ll[i]
        flat = abs(spread) <= NEAR_ZERO * (abs(hh[i]) + abs(ll[i]))
        out[i] = 0.0 if flat else (close[i] - ll[i]) / (spread / 100.0)
    return out


@njit(cache=True)
def _willr_nb(
    high: FloatArray, low: FloatArray, close: FloatArray, period: int
) -> FloatArray:  # pragma: no cover - numba
    hh, ll = rolling_extremes(high, low, period)
    out = np.full(close.shape[0], np.nan)
    for i in range(period - 1, close.shape[0]):
        diff = (hh[i] - ll[i]) / -100.0
        out[i] = (hh[i] - close[i]) / diff if diff != 0.0 else 0.0
    return out


def stoch(
    high: ArrayLike,
    low: ArrayLike,
    close: ArrayLike,
    fastk: int = 5,
    slowk: int = 3,
    slowd: int = 3,
) -> tuple[FloatArray, FloatArray]:
    """(slow %K, slow %D), 0-100: %K = where the close sits in the ``fastk``-row high-low range
    (0 for a flat range), smoothed by an SMA of ``slowk`` rows; %D its SMA of ``slowd`` rows.
    Both NaN for the first ``fastk + slowk + slowd - 3`` rows (TA-Lib ``STOCH``, SMA types)."""
    h, lo, c = as_bars({"high": high, "low": low, "close": close})
    fk = check_period(fastk, "fastk", 1)
    sk = check_period(slowk, "slowk", 1)
    sd = check_period(slowd, "slowd", 1)
    fast = _fast_k_nb(h, lo, c, fk)
    k: FloatArray = sma_from(fast, sk, fk - 1)
    d: FloatArray = sma_from(k, sd, fk + sk - 2)
    k[: min(fk + sk + sd - 3, k.size)] = np.nan
    return k, d


def willr(high: ArrayLike, low: ArrayLike, close: ArrayLike, period: int) -> FloatArray:
    """Williams %R, -100-0: -100 (highest high - close) / (highest high - lowest low) over
    ``period`` rows, 0 for a flat range; NaN for the first ``period - 1`` rows (TA-Lib
    ``WILLR``)."""
    h, lo, c = as_bars({"high": high, "low": low, "close": close})
    out: FloatArray = _willr_nb(h, lo, c, check_period(period, "period", 2))
    return out


def cci(high: ArrayLike, low: ArrayLike, close: ArrayLike, period: int) -> FloatArray:
    """Commodity channel index (unitless, typically within +-100): (typical price - its
    ``period``-row mean) / (0.015 * mean absolute deviation); 0 for a flat window; NaN for the
    first ``period - 1`` rows (TA-Lib ``CCI``)."""
    h, lo, c = as_bars({"high": high, "low": low, "close": close})
    out: FloatArray = _cci_nb(typical_price(h, lo, c), check_period(period, "period", 2))
    return out
