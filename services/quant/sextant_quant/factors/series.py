"""Time-series inputs shared by the factor models and the regime detectors.

Everything here turns what a caller hands in (pandas Series/DataFrame or numpy arrays) into
float DataFrames on one common index, and says clearly what was wrong when that is impossible:
NaNs, duplicate dates, mismatched lengths. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import pandas as pd

SeriesLike: TypeAlias = pd.Series | pd.DataFrame | np.ndarray
"""A return series or a panel of them: dates down the rows, one column per asset or factor."""

_TRADING_DAYS = 252.0


def infer_periods_per_year(index: pd.Index) -> float:
    """Periods per year implied by a DatetimeIndex's median spacing: 252 (daily, trading days),
    52 (weekly), 12 (monthly), 4 (quarterly) or 1 (annual).

    Raises ValueError when the index has no dates or fewer than two of them; pass
    ``periods_per_year`` explicitly then.
    """
    if not isinstance(index, pd.DatetimeIndex) or len(index) < 2:
        raise ValueError(
            "cannot infer the sampling frequency without at least two dates; "
            "pass periods_per_year explicitly (252 daily, 52 weekly, 12 monthly)"
        )
    days = float(np.median((index[1:] - index[:-1]) / pd.Timedelta(days=1)))
    if days <= 5:
        return _TRADING_DAYS
    if days <= 10:
        return 52.0
    if days <= 40:
        return 12.0
    if days <= 120:
        return 4.0
    return 1.0


def as_frame(data: SeriesLike, what: str, names: Sequence[str] | None = None) -> pd.DataFrame:
    """``data`` as a float DataFrame (dates x columns). A Series becomes one column named after
    the Series (or ``what``); numpy arrays get ``names`` (or ``what``, ``what_0`` ...) and a
    RangeIndex. A PeriodIndex becomes its period-end dates, and timezone-aware dates are
    converted to UTC and made naive, so that both join with the period-end calendar dates of
    factor files.
    """
    if isinstance(data, pd.Series):
        frame = data.to_frame(name=data.name if data.name is not None else what)
    elif isinstance(data, pd.DataFrame):
        frame = data.copy()
    else:
        array = np.asarray(data, dtype=float)
        if array.ndim == 1:
            array = array[:, None]
        if array.ndim != 2:
            raise ValueError(f"{what} must be 1-D or 2-D, got an array of shape {array.shape}")
        if names is None:
            names = (
                [what] if array.shape[1] == 1 else [f"{what}_{i}" for i in range(array.shape[1])]
            )
        if len(names) != array.shape[1]:
            raise ValueError(
                f"{what} has {array.shape[1]} columns but {len(names)} names were expected "
                f"({', '.join(names)})"
            )
        frame = pd.DataFrame(array, columns=list(names))
    try:
        frame = frame.astype(float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} must be numeric: {exc}") from exc
    if isinstance(frame.index, pd.PeriodIndex):
        frame.index = frame.index.to_timestamp(how="end").normalize()
    if isinstance(frame.index, pd.DatetimeIndex) and frame.index.tz is not None:
        frame.index = frame.index.tz_convert("UTC").tz_localize(None)
    if frame.index.has_duplicates:
        dup = frame.index[frame.index.duplicated()][0]
        raise ValueError(f"{what} has duplicate index entries, first at {dup}; de-duplicate it")
    if not frame.index.is_monotonic_increasing:
        frame = frame.sort_index()
    return frame


def as_series(data: SeriesLike, what: str = "returns") -> pd.Series:
    """One series from ``data`` (a Series, a one-column DataFrame or a 1-D array), checked
    finite; see ``as_frame`` for index handling."""
    frame = as_frame(data, what)
    if frame.shape[1] != 1:
        raise ValueError(f"expected one {what} series, got {frame.shape[1]} columns")
    require_finite(frame, what)
    return frame.iloc[:, 0]


def require_finite(frame: pd.DataFrame, what: str) -> None:
    """Raise ValueError naming the first column and date holding a NaN or infinite value."""
    values = frame.to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(
            f"{what} has {int(bad.sum())} NaN/infinite value(s), first in column "
            f"'{frame.columns[col]}' at {frame.index[row]}; fill or drop them before fitting"
        )


@dataclass(frozen=True)
class Aligned:
    """Inputs cut to their common dates, and how many rows each one lost in the cut."""

    frames: tuple[pd.DataFrame, ...]
    dropped_rows: dict[str, int]


def align(frames: dict[str, pd.DataFrame]) -> Aligned:
    """Cut frames to common rows. When every frame has a DatetimeIndex the rows are matched by
    an inner join on dates and the rows each frame lost are counted; otherwise (numpy input has
    no dates) all frames must have the same length and are matched by position, taking the
    dates of any frame that has them.
    """
    items = list(frames.items())
    dated = [isinstance(f.index, pd.DatetimeIndex) for _, f in items]
    if all(dated):
        common = items[0][1].index
        for _, frame in items[1:]:
            common = common.intersection(frame.index)
        dropped = {name: len(frame) - len(common) for name, frame in items}
        if len(common) == 0:
            spans = "; ".join(
                f"{name}: {f.index[0].date()}..{f.index[-1].date()}" for name, f in items if len(f)
            )
            raise ValueError(f"inputs share no dates ({spans}); check their frequencies/labels")
        return Aligned(tuple(f.loc[common] for _, f in items), dropped)
    lengths = {name: len(frame) for name, frame in items}
    if len(set(lengths.values())) != 1:
        shown = ", ".join(f"{name} has {n} rows" for name, n in lengths.items())
        raise ValueError(
            f"mismatched lengths: {shown}; pass pandas objects with dates to align them by an "
            "inner join, or arrays of equal length"
        )
    index = next((f.index for (_, f), d in zip(items, dated, strict=True) if d), None)
    out = []
    for _, frame in items:
        frame = frame.reset_index(drop=True)
        if index is not None:
            frame.index = index
        out.append(frame)
    return Aligned(tuple(out), {name: 0 for name, _ in items})
