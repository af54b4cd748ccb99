"""``/api/v1/quant/...``: analytics served by the quant service (factors, regimes, options, risk).

The quant service owns the request models and their validation; the gateway relays method,
query string and JSON body, and the service's 4xx bodies name the offending field.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from sextant_gateway.api.deps import QuantClient, forward

router = APIRouter(prefix="/api/v1/quant", tags=["quant"])


@router.api_route("/{path:path}", methods=["GET", "POST"])
async def quant(path: str, request: Request, quant: QuantClient) -> Response:
    """Relay to ``/v1/{path}`` on the quant service (see its OpenAPI at :8002/docs)."""
    return await forward(quant, f"/v1/{path}", request)
