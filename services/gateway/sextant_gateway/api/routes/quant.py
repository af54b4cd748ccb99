"""``/api/v1/quant/...``: analytics served by the quant service (factors, regimes, options, risk).

The quant service owns the request models and their validation; the gateway relays method,
query string and JSON body, and the service's 4xx bodies name the offending field. Only the
paths :data:`sextant_gateway.openapi.MOUNTS` publishes are relayed (backtests and sweeps are
public at ``/api/v1/backtests`` and ``/api/v1/sweeps``); their documentation is the service's
own, see :mod:`sextant_gateway.openapi`.

Every method is relayed: a method the path lacks is the service's 405 with its ``Allow``, a
non-JSON ``POST`` the service's 415 (the service alone knows the path's methods).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from sextant_common.content_type import checked_upstream
from sextant_gateway.api.deps import RELAYED_METHODS, QuantClient, relay_published

router = APIRouter(prefix="/api/v1/quant", tags=["quant"], include_in_schema=False)


@router.api_route("/{path:path}", methods=list(RELAYED_METHODS))
@checked_upstream
async def quant(path: str, request: Request, quant: QuantClient) -> Response:
    """Relay to the quant service path published at this public path."""
    return await relay_published("quant", quant, request)
