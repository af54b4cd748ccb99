"""``/api/v1/providers`` and ``/api/v1/fetch``: the unified fetcher of the ingest service.

``POST /api/v1/fetch`` takes ``{"kind": "bars", "params": {...}, "asset_class": "equity"}`` and
answers with the normalized records (published on their topic unless ``"publish": false``):
404 for an unknown symbol or series, 422 for bad params, 429 rate limited, 503 all failed.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from sextant_gateway.api.deps import IngestClient, forward, forward_charged

router = APIRouter(prefix="/api/v1", tags=["providers"], include_in_schema=False)


@router.get("/providers")
async def providers(request: Request, ingest: IngestClient) -> Response:
    """Every data provider: available, or unavailable with the variables to set."""
    return await forward(ingest, "/v1/providers", request)


@router.post("/fetch")
async def fetch(request: Request, ingest: IngestClient) -> Response:
    """Fetch one query through routing, fallback, rate limits and caches (one unit of the
    caller's ``fetch`` quota: each may spend the server's provider keys)."""
    return await forward_charged(ingest, "/v1/fetch", request, "fetch")
