"""``/api/v1/datasets/...``: the datasets service's snapshot, storage and fetched-dataset APIs.

``/api/v1/datasets/snapshots`` (create, list, manifest, verify, data),
``/api/v1/datasets/storage`` (stats, compaction, integrity, gaps) and the fetched datasets as of
a time (``/api/v1/datasets/fundamentals``, ``macro``, ``news``, ``signals``); the datasets
service validates and names bad fields. Only the paths :data:`sextant_gateway.openapi.MOUNTS`
publishes are relayed (bars and instruments are public at ``/api/v1/bars`` and
``/api/v1/instruments``); their documentation is the service's own, see
:mod:`sextant_gateway.openapi`.

Every method is relayed: a method the path lacks is the service's 405 with its ``Allow``, a
non-JSON ``POST`` the service's 415 (the service alone knows the path's methods).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from sextant_common.content_type import checked_upstream
from sextant_gateway.api.deps import RELAYED_METHODS, DatasetsClient, relay_published

router = APIRouter(prefix="/api/v1/datasets", tags=["datasets"], include_in_schema=False)


@router.api_route("/{path:path}", methods=list(RELAYED_METHODS))
@checked_upstream
async def datasets(path: str, request: Request, client: DatasetsClient) -> Response:
    """Relay to the datasets service path published at this public path."""
    return await relay_published("datasets", client, request)
