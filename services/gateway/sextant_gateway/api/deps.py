"""Shared dependencies of the gateway routes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import httpx
from fastapi import Depends, HTTPException, Request, Response

from sextant_gateway.hub import LiveHub


def _service(name: str) -> Callable[[Request], httpx.AsyncClient]:
    def client_of(request: Request) -> httpx.AsyncClient:
        client: httpx.AsyncClient = request.app.state.services[name]
        return client

    return client_of


DatasetsClient = Annotated[httpx.AsyncClient, Depends(_service("datasets"))]
QuantClient = Annotated[httpx.AsyncClient, Depends(_service("quant"))]
IngestClient = Annotated[httpx.AsyncClient, Depends(_service("ingest"))]


def hub_of(app_state: object) -> LiveHub:
    """The app's live hub."""
    hub: LiveHub = app_state.hub  # type: ignore[attr-defined]
    return hub


async def forward(client: httpx.AsyncClient, path: str, request: Request) -> Response:
    """Send the caller's request (method, query string, JSON body) to ``path`` on an internal
    service and relay its status and body.

    An unreachable service becomes a 503 naming it, never a hung request.
    """
    try:
        upstream = await client.request(
            request.method,
            path,
            params=request.query_params,
            content=await request.body() if request.method in ("POST", "PUT") else None,
            headers={"content-type": request.headers.get("content-type", "application/json")},
        )
    except httpx.HTTPError as exc:
        raise HTTPException(
            status_code=503, detail=f"service unavailable at {client.base_url}: {exc}"
        ) from None
    return Response(
        upstream.content,
        status_code=upstream.status_code,
        media_type=upstream.headers.get("content-type", "application/json"),
    )
