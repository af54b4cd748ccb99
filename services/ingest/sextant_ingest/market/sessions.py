"""Trading sessions per calendar: which days trade, when, and which bar start times are inside.

Calendars are the ``Instrument.calendar`` codes: an exchange-calendars code such as ``XNYS``
(regular hours, early closes included; lunch breaks are ignored), ``FX`` (24/5: a weekday
``D``'s session runs from 22:00 UTC the evening before to 22:00 UTC on ``D``, so the week opens
Sunday 22:00 and closes Friday 22:00) or ``24/7`` (session ``D`` is the UTC day ``D``).

Times are int64 nanoseconds since 1970-01-01 UTC; days are ``datetime64[D]`` or int64 days
since 1970.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache

import exchange_calendars
import numpy as np
import pandas as pd
from numpy.typing import NDArray

FX = "FX"
ALWAYS_OPEN = "24/7"
FIRST_DAY = date(2000, 1, 1)
"""Earliest session this module answers for (exchange calendars are loaded from here)."""

NS_PER_DAY = 86_400 * 10**9
_HOUR_NS = 3_600 * 10**9
_FX_ROLL_NS = 2 * _HOUR_NS  # an FX session opens 2 h before its day starts (22:00 UTC)

IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class Sessions:
    """Sessions of one calendar: day (int days since 1970), open and close (UTC ns), by day."""

    days: IntArray
    opens: IntArray
    closes: IntArray


@dataclass(frozen=True)
class BarGrid:
    """Clock-aligned bars inside each session, one row per session, padded to the widest row.

    Knots are the session open, every bar start after it and the session close. Bar ``k`` of a
    row runs from knot ``k`` to knot ``k + 1`` where ``bar_mask`` is true; a step is not a bar
    when it is padding or the gap between an open that is not on the grid (XNYS 09:30 for 1 h
    bars) and the first grid time. ``tau`` is each knot's time as a fraction of its session.
    """

    sessions: Sessions
    knots: IntArray
    tau: NDArray[np.float64]
    bar_mask: NDArray[np.bool_]
    knot_counts: IntArray

    @property
    def bar_starts(self) -> IntArray:
        """Start (UTC ns) of each bar, row by row, as a flat array."""
        return self.knots[:, :-1][self.bar_mask]


def to_days(day: date) -> int:
    """Days since 1970-01-01 of ``day``."""
    return (day - date(1970, 1, 1)).days


def to_date(days: int) -> date:
    """The date ``days`` after 1970-01-01."""
    return date.fromordinal(date(1970, 1, 1).toordinal() + days)


def to_ns(t: datetime) -> int:
    """UTC nanoseconds since 1970 of an aware datetime (microsecond precision)."""
    delta = t.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1000


def check_calendar(calendar: str) -> None:
    """Raise ``ValueError`` naming the accepted codes unless ``calendar`` is one."""
    if calendar in (FX, ALWAYS_OPEN):
        return
    try:
        _exchange_schedule(calendar)
    except exchange_calendars.errors.InvalidCalendarName:
        raise ValueError(
            f"unknown calendar {calendar!r}: use {FX!r}, {ALWAYS_OPEN!r} or an "
            "exchange_calendars code such as 'XNYS'"
        ) from None


def sessions(calendar: str, first: date, last: date) -> Sessions:
    """Sessions of ``calendar`` whose day is in ``[first, last]``, in order."""
    lo, hi = max(to_days(first), to_days(FIRST_DAY)), to_days(last)
    if calendar in (FX, ALWAYS_OPEN):
        days = np.arange(lo, max(lo, hi + 1), dtype=np.int64)
        if calendar == FX:
            days = days[_weekday(days) < 5]
            day_start = days * NS_PER_DAY
            return Sessions(days, day_start - _FX_ROLL_NS, day_start + 22 * _HOUR_NS)
        return Sessions(days, days * NS_PER_DAY, (days + 1) * NS_PER_DAY)
    schedule = _exchange_schedule(calendar)
    begin, stop = np.searchsorted(schedule.days, [lo, hi + 1])
    return Sessions(
        schedule.days[begin:stop], schedule.opens[begin:stop], schedule.closes[begin:stop]
    )


def session_day(calendar: str, t: datetime) -> date | None:
    """The session of ``calendar`` that is open at ``t`` (open <= t < close), if any."""
    t_ns = to_ns(t)
    if calendar == ALWAYS_OPEN:
        return t.astimezone(UTC).date()
    if calendar == FX:
        day = (t_ns + _FX_ROLL_NS) // NS_PER_DAY  # the day whose FX session holds t
        return to_date(day) if (day + 3) % 7 < 5 else None  # 1970-01-01 was a Thursday
    schedule = _exchange_schedule(calendar)
    i = int(np.searchsorted(schedule.opens, t_ns, side="right")) - 1
    if i >= 0 and t_ns < schedule.closes[i]:
        return to_date(int(schedule.days[i]))
    return None


def bar_grid(sessions_: Sessions, step_ns: int) -> BarGrid:
    """Bars of length ``step_ns`` starting on multiples of it (since 1970 UTC) inside sessions.

    A bar exists when its start lies in ``[open, close)``; the last bar of a session ends at
    the close (an early close cuts it, the knot sits on the close). Sessions without a bar
    start are dropped.
    """
    opens, closes = sessions_.opens, sessions_.closes
    first = -(-opens // step_ns) * step_ns  # first grid time at or after the open
    n_bars = np.maximum(0, -(-(closes - first) // step_ns))
    keep = n_bars > 0
    sessions_ = Sessions(sessions_.days[keep], opens[keep], closes[keep])
    opens, closes, first, n_bars = opens[keep], closes[keep], first[keep], n_bars[keep]
    pre = (first > opens).astype(np.int64)  # 1 when the open is not on the grid
    counts = n_bars + 1 + pre
    width = int(counts.max()) if len(counts) else 2
    column = np.arange(width, dtype=np.int64)[None, :]
    knots = first[:, None] + (column - pre[:, None]) * step_ns
    knots = np.clip(knots, opens[:, None], closes[:, None])
    tau = (knots - opens[:, None]) / (closes - opens)[:, None]
    step = column[:, :-1]
    bar_mask = (step >= pre[:, None]) & (step < (counts - 1)[:, None])
    return BarGrid(sessions_, knots, tau, bar_mask, counts)


def _weekday(days: IntArray) -> IntArray:
    return (days + 3) % 7  # 1970-01-01 was a Thursday; Monday is 0


@dataclass(frozen=True)
class _Schedule:
    days: IntArray
    opens: IntArray
    closes: IntArray


@cache
def _exchange_schedule(code: str) -> _Schedule:
    # Loading a calendar takes ~0.1 s, so each is built once per process.
    calendar = exchange_calendars.get_calendar(code, start=FIRST_DAY.isoformat())
    schedule = calendar.schedule
    return _Schedule(
        days=schedule.index.to_numpy().astype("datetime64[D]").astype(np.int64),
        opens=_utc_ns(schedule["open"]),
        closes=_utc_ns(schedule["close"]),
    )


def _utc_ns(times: pd.Series) -> IntArray:
    return times.dt.tz_convert(None).to_numpy().astype("datetime64[ns]").astype(np.int64)
