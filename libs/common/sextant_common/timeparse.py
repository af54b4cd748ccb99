"""Parsing of time bounds given by callers ("2008-01-01" or full ISO-8601), one set of rules for
every API: the datasets query strings, the ingest fetch parameters, the gateway in front.

Accepted forms: a bare date ``YYYY-MM-DD`` or an ISO-8601 datetime with an offset or ``Z``; query
strings (:func:`parse_bound`) also take one without an offset as UTC, typed parameters
(:data:`UtcBound`) refuse it. A bare date means the start of that day; as an *inclusive* end it
covers the whole day (its last microsecond, :func:`parse_bound` with ``end_of_day``), as an
*exclusive* end the same day is covered by the next midnight (:data:`UtcEndBound`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from pydantic import AwareDatetime, BeforeValidator, Field

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
"""Start of every default range: before any bar Sextant stores."""

_FORMS = "a date (YYYY-MM-DD) or ISO-8601 datetime"

_YEAR = r"(?:19|2[01])\d{2}"  # 1900-2199: every bar Sextant stores, and no offset overflows
_MONTH_DAY = (
    r"(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1\d|2[0-8])"  # day 1-28 of every month
    r"|(?:0[13-9]|1[0-2])-(?:29|30)"  # 29th and 30th outside February
    r"|(?:0[13578]|1[02])-31)"  # 31st of the long months
)
_TIME = r"[T ](?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,6})?)?"
_OFFSET = r"(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)"
BOUND_PATTERN = rf"^{_YEAR}-{_MONTH_DAY}(?:{_TIME}{_OFFSET}?)?$"
"""The forms :func:`parse_bound` accepts, as a JSON Schema ``pattern``: ``2008-12-31``,
``2008-12-31T16:00:00Z``, ``2008-12-31 16:00:00.5+01:00`` or without an offset (UTC). February
29th is left out (the pattern cannot tell leap years) though it parses, as are years outside
1900-2199."""

BoundText = Annotated[
    str,
    Field(
        pattern=BOUND_PATTERN,
        examples=["2008-01-01", "2008-12-31T16:00:00Z"],
        description="A date (YYYY-MM-DD) or ISO-8601 datetime, UTC unless it has an offset",
    ),
]
"""A time bound as text in a query string or body, parsed later with :func:`parse_bound`."""


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
        raise ValueError(f"{field}: {value!r} is not {_FORMS}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _coerce(value: Any, *, next_midnight: bool) -> Any:
    """A pydantic ``before`` validator: a date or a bare-date string becomes that day's UTC
    midnight (the next one for an exclusive end), an ISO string with an offset an aware
    datetime. A datetime without an offset is refused, as text or as a naive ``datetime``
    object (pydantic's ``AwareDatetime`` words that error): at this boundary Sextant does not
    guess a time zone. Anything else is left for pydantic to judge."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        value = value.isoformat()
    if not isinstance(value, str):
        return value
    text = value.strip()
    if len(text) == 10:
        try:
            midnight = datetime.combine(date.fromisoformat(text), time.min, tzinfo=UTC)
        except ValueError:
            raise ValueError(f"{value!r} is not {_FORMS}") from None
        return midnight + timedelta(days=1) if next_midnight else midnight
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{value!r} is not {_FORMS}") from None
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no UTC offset; add Z (or +HH:MM), or give a bare date")
    return parsed


def _start(value: Any) -> Any:
    return _coerce(value, next_midnight=False)


def _exclusive_end(value: Any) -> Any:
    return _coerce(value, next_midnight=True)


UtcBound = Annotated[AwareDatetime, BeforeValidator(_start)]
"""A pydantic field type for a start (or an instant): any accepted form, as an aware datetime
(UTC when parsed from text); a bare date is that day's midnight."""

UtcEndBound = Annotated[AwareDatetime, BeforeValidator(_exclusive_end)]
"""A pydantic field type for an *exclusive* end (``[start, end)``): as :data:`UtcBound`, but a
bare date covers that whole day, i.e. means the next midnight."""


def clamp_as_of(
    as_of: datetime, now: datetime, *, requested: str | None = None
) -> tuple[datetime, str | None]:
    """``(as_of, None)`` when ``as_of`` is not after ``now``, else ``(now, warning)``: nothing is
    known after now, so an answer "as of" a future time is the answer as of now, and the
    warning says so (naming ``requested``, the caller's spelling, when given)."""
    if as_of <= now:
        return as_of, None
    asked = requested if requested is not None else _iso(as_of)
    return now, (
        f"as_of {asked} is in the future; answered as of now ({_iso(now)}), the latest "
        "knowledge time there is"
    )


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
