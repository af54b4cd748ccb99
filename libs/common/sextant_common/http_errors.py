"""HTTP errors in the same JSON shape FastAPI uses for its own validation failures."""

from __future__ import annotations

from fastapi import HTTPException


def field_error(field: str, message: str, *, location: str = "query") -> HTTPException:
    """A 422 whose body names the offending field: ``{"detail": [{"loc": [...], "msg": ...}]}``."""
    return HTTPException(
        status_code=422,
        detail=[{"loc": [location, field], "msg": message, "type": "value_error"}],
    )
