"""Which days a market trades, from ``exchange_calendars``.

US equities, ETFs and indices follow the NYSE (``XNYS``: weekends, exchange holidays such as
Good Friday and one-off closures such as the 2025-01-09 national day of mourning are not
sessions). Crypto trades every day (``24/7``); spot FX trades Monday to Friday (``24/5``).
"""

from __future__ import annotations

import functools
import warnings
from datetime import UTC, date, datetime, timedelta

import exchange_calendars as xcals
import pandas as pd

from sextant_common.events import AssetClass

CALENDAR_BY_ASSET_CLASS: dict[str, str] = {
    AssetClass.EQUITY: "XNYS",
    AssetClass.ETF: "XNYS",
    AssetClass.INDEX: "XNYS",
    AssetClass.CRYPTO: "24/7",
    AssetClass.FX: "24/5",
}
"""Default calendar per stored ``asset_class``; futures and options need an explicit one."""

EARLIEST = "1990-01-01"
"""First day the calendars are built from (exchange_calendars' default is only ~20 years)."""


class UnknownCalendar(ValueError):
    """The calendar name is not one exchange_calendars knows, or none can be inferred."""


def calendar_names() -> list[str]:
    """Every calendar name (and alias) accepted, e.g. ``XNYS``, ``NYSE``, ``24/7``, ``24/5``."""
    return sorted(xcals.get_calendar_names(include_aliases=True))


def calendar_for_asset_class(asset_class: str) -> str:
    """The default calendar of an asset class; raises :class:`UnknownCalendar` if it has none."""
    try:
        return CALENDAR_BY_ASSET_CLASS[asset_class]
    except KeyError:
        raise UnknownCalendar(
            f"no default calendar for asset class {asset_class!r}; pass calendar= one of "
            f"{', '.join(sorted(set(CALENDAR_BY_ASSET_CLASS.values())))} or another "
            "exchange_calendars name"
        ) from None


@functools.lru_cache(maxsize=16)
def _calendar(name: str) -> xcals.ExchangeCalendar:
    # exchange_calendars 4.13 trips a pandas 3 deprecation (Series.values on tz-aware data)
    # while building a calendar; the sessions are unaffected, so keep it out of our logs.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Series\.values returning an ndarray")
        return xcals.get_calendar(name, start=EARLIEST)


def sessions(name: str, start: date, end: date) -> list[date]:
    """Trading sessions of calendar ``name`` from ``start`` to ``end`` inclusive.

    The range is clipped to what the calendar covers (1990 to about a year ahead). Raises
    :class:`UnknownCalendar` for a name exchange_calendars does not know.
    """
    _check_name(name)
    calendar = _calendar(name)
    first = max(pd.Timestamp(start), calendar.first_session)
    last = min(pd.Timestamp(end), calendar.last_session)
    if last < first:
        return []
    return [ts.date() for ts in calendar.sessions_in_range(first, last)]


FX_SESSION_SHIFT = timedelta(hours=2)
"""Spot FX's trading day ``D`` runs 22:00 UTC on ``D-1`` to 22:00 UTC on ``D`` (the New York 5 pm
roll), so its week opens Sunday 22:00; ``24/5`` sessions are moved back by this much intraday."""


def session_windows(name: str, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """Trading hours of calendar ``name`` inside ``[start, end)``: one ``(open, close)`` pair
    per session (two around a lunch break), sorted, aware UTC, clipped to the range.

    ``24/7`` is one window over the whole range; ``24/5`` follows the FX day (see
    :data:`FX_SESSION_SHIFT`). Raises :class:`UnknownCalendar` for an unknown name.
    """
    if end <= start:
        return []
    if name == "24/7":
        return [(start, end)]
    _check_name(name)
    shift = FX_SESSION_SHIFT if name == "24/5" else timedelta(0)
    calendar = _calendar(name)
    first = max(pd.Timestamp(start.date() - timedelta(days=1)), calendar.first_session)
    last = min(pd.Timestamp(end.date() + timedelta(days=1)), calendar.last_session)
    if last < first:
        return []
    schedule = calendar.schedule.loc[first:last]
    windows: list[tuple[datetime, datetime]] = []
    for row in schedule.itertuples(index=False):
        opened, closed = row.open.to_pydatetime() - shift, row.close.to_pydatetime() - shift
        if pd.notna(row.break_start) and pd.notna(row.break_end):
            parts = [
                (opened, row.break_start.to_pydatetime() - shift),
                (row.break_end.to_pydatetime() - shift, closed),
            ]
        else:
            parts = [(opened, closed)]
        for lo, hi in parts:
            lo, hi = max(lo, start), min(hi, end)
            if lo < hi:
                windows.append((lo.astimezone(UTC), hi.astimezone(UTC)))
    return windows


def _check_name(name: str) -> None:
    if name not in xcals.get_calendar_names(include_aliases=True):
        raise UnknownCalendar(
            f"unknown calendar {name!r}; use an exchange_calendars name such as XNYS, 24/7, 24/5"
        )
