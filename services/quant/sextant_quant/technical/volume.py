"""Volume indicators with TA-Lib's conventions: on-balance volume and the money flow index."""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import ArrayLike

from ._inputs import NEAR_ZERO, FloatArray, as_bars, check_period, typical_price


@njit(cache=True)
def _mfi_nb(tp: FloatArray, volume: FloatArray, period: int) -> FloatArray:  # pragma: no cover
    n = tp.shape[0]
    out = np.full(n, np.nan)
    if period >= n:
        return out
    positive = np.zeros(n)
    negative = np.zeros(n)
    pos_sum = 0.0
    neg_sum = 0.0
    idle = 0  # consecutive rows without money flow
    for i in range(1, n):
        change = tp[i] - tp[i - 1]
        # A move within NEAR_ZERO of the price level is no move.
        moved = abs(change) > NEAR_ZERO * (abs(tp[i]) + abs(tp[i - 1]))
        flow = tp[i] * volume[i] if moved else 0.0
        if change < 0.0:
            negative[i] = flow
        else:
            positive[i] = flow
        if i > period:  # the flow leaving the window
            pos_sum -= positive[i - period]
            neg_sum -= negative[i - period]
        pos_sum += positive[i]
        neg_sum += negative[i]
        idle = idle + 1 if flow == 0.0 else 0
        if idle >= period:  # an empty window: drop the sums' rounding residue
            idle = period
            pos_sum = 0.0
            neg_sum = 0.0
        if i >= period:
            total = pos_sum + neg_sum
            # The sums drift by ulps as the window slides: keep the share within [0, 1].
            share = min(max(pos_sum, 0.0), total)
            out[i] = 100.0 * (share / total) if total > 0.0 else 0.0
    return out


def obv(close: ArrayLike, volume: ArrayLike) -> FloatArray:
    """On-balance volume in volume units: the first volume, then plus the volume of an up
    close and minus that of a down close (TA-Lib ``OBV``; no warm-up)."""
    c, v = as_bars({"close": close, "volume": volume})
    signed = np.sign(np.diff(c)) * v[1:]
    out: FloatArray = np.cumsum(np.concatenate((v[:1], signed)))
    return out


def mfi(
    high: ArrayLike, low: ArrayLike, close: ArrayLike, volume: ArrayLike, period: int
) -> FloatArray:
    """Money flow index, 0-100: the share of the last ``period`` rows' money flow (typical
    price x volume) that came on rising typical prices; NaN for the first ``period`` rows
    (TA-Lib ``MFI``)."""
    h, lo, c, v = as_bars({"high": high, "low": low, "close": close, "volume": volume})
    out: FloatArray = _mfi_nb(typical_price(h, lo, c), v, check_period(period, "period", 2))
    return out
