"""HTTP errors in the same JSON shape FastAPI uses for its own validation failures."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from fastapi import HTTPException
from pydantic import BaseModel

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


class ErrorPublic(BaseModel):
    """The body of every error answer: ``detail`` is a message, FastAPI's list of field errors
    (``{"loc": [...], "msg": ..., "type": ...}``) or an object with ``msg`` and particulars."""

    detail: str | list[dict[str, Any]] | dict[str, Any]


def error_responses(statuses: Mapping[int, str]) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route decorator: each status with its description and the
    :class:`ErrorPublic` JSON model, e.g. ``error_responses({404: "Unknown symbol"})``."""
    return {code: {"model": ErrorPublic, "description": text} for code, text in statuses.items()}
