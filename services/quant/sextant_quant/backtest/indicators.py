"""Moving averages and crossings, in two forms that agree to the last bit.

* Array kernels (numba) for the vectorized engine: ``sma``, ``ema``, ``crossed_above``.
* O(1)-per-bar incremental indicators for the event-driven engine: ``SmaIndicator``,
  ``EmaIndicator``, ``CrossDetector``.

Both follow vectorbt 1.2's conventions exactly (``MA.run`` with ``minp=window``): the SMA is a
difference of running sums divided by the window, the EMA is pandas' ``ewm(span=window,
adjust=False)`` seeded with the first price and NaN until ``window`` prices have been seen, and a
cross "above" needs the fast series to have been strictly below the slow one since the last NaN,
and fires on the first bar it is strictly above after a bar where it was not. Doing the same float
operations in the same order is what makes the two engines' trades identical, not just close.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from numba import njit

from ._validate import FloatArray

MaKind = Literal["SMA", "EMA"]
MA_KINDS: tuple[MaKind, ...] = ("SMA", "EMA")


@njit(cache=True)
def _sma_nb(a: FloatArray, window: int) -> FloatArray:  # pragma: no cover - numba
    n = a.shape[0]
    out = np.empty(n, dtype=np.float64)
    csum_hist = np.empty(n, dtype=np.float64)
    csum = 0.0
    for i in range(n):
        csum = csum + a[i]
        csum_hist[i] = csum
        if i < window - 1:
            out[i] = np.nan
        elif i < window:
            out[i] = csum / window
        else:
            out[i] = (csum - csum_hist[i - window]) / window
    return out


@njit(cache=True)
def _ema_nb(a: FloatArray, window: int) -> FloatArray:  # pragma: no cover - numba
    n = a.shape[0]
    out = np.empty(n, dtype=np.float64)
    if n == 0:
        return out
    alpha = 1.0 / (1.0 + (window - 1) / 2.0)
    old_wt_factor = 1.0 - alpha
    avg = a[0]
    out[0] = avg if window <= 1 else np.nan
    for i in range(1, n):
        cur = a[i]
        if avg != cur:
            avg = ((old_wt_factor * avg) + (alpha * cur)) / (old_wt_factor + alpha)
        out[i] = avg if i + 1 >= window else np.nan
    return out


@njit(cache=True)
def _crossed_above_nb(a: FloatArray, b: FloatArray) -> np.ndarray:  # pragma: no cover - numba
    out = np.zeros(a.shape[0], dtype=np.bool_)
    was_below = False
    prev_above = False
    for i in range(a.shape[0]):
        x = a[i]
        y = b[i]
        if np.isnan(x) or np.isnan(y):
            was_below = False
            prev_above = False
        elif x > y:
            out[i] = was_below and not prev_above
            prev_above = was_below
        elif x == y:
            prev_above = False
        else:
            prev_above = False
            was_below = True
    return out


def sma(close: FloatArray, window: int) -> FloatArray:
    """Simple moving average over ``window`` bars; NaN for the first ``window - 1`` bars."""
    out: FloatArray = _sma_nb(np.ascontiguousarray(close, dtype=np.float64), int(window))
    return out


def ema(close: FloatArray, window: int) -> FloatArray:
    """EMA with span ``window`` (alpha = 2 / (window + 1)), seeded with the first price.

    NaN for the first ``window - 1`` bars (pandas ``ewm(span=window, adjust=False,
    min_periods=window)``, vectorbt ``MA.run(..., ewm=True)``).
    """
    out: FloatArray = _ema_nb(np.ascontiguousarray(close, dtype=np.float64), int(window))
    return out


def moving_average(close: FloatArray, window: int, kind: MaKind) -> FloatArray:
    """``sma`` or ``ema`` by name."""
    return sma(close, window) if kind == "SMA" else ema(close, window)


def crossed_above(a: FloatArray, b: FloatArray) -> np.ndarray:
    """Bars where ``a`` crosses strictly above ``b`` (vectorbt ``crossed_above``, ``wait=0``)."""
    out: np.ndarray = _crossed_above_nb(
        np.ascontiguousarray(a, dtype=np.float64), np.ascontiguousarray(b, dtype=np.float64)
    )
    return out


class SmaIndicator:
    """Incremental SMA: ``update(price)`` returns the average of the last ``window`` prices.

    Keeps a ring of running sums so each update is O(1) and bit-identical to ``sma``.
    """

    __slots__ = ("_csum", "_n", "_ring", "window")

    def __init__(self, window: int) -> None:
        self.window = window
        self._ring = [0.0] * window
        self._csum = 0.0
        self._n = 0

    def update(self, price: float) -> float:
        """Add one price; return the SMA (NaN until ``window`` prices have been seen)."""
        w = self.window
        csum = self._csum + price
        n = self._n
        slot = n % w
        old = self._ring[slot]
        self._ring[slot] = csum
        self._csum = csum
        self._n = n + 1
        if n < w - 1:
            return math.nan
        if n < w:
            return csum / w
        return (csum - old) / w


class EmaIndicator:
    """Incremental EMA, bit-identical to ``ema`` (span ``window``, seeded with the first price)."""

    __slots__ = ("_alpha", "_avg", "_beta", "_n", "window")

    def __init__(self, window: int) -> None:
        self.window = window
        self._alpha = 1.0 / (1.0 + (window - 1) / 2.0)
        self._beta = 1.0 - self._alpha
        self._avg = math.nan
        self._n = 0

    def update(self, price: float) -> float:
        """Add one price; return the EMA (NaN until ``window`` prices have been seen)."""
        n = self._n + 1
        self._n = n
        if n == 1:
            avg = price
        else:
            avg = self._avg
            if avg != price:
                avg = ((self._beta * avg) + (self._alpha * price)) / (self._beta + self._alpha)
        self._avg = avg
        return avg if n >= self.window else math.nan


def make_indicator(kind: MaKind, window: int) -> SmaIndicator | EmaIndicator:
    """The incremental indicator for an MA kind."""
    return SmaIndicator(window) if kind == "SMA" else EmaIndicator(window)


class CrossDetector:
    """Incremental two-sided cross detection with the rules of ``crossed_above``.

    ``update(fast, slow)`` returns +1 on a cross above, -1 on a cross below, 0 otherwise.
    """

    __slots__ = ("_prev", "_was_above", "_was_below")

    def __init__(self) -> None:
        self._was_below = False
        self._was_above = False
        self._prev = 0  # sign of fast - slow on the previous bar (0 for equal or NaN)

    def update(self, fast: float, slow: float) -> int:
        """Feed one bar's fast and slow values; return +1 / -1 / 0."""
        if fast > slow:
            fired = 1 if self._was_below and self._prev != 1 else 0
            self._was_above = True
            self._prev = 1
            return fired
        if fast < slow:
            fired = -1 if self._was_above and self._prev != -1 else 0
            self._was_below = True
            self._prev = -1
            return fired
        if fast != fast or slow != slow:  # NaN resets both histories
            self._was_below = False
            self._was_above = False
        self._prev = 0
        return 0
