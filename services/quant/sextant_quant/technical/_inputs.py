"""Input checks shared by the indicator functions: float64 price arrays and integer periods."""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]


def as_series(values: ArrayLike, name: str) -> FloatArray:
    """``values`` as a contiguous 1-D float64 array of finite numbers.

    Raises ``ValueError`` naming ``name`` and the first bad row: TA-Lib would carry a NaN
    through every later value of a recursive indicator, which is never what a caller wants.
    """
    arr: FloatArray = np.ascontiguousarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        row = int(np.argmax(bad))
        raise ValueError(f"{name} must be finite, got {arr[row]} at row {row}")
    return arr


def as_bars(name_values: dict[str, ArrayLike]) -> tuple[FloatArray, ...]:
    """Several :func:`as_series` of one length (high, low, close ...), in the given order."""
    arrays = tuple(as_series(values, name) for name, values in name_values.items())
    lengths = {name: arr.size for name, arr in zip(name_values, arrays, strict=True)}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"inputs must have one length, got {lengths}")
    return arrays


def check_period(value: int, name: str, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum`` (TA-Lib's lower bound for that parameter)."""
    if isinstance(value, bool) or int(value) != value or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def nan_array(size: int) -> FloatArray:
    """An output array that is NaN until a kernel writes it (the warm-up stays NaN)."""
    return np.full(size, np.nan)


NEAR_ZERO = 1e-14
"""TA-Lib's ``TA_EPSILON``. A dimensionless quantity strictly inside (-1e-14, 1e-14) counts as
zero; a difference of prices counts as zero within ``NEAR_ZERO`` times the prices' own size
(TA-Lib's scale-relative test, so a flat window answers 0 at any price level)."""


@njit(cache=True)
def rolling_extremes(
    high: FloatArray, low: FloatArray, period: int
) -> tuple[FloatArray, FloatArray]:  # pragma: no cover - numba
    """Highest ``high`` and lowest ``low`` of the last ``period`` rows (NaN before the first
    full window). Max and min are exact, so no order of operations matters here; the window
    is rescanned only when its extreme leaves it."""
    n = high.shape[0]
    hh = np.full(n, np.nan)
    ll = np.full(n, np.nan)
    hi_at = -1
    lo_at = -1
    for i in range(period - 1, n):
        first = i - period + 1
        if hi_at < first:
            hi_at = first
            for j in range(first + 1, i + 1):
                if high[j] >= high[hi_at]:
                    hi_at = j
        elif high[i] >= high[hi_at]:
            hi_at = i
        if lo_at < first:
            lo_at = first
            for j in range(first + 1, i + 1):
                if low[j] <= low[lo_at]:
                    lo_at = j
        elif low[i] <= low[lo_at]:
            lo_at = i
        hh[i] = high[hi_at]
        ll[i] = low[lo_at]
    return hh, ll


def typical_price(high: FloatArray, low: FloatArray, close: FloatArray) -> FloatArray:
    """(high + low + close) / 3, summed in TA-Lib's order, in price units."""
    out: FloatArray = (high + low + close) / 3.0
    return out
