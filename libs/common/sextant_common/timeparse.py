"""Parsing of time bounds given in query strings ("2008-01-01" or full ISO-8601)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
"""Start of every default range: before any bar Sextant stores."""


def parse_bound(value: str, *, field: str, end_of_day: bool = False) -> datetime:
    """Parse a date or datetime into an aware UTC datetime.

    A bare date means the start of that day, or its last microsecond when ``end_of_day`` (so an
    inclusive ``end=2008-12-31`` covers that whole day). A datetime without an offset is UTC.
    Raises ``ValueError`` naming ``field`` on anything else.
    """
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime.combine(day, time.min, tzinfo=UTC)
            return moment + timedelta(days=1, microseconds=-1) if end_of_day else moment
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{field}: {value!r} is not a date (YYYY-MM-DD) or ISO-8601 datetime"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
