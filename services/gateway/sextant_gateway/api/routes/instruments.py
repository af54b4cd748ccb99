"""``GET /api/v1/instruments``: what the terminal can chart."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from sextant_gateway.api.deps import DatasetsClient, forward

router = APIRouter(prefix="/api/v1", tags=["instruments"], include_in_schema=False)


@router.get("/instruments")
async def list_instruments(request: Request, datasets: DatasetsClient) -> Response:
    """Every stored instrument per source: asset class, intervals, first/last bar, row count."""
    return await forward(datasets, "/v1/instruments", request)
