"""``/api/v1/datasets/...``: the datasets service's snapshot, storage and gap APIs.

``/api/v1/datasets/snapshots`` (create, list, manifest, verify, data), ``/api/v1/datasets/storage``
(stats, compaction, integrity, gaps) and ``/api/v1/datasets/bars`` (as-of bar queries); the
datasets service validates and names bad fields.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from sextant_gateway.api.deps import DatasetsClient, forward

router = APIRouter(prefix="/api/v1/datasets", tags=["datasets"])


@router.api_route("/{path:path}", methods=["GET", "POST"])
async def datasets(path: str, request: Request, client: DatasetsClient) -> Response:
    """Relay to ``/v1/{path}`` on the datasets service."""
    return await forward(client, f"/v1/{path}", request)
