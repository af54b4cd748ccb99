"""``GET /api/v1/bars``: history of one instrument, served by the datasets service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from sextant_common.queries import BarsParams
from sextant_common.versioned_cache import VersionedCache
from sextant_gateway.api.deps import DatasetsClient, forward

router = APIRouter(prefix="/api/v1", tags=["bars"], include_in_schema=False)


@router.get("/bars")
async def get_bars(
    request: Request, datasets: DatasetsClient, params: Annotated[BarsParams, Query()]
) -> Response:
    """Bars of ``symbol`` in [start, end] as known at ``as_of`` (point in time), served by the
    datasets service. 404 for an unknown symbol, 422 naming the field for a bad parameter.

    Answers without ``as_of`` ("as known now") are kept for ``latest_bars_ttl_seconds``: history
    changes only when the lake flushes, and live bars reach the browser over the WebSocket.
    """
    cache: VersionedCache[bytes] = request.app.state.bars_cache
    key = None if params.as_of else str(request.query_params)
    if key is not None and (cached := cache.get(key, 0)) is not None:
        return Response(cached, media_type="application/json")
    response = await forward(datasets, "/v1/bars", request)
    if key is not None and response.status_code == 200:
        cache.put(key, 0, bytes(response.body))
    return response
