"""``GET /api/v1/bars``: history of one instrument, served by the datasets service."""

from __future__ import annotations

import asyncio
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
    if params.as_of:
        return await forward(datasets, "/v1/bars", request)
    key = str(request.query_params)
    if (cached := cache.get(key, 0)) is not None:
        return Response(cached, media_type="application/json")
    inflight: dict[str, asyncio.Future[bytes | None]] = request.app.state.bars_inflight
    if (pending := inflight.get(key)) is not None:
        # One request per key goes to the datasets service; the ones arriving meanwhile share
        # its answer (without this, an expired entry at 1,000 rps sent every request arriving
        # during the refresh to the service, and a slower service drew more of them).
        body = await asyncio.shield(pending)
        if body is not None:
            return Response(body, media_type="application/json")
        return await forward(datasets, "/v1/bars", request)
    future = inflight[key] = asyncio.get_running_loop().create_future()
    body = None
    try:
        response = await forward(datasets, "/v1/bars", request)
        if response.status_code == 200:
            body = bytes(response.body)
            cache.put(key, 0, body)
        return response
    finally:
        future.set_result(body)  # None: each waiting request asks the service itself
        del inflight[key]
