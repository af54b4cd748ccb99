"""Align macro series of mixed frequencies (FRED, World Bank, IMF, French) on one calendar.

:func:`align` turns MacroObservations into a pandas DataFrame with one row per target period
(``"M"``, ``"Q"`` or ``"A"``) and one column per ``series_id``. The rules, in order:

1. **Point in time.** With ``as_of``, only observations with ``ts_known <= as_of`` are used.
   Of several versions of one (series, period) the latest known wins (highest ``ts_known``,
   then ``revision``), so the frame shows what was known at ``as_of`` (or now, without it).
2. **Observation spans.** An observation of frequency M, Q, SA or A covers its period, from
   ``period`` (its start) to the day before the next period starts. D, W and BW observations
   are single dates: ``period`` itself (FRED dates weekly series by their week's last day).
3. **Labels.** A target period is labeled by its last day at 00:00 UTC (2024-03-31 for Q1
   2024). The index is complete from the first to the last labeled period, so missing periods
   are NaN rows; it is a tz-aware DatetimeIndex named ``period_end``.
4. **Same or higher frequency than the target** (daily into monthly, monthly into quarterly,
   monthly into monthly): the observations whose last day falls in a target period are
   aggregated: ``"last"`` and ``"ffill"`` take the latest period's value, ``"mean"`` the
   arithmetic mean of the values present (gaps are not filled first).
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

import pandas as pd

from sextant_common.events import MacroObservation

TargetFrequency = Literal["M", "Q", "A"]
Method = Literal["last", "mean", "ffill"]

# Coarseness of each frequency; a series is "lower frequency" when its rank exceeds the target's.
_RANK = {"D": 0, "W": 1, "BW": 1, "M": 2, "Q": 3, "SA": 4, "A": 5}
_POINT_FREQUENCIES = {"D", "W", "BW"}
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
    if target_frequency not in _PANDAS_PERIOD:
        raise ValueError(f"target_frequency must be M, Q or A, got {target_frequency!r}")
    if method not in ("last", "mean", "ffill"):
        raise ValueError(f"method must be last, mean or ffill, got {method!r}")
    if as_of is not None and as_of.tzinfo is None:
        raise ValueError(f"as_of must be timezone-aware (UTC), got naive {as_of}")

    latest = _latest_versions(observations, as_of)
    target = _PANDAS_PERIOD[target_frequency]
    target_rank = _RANK[target_frequency]
    cells: list[tuple[str, pd.Period, pd.Timestamp, float]] = []
    for obs in latest:
        if obs.frequency not in _RANK:
            raise ValueError(
                f"{obs.series_id} at {obs.period:%Y-%m-%d} has frequency {obs.frequency!r}; "
                f"expected one of {sorted(_RANK)}"
            )
        start = pd.Timestamp(obs.period).tz_convert("UTC").tz_localize(None).normalize()
        if obs.frequency in _POINT_FREQUENCIES:
            last_day = start
        else:
            last_day = (
                start + pd.DateOffset(months=_SPAN_MONTHS[obs.frequency]) - pd.Timedelta(days=1)
            )
        home = last_day.to_period(target)
        cells.append((obs.series_id, home, last_day, obs.value))
        if method == "ffill" and _RANK[obs.frequency] > target_rank:
            for period in pd.period_range(start.to_period(target), home, freq=target):
                if period != home:
                    cells.append((obs.series_id, period, last_day, obs.value))

    if not cells:
        empty = pd.DatetimeIndex([], tz="UTC", name="period_end")
        return pd.DataFrame(index=empty, dtype=float)
    frame = pd.DataFrame(cells, columns=["series_id", "target", "last_day", "value"])
    frame = frame.sort_values(["series_id", "target", "last_day"], kind="stable")
    grouped = frame.groupby(["target", "series_id"], sort=True)["value"]
    table = (grouped.mean() if method == "mean" else grouped.last()).unstack("series_id")

    periods = pd.period_range(table.index.min(), table.index.max(), freq=target)
    table = table.reindex(periods)
    index = pd.DatetimeIndex(
        [p.end_time.normalize() for p in periods], name="period_end"
    ).tz_localize("UTC")
    table.index = index
    table.columns.name = None
    return table.sort_index(axis=1).astype(float)


def _latest_versions(
    observations: Iterable[MacroObservation], as_of: datetime | None
) -> list[MacroObservation]:
    """The latest known version of each (series, period, frequency) as of ``as_of``."""
    best: dict[tuple[str, datetime, str], MacroObservation] = {}
    for obs in observations:
        if as_of is not None and obs.ts_known > as_of:
            continue
        key = (obs.series_id, obs.period, obs.frequency)
        held = best.get(key)
        if held is None or (obs.ts_known, obs.revision) > (held.ts_known, held.revision):
            best[key] = obs
    return list(best.values())
