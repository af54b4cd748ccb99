"""``/api/v1/dlq``: the datasets service's kept dead letters (counts, newest records, one by id).

Relayed like :mod:`sextant_gateway.api.routes.datasets`: only the paths
:data:`sextant_gateway.openapi.MOUNTS` publishes, every method (the service answers 405 for the
ones it lacks); the documentation is the service's own.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from sextant_common.content_type import checked_upstream
from sextant_gateway.api.deps import RELAYED_METHODS, DatasetsClient, relay_published

router = APIRouter(prefix="/api/v1/dlq", tags=["dlq"], include_in_schema=False)


@router.api_route("", methods=list(RELAYED_METHODS))
@router.api_route("/{path:path}", methods=list(RELAYED_METHODS))
@checked_upstream
async def dead_letters(request: Request, client: DatasetsClient, path: str = "") -> Response:
    """Relay to the datasets service's ``/v1/dlq`` path published at this public path."""
    return await relay_published("datasets", client, request)
