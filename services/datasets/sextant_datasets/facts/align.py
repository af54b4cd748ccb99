"""Align macro series of mixed frequencies (FRED, World Bank, IMF, French) on one calendar.

:func:`align` turns MacroObservations (:func:`align_rows`: the lake's macro rows) into a pandas
DataFrame with one row per target period (``"M"``, ``"Q"`` or ``"A"``) and one column per
``series_id``. The rules, in order:

1. **Point in time.** With ``as_of``, only observations with ``ts_known <= as_of`` are used.
   Of several versions of one (series, period) the latest known wins (highest ``ts_known``,
   then ``revision``), so the frame shows what was known at ``as_of`` (or now, without it).
2. **Observation spans.** An observation of frequency M, Q, SA or A covers its period, from
   ``period`` (its start: FRED, World Bank ``2023Q2``/``2023M04`` and IMF SDMX ``2023-Q2``/
   ``2023-04`` are all dated by their first day) to the day before the next period starts.
   D, W and BW observations are single dates: ``period`` itself (FRED dates weekly series by
   their week's last day, e.g. "Weekly, Ending Saturday").
3. **Labels.** A target period is labeled by its last day at 00:00 UTC (2024-03-31 for Q1
   2024). The index is complete from the first to the last labeled period, so missing periods
   are NaN rows; it is a tz-aware DatetimeIndex named ``period_end``.
4. **Same or higher frequency than the target** (daily into monthly, monthly into quarterly,
   monthly into monthly): the observations whose last day falls in a target period are
   aggregated: ``"last"`` and ``"ffill"`` take the latest period's value, ``"mean"`` the
   arithmetic mean of the values present (gaps are not filled first). A week is counted in
   the period holding its last day (a week ending 2024-02-03 belongs to February). Of two
   observations of one series ending on the same day (a series stored at two frequencies),
   the one learned last is the latest.
5. **Lower frequency than the target** (annual into quarterly or monthly, quarterly into
   monthly): the value is placed at the target period containing its last day (2023 annual
   GDP at 2023-12-31); with ``"ffill"`` it is also repeated in every target period that ends
   inside its own span (2023 GDP in each month of 2023), and never beyond it, so a missing
   2024 stays NaN. ``"last"`` and ``"mean"`` do not fill.

The index is reference time, not availability: a 2023 annual value filled into January 2023
was not known in January 2023. Use ``as_of`` (rule 1) to see only what was known then.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Literal

import numpy as np
import pandas as pd

from sextant_common.events import MacroObservation

TargetFrequency = Literal["M", "Q", "A"]
Method = Literal["last", "mean", "ffill"]

RULE = (
    "Point in time: per (series, period) the version known last by as_of. An M/Q/SA/A "
    "observation spans its period from its start date; D/W/BW observations are single dates. "
    "Each target period is labeled by its last day. Observations of the target's frequency or "
    "higher fall in the period holding their last day (last/ffill: the latest, mean: the mean "
    "of those present). Lower-frequency values sit at the period holding their last day; "
    "ffill also repeats them in each target period ending inside their own span, never beyond."
)
"""The rules of this module in one paragraph, for answers that carry their rule."""

OBSERVATION_COLUMNS = ("series_id", "period", "frequency", "value", "ts_known", "revision")
"""The columns :func:`align_rows` reads (the lake's macro rows have these and more)."""

# Coarseness of each frequency; a series is "lower frequency" when its rank exceeds the target's.
_RANK = {"D": 0, "W": 1, "BW": 1, "M": 2, "Q": 3, "SA": 4, "A": 5}
_SPAN_MONTHS = {"M": 1, "Q": 3, "SA": 6, "A": 12}
_PANDAS_PERIOD = {"M": "M", "Q": "Q-DEC", "A": "Y-DEC"}


def align(
    observations: Iterable[MacroObservation],
    target_frequency: TargetFrequency = "M",
    method: Method = "last",
    as_of: datetime | None = None,
) -> pd.DataFrame:
    """One column per series on a common ``target_frequency`` calendar (see the module rules).

    Values keep their units (percent stays percent, USD stays USD). Raises ValueError for an
    unknown target frequency, method or observation frequency, or a naive ``as_of``.
    """
    rows = pd.DataFrame(
        [[getattr(obs, column) for column in OBSERVATION_COLUMNS] for obs in observations],
        columns=list(OBSERVATION_COLUMNS),
    )
    return align_rows(rows, target_frequency, method, as_of)


def align_rows(
    rows: pd.DataFrame,
    target_frequency: TargetFrequency = "M",
    method: Method = "last",
    as_of: datetime | None = None,
) -> pd.DataFrame:
    """:func:`align` over a frame of observations, one per row, with the columns of
    :data:`OBSERVATION_COLUMNS` (``period`` and ``ts_known`` tz-aware); vectorized, for the
    thousands of rows a multi-decade daily series has."""
    if target_frequency not in _PANDAS_PERIOD:
        raise ValueError(f"target_frequency must be M, Q or A, got {target_frequency!r}")
    if method not in ("last", "mean", "ffill"):
        raise ValueError(f"method must be last, mean or ffill, got {method!r}")
    if as_of is not None and as_of.tzinfo is None:
        raise ValueError(f"as_of must be timezone-aware (UTC), got naive {as_of}")
    absent = [column for column in OBSERVATION_COLUMNS if column not in rows.columns]
    if absent:
        raise ValueError(f"rows lack the columns {absent}; expected {list(OBSERVATION_COLUMNS)}")

    latest = _latest_versions(rows, as_of).iloc[::-1]  # oldest known first: see rule 4's ties
    unknown = ~latest["frequency"].isin(list(_RANK))
    if unknown.any():
        first = latest[unknown].iloc[0]
        raise ValueError(
            f"{first['series_id']} at {first['period']:%Y-%m-%d} has frequency "
            f"{first['frequency']!r}; expected one of {sorted(_RANK)}"
        )
    target = _PANDAS_PERIOD[target_frequency]
    if latest.empty:
        empty = pd.DatetimeIndex([], tz="UTC", name="period_end")
        return pd.DataFrame(index=empty, dtype=float)

    start = pd.to_datetime(latest["period"], utc=True).dt.tz_localize(None).dt.normalize()
    last_day = start.copy()  # D, W and BW: the date itself (rule 2)
    for frequency, months in _SPAN_MONTHS.items():
        spans = (latest["frequency"] == frequency).to_numpy()
        if spans.any():
            last_day[spans] = start[spans] + pd.DateOffset(months=months) - pd.Timedelta(days=1)
    home = last_day.dt.to_period(target).array.asi8
    cells = pd.DataFrame(
        {
            "series_id": latest["series_id"].to_numpy(),
            "target": home,
            "last_day": last_day.to_numpy(),
            "value": latest["value"].to_numpy(dtype=float),
        }
    )
    if method == "ffill":
        cells = pd.concat([cells, _filled(latest, start, home, cells, target_frequency)])

    cells = cells.sort_values(["series_id", "target", "last_day"], kind="stable")
    grouped = cells.groupby(["target", "series_id"], sort=True)["value"]
    table = (grouped.mean() if method == "mean" else grouped.last()).unstack("series_id")
    ordinals = np.arange(table.index.min(), table.index.max() + 1)
    table = table.reindex(ordinals)
    periods = pd.PeriodIndex.from_ordinals(ordinals, freq=target)
    table.index = pd.DatetimeIndex(
        periods.asfreq("D", how="end").to_timestamp(), name="period_end"
    ).tz_localize("UTC")
    table.columns.name = None
    return table.sort_index(axis=1).astype(float)


def _latest_versions(rows: pd.DataFrame, as_of: datetime | None) -> pd.DataFrame:
    """The latest known version of each (series, period, frequency) as of ``as_of`` (rule 1)."""
    rows = rows.loc[:, list(OBSERVATION_COLUMNS)]
    if as_of is not None:
        rows = rows[pd.to_datetime(rows["ts_known"], utc=True) <= as_of]
    # Newest first; of exact ties (the lake's natural key has none) the first given wins.
    rows = rows.sort_values(["ts_known", "revision"], ascending=False, kind="stable")
    return rows.drop_duplicates(["series_id", "period", "frequency"], keep="first")


def _filled(
    latest: pd.DataFrame,
    start: pd.Series,
    home: np.ndarray,
    cells: pd.DataFrame,
    target_frequency: TargetFrequency,
) -> pd.DataFrame:
    """Rule 5 with ffill: a copy of each lower-frequency cell in every target period from the
    one holding its span's start up to (not including) its home period."""
    lower = (latest["frequency"].map(_RANK) > _RANK[target_frequency]).to_numpy()
    first = start[lower].dt.to_period(_PANDAS_PERIOD[target_frequency]).array.asi8
    counts = home[lower] - first
    source = np.repeat(np.flatnonzero(lower), counts)
    step = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    copies = cells.iloc[source].copy()
    copies["target"] = np.repeat(first, counts) + step
    return copies
