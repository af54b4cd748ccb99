"""Input checks shared by the backtest engines: each failure names the field and says what to do."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .. import _checks

FloatArray = NDArray[np.float64]


class BacktestInputError(ValueError):
    """A backtest was given unusable input; the message names the field and the fix."""


def check_window(value: int, name: str) -> int:
    """Return ``value`` as an int >= 1 (a look-back window in bars)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise BacktestInputError(f"{name} must be an integer number of bars, got {value!r}")
    if value < 1:
        raise BacktestInputError(f"{name} must be >= 1 bar, got {value}")
    return int(value)


def check_non_negative(value: float, name: str) -> float:
    """Return ``value`` as a finite float >= 0 (costs, slippage)."""
    out = check_finite(value, name)
    if out < 0.0:
        raise BacktestInputError(f"{name} must be >= 0, got {value!r}")
    return out


def check_positive(value: float, name: str) -> float:
    """Return ``value`` as a finite float > 0."""
    return _checks.check_positive(value, name, BacktestInputError)


def check_finite(value: float, name: str) -> float:
    """Return ``value`` as a finite float."""
    return _checks.check_finite(value, name, BacktestInputError)


def check_prices(
    values: ArrayLike, name: str = "close", *, ndim: tuple[int, ...] = (1,)
) -> FloatArray:
    """Finite, strictly positive prices as a C-contiguous float64 array (rows = bars).

    Rejects empty input and NaN/inf/<= 0 prices, naming the first bad position: a backtest over
    a gap would silently hold or skip a position, so the caller must drop or fill gaps first.
    """
    try:
        arr: FloatArray = np.ascontiguousarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise BacktestInputError(f"{name} must be numeric: {exc}") from None
    if arr.ndim not in ndim:
        want = " or ".join(f"{d}-D" for d in ndim)
        raise BacktestInputError(f"{name} must be {want} (rows = bars), got shape {arr.shape}")
    if arr.size == 0 or arr.shape[0] == 0:
        raise BacktestInputError(f"{name} is empty: a backtest needs at least one bar")
    bad = ~np.isfinite(arr) | (arr <= 0.0)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        where = f"bar {first[0]}" if len(first) == 1 else f"bar {first[0]}, instrument {first[1]}"
        raise BacktestInputError(
            f"{name} has {int(bad.sum())} NaN/inf/non-positive price(s) (first at {where}, "
            f"value {float(arr[first])!r}); drop or fill them before backtesting"
        )
    return arr
