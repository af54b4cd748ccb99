"""``GET /api/v1/bars``: history of one instrument, served by the datasets service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from sextant_common.events import Interval
from sextant_gateway.api.deps import DatasetsClient, forward_get

router = APIRouter(prefix="/api/v1", tags=["bars"])


@router.get("/bars")
async def get_bars(
    request: Request,
    datasets: DatasetsClient,
    symbol: Annotated[str, Query(min_length=1, max_length=64, description="e.g. SPX")],
    interval: Interval = Interval.D1,
    start: Annotated[str | None, Query(description="Inclusive; date or ISO datetime")] = None,
    end: Annotated[str | None, Query(description="Inclusive; a bare date covers the day")] = None,
    as_of: Annotated[str | None, Query(description="Knowledge time; default now")] = None,
    source: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    """Bars of ``symbol`` in [start, end] as known at ``as_of`` (point in time).

    404 for an unknown symbol, 422 naming the field for a bad parameter.
    """
    return await forward_get(datasets, "/v1/bars", request)
