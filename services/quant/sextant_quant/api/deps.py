"""Shared dependencies and error mapping of the quant API."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated, TypeVar

import pandas as pd
from fastapi import Depends, HTTPException, Request

from sextant_common.http_errors import error_responses, field_error
from sextant_quant.market_data import MarketData, MarketDataError

T = TypeVar("T")


MARKET_DATA_ERRORS = error_responses(
    {
        404: "Unknown symbol: no daily bars stored",
        422: "A bad parameter, or too little history in the range to compute (names the field)",
        502: "The datasets service is unreachable",
        504: "The datasets service did not answer in time",
    }
)
"""``responses=`` of every route that reads history through :class:`MarketData`."""


def _market_data(request: Request) -> MarketData:
    market: MarketData = request.app.state.market_data
    return market


MarketDataDep = Annotated[MarketData, Depends(_market_data)]


async def closes_or_http_error(
    market: MarketData, symbol: str, start: str | None, end: str | None
) -> pd.Series:
    """Daily closes of ``symbol``; the datasets service's 404/422 pass through unchanged."""
    try:
        return await market.closes(symbol, start, end)
    except MarketDataError as exc:
        raise HTTPException(status_code=exc.status, detail=exc.detail) from None


async def closes_frame_or_http_error(
    market: MarketData, symbols: list[str], start: str | None, end: str | None
) -> pd.DataFrame:
    """Daily closes of ``symbols`` on their common dates; the datasets service's 404/422 pass
    through unchanged."""
    try:
        return await market.closes_frame(symbols, start, end)
    except MarketDataError as exc:
        raise HTTPException(status_code=exc.status, detail=exc.detail) from None


def run_or_422(compute: Callable[[], T], field: str, location: str = "query") -> T:
    """Run library code; its ValueError (bad input, too little data) becomes a 422 naming
    ``field``, the input the caller must change."""
    try:
        return compute()
    except ValueError as exc:
        raise field_error(field, str(exc), location=location) from None


async def compute_or_422(compute: Callable[[], T], field: str, location: str = "query") -> T:
    """:func:`run_or_422` in a worker thread, so a long fit never blocks the event loop (the
    job runner and health checks share it)."""
    return await asyncio.to_thread(run_or_422, compute, field, location)
