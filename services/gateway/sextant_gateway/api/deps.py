"""Shared dependencies of the gateway routes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated
from urllib.parse import quote

import httpx
from fastapi import Depends, HTTPException, Request, Response

from sextant_common import request_context
from sextant_gateway.auth.middleware import principal_of
from sextant_gateway.hub import LiveHub
from sextant_gateway.openapi import internal_path
from sextant_gateway.quotas import charge


def _service(name: str) -> Callable[[Request], Awaitable[httpx.AsyncClient]]:
    # async: a plain function dependency would cost a thread-pool hop on every request
    async def client_of(request: Request) -> httpx.AsyncClient:
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


BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
RELAYED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")
"""Every method a catch-all relay passes on: the service answers the ones its path lacks with
405 and the complete ``Allow`` header, which the relay passes back."""
RELAYED_HEADERS = ("retry-after", "allow", "content-disposition", "cache-control")
"""Upstream response headers the caller needs (when to retry, which methods, how to save a
download, how long to keep it); hop-by-hop and length headers are the gateway's own."""


MAX_QUERY_BYTES = 15 * 1024
"""Longest query string relayed (414 beyond): the services' HTTP parser (h11) refuses a request
head over 16 KiB with a bare 400, and the relayed head adds a request line and headers."""


async def forward(client: httpx.AsyncClient, path: str, request: Request) -> Response:
    """Send the caller's request (method, query string, body and its content type) to ``path``
    on an internal service and relay its status, body and :data:`RELAYED_HEADERS`
    (``Retry-After`` of a 429/503, ``Allow`` of a 405 ...). ``path`` is the decoded path (as
    Starlette gives path parameters); it is percent-encoded again here.

    The content type is passed on as received, never assumed: the gateway's
    ``RequireJsonContentType`` middleware has already refused a non-JSON ``POST`` to its own
    routes, and the service checks every request (the catch-all relays leave it to the
    service, which alone knows the path's methods). An unreachable service becomes a 503
    naming it, never a hung request.
    """
    query = request.scope["query_string"]
    if len(query) > MAX_QUERY_BYTES:
        raise HTTPException(
            status_code=414,
            detail=f"the query string has {len(query)} bytes; the limit is {MAX_QUERY_BYTES}",
        )
    headers = request_context.outgoing_headers()
    if (content_type := request.headers.get("content-type")) is not None:
        headers["content-type"] = content_type
    try:
        upstream = await client.request(
            request.method,
            quote(path, safe="/"),
            params=request.url.query,  # as sent: a repeated parameter keeps every value
            content=await request.body() if request.method in BODY_METHODS else None,
            headers=headers,
        )
    except httpx.HTTPError as exc:
        raise HTTPException(
            status_code=503,
            detail=f"service unavailable at {client.base_url}: {type(exc).__name__} {exc}".strip(),
        ) from None
    return Response(
        upstream.content,
        status_code=upstream.status_code,
        headers={h: upstream.headers[h] for h in RELAYED_HEADERS if h in upstream.headers},
        media_type=upstream.headers.get("content-type", "application/json"),
    )


async def relay_published(service: str, client: httpx.AsyncClient, request: Request) -> Response:
    """:func:`forward` the request to the ``service`` path published at the request's path; a
    404 for anything else (internal paths such as ``/metrics``, ``..`` segments, aliases)."""
    target = internal_path(request.url.path)
    if target is None or target[0] != service:
        raise HTTPException(status_code=404, detail=f"no public route {request.url.path!r}")
    return await forward(client, target[1], request)


async def forward_charged(
    client: httpx.AsyncClient, path: str, request: Request, quota: str, cost: int = 1
) -> Response:
    """:func:`forward` after spending ``cost`` units of the caller's ``quota`` (429 or 422 from
    :func:`~sextant_gateway.quotas.charge` when it does not fit); the answer carries the
    ``RateLimit-*`` headers. Units are spent when the request is sent on, whatever the
    service answers: refunding refused requests would let a burst of them pass the limit."""
    headers = await charge(request, quota, principal_of(request.scope).username, cost)
    response = await forward(client, path, request)
    response.headers.update(headers)
    return response
