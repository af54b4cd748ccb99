"""``GET /api/v1/bars``: history of one instrument, served by the datasets service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from sextant_common.queries import BarsParams
from sextant_gateway.api.deps import DatasetsClient, forward

router = APIRouter(prefix="/api/v1", tags=["bars"])


@router.get("/bars")
async def get_bars(
    request: Request, datasets: DatasetsClient, params: Annotated[BarsParams, Query()]
) -> Response:
    """Bars of ``symbol`` in [start, end] as known at ``as_of`` (point in time), served by the
    datasets service. 404 for an unknown symbol, 422 naming the field for a bad parameter."""
    return await forward(datasets, "/v1/bars", request)
