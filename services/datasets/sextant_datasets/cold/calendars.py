"""Which days a market trades, from ``exchange_calendars``.

US equities, ETFs and indices follow the NYSE (``XNYS``: weekends, exchange holidays such as
Good Friday and one-off closures such as the 2025-01-09 national day of mourning are not
sessions). Crypto trades every day (``24/7``); spot FX trades Monday to Friday (``24/5``).
"""

from __future__ import annotations

import functools
import warnings
from datetime import date

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
    if name not in xcals.get_calendar_names(include_aliases=True):
        raise UnknownCalendar(
            f"unknown calendar {name!r}; use an exchange_calendars name such as XNYS, 24/7, 24/5"
        )
    calendar = _calendar(name)
    first = max(pd.Timestamp(start), calendar.first_session)
    last = min(pd.Timestamp(end), calendar.last_session)
    if last < first:
        return []
    return [ts.date() for ts in calendar.sessions_in_range(first, last)]
