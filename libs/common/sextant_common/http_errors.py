"""HTTP errors in the same JSON shape FastAPI uses for its own validation failures, and the
handlers every app (the services and the gateway) installs with :func:`install_error_handlers`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from sextant_common.routes import allowed_methods
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


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # "nan", "inf": JSON has no such numbers
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


async def validation_error_422(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's own 422 for an invalid request, except that a NaN or infinite input (the
    JSON parser accepts ``NaN``) is echoed as a string instead of failing to serialize (a 500)."""
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(
        status_code=422, content={"detail": _json_safe(jsonable_encoder(exc.errors()))}
    )


async def method_not_allowed_405(request: Request, exc: Exception) -> JSONResponse:
    """The router's 405 with ``Allow`` listing every method of the path (Starlette's lists the
    first matching route's only); a 405 raised by a handler keeps its own ``Allow``."""
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    if methods := allowed_methods(request.scope):
        headers["Allow"] = ", ".join(methods)
    return JSONResponse(status_code=405, content={"detail": exc.detail}, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Answer a request FastAPI rejects with a JSON error that always serializes (422) and a
    405 whose ``Allow`` header is complete."""
    app.add_exception_handler(RequestValidationError, validation_error_422)
    app.add_exception_handler(405, method_not_allowed_405)
