"""What the screener and correlation routes share: the daily panel, dates and symbols checked
against it, and their errors as HTTP answers naming the field."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
from fastapi import HTTPException, Response

from sextant_common.http_errors import bound_or_422, error_responses, field_error
from sextant_quant.market_data import MarketData, MarketDataError
from sextant_quant.screen.panel import Panel
from sextant_quant.screen.query import ScreenError


def panel_errors(not_found: str, invalid: str) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of a route over the panel: its 404 and 422, and the datasets service's
    502 and 504."""
    return error_responses(
        {
            404: not_found,
            422: invalid,
            502: "The datasets service is unreachable",
            504: "The datasets service did not answer in time",
        }
    )


async def panel_or_http_error(market: MarketData) -> Panel:
    """The daily panel; the datasets service's errors pass through with their status."""
    try:
        return await market.daily_panel()
    except MarketDataError as exc:
        raise HTTPException(status_code=exc.status, detail=exc.detail) from None


def day_or_422(value: str | None, field: str) -> np.datetime64:
    """The UTC calendar day of a date/datetime query bound (default: today), as
    ``datetime64[D]``; unreadable text is a 422 naming ``field``."""
    moment = bound_or_422(value, field, datetime.now(UTC), end_of_day=True)
    return np.datetime64(moment.astimezone(UTC).date(), "D")


def require_stored(panel: Panel, symbols: Sequence[str], field: str) -> None:
    """404 naming ``field`` and the ``symbols`` that have no daily bars in the panel."""
    unknown = [s for s in symbols if s not in panel.index]
    if unknown:
        raise HTTPException(
            status_code=404,
            detail=[
                {
                    "loc": ["query", field],
                    "msg": f"no daily bars stored for: {', '.join(unknown)}",
                    "type": "value_error",
                }
            ],
        )


@contextlib.contextmanager
def screen_errors_as_422() -> Iterator[None]:
    """A :class:`ScreenError` raised inside becomes a 422 naming its field."""
    try:
        yield
    except ScreenError as exc:
        raise field_error(exc.field, str(exc)) from None


def json_response(body: dict[str, object]) -> Response:
    """``body`` as JSON (numpy arrays included; NaN and infinities as null)."""
    return Response(
        orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY), media_type="application/json"
    )
