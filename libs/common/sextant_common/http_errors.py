"""HTTP errors in the same JSON shape FastAPI uses for its own validation failures."""

from __future__ import annotations

from datetime import datetime

from fastapi import HTTPException

from sextant_common.timeparse import parse_bound


def field_error(field: str, message: str, *, location: str = "query") -> HTTPException:
    """A 422 whose body names the offending field: ``{"detail": [{"loc": [...], "msg": ...}]}``."""
    return HTTPException(
        status_code=422,
        detail=[{"loc": [location, field], "msg": message, "type": "value_error"}],
    )


def bound_or_422(
    value: str | None,
    field: str,
    default: datetime,
    *,
    end_of_day: bool = False,
    location: str = "query",
) -> datetime:
    """``default`` when ``value`` is None, else :func:`sextant_common.timeparse.parse_bound`
    with its ValueError turned into a 422 naming ``field``."""
    if value is None:
        return default
    try:
        return parse_bound(value, field=field, end_of_day=end_of_day)
    except ValueError as exc:
        raise field_error(field, str(exc), location=location) from None
