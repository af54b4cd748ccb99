"""What the current request is: its id and its user, for logs, metrics and calls onward.

The gateway authenticates the caller and calls :func:`set_user`; the request telemetry
middleware sets the request id. :func:`outgoing_headers` are the headers a call to another
service carries so that its logs and traces join this request's.
"""

from __future__ import annotations

import contextvars

import httpx

from sextant_common import tracecontext

REQUEST_ID_HEADER = "x-request-id"
USER_HEADER = "x-sextant-user"

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
USER: contextvars.ContextVar[str | None] = contextvars.ContextVar("user", default=None)


def set_user(username: str | None) -> None:
    """Record who the current request acts for (the gateway, once the token is verified)."""
    USER.set(username)


def outgoing_headers() -> dict[str, str]:
    """Headers a call to another service carries: the request id, the user and the
    ``traceparent`` of the current span (the callee's server span becomes its child)."""
    headers = {}
    if (request_id := REQUEST_ID.get()) is not None:
        headers[REQUEST_ID_HEADER] = request_id
    if (user := USER.get()) is not None:
        headers[USER_HEADER] = user
    if (traceparent := tracecontext.of()) is not None:
        headers[tracecontext.HEADER] = traceparent
    return headers


async def add_outgoing_headers(request: httpx.Request) -> None:
    """An httpx request hook giving every call of a client the :func:`outgoing_headers` it does
    not set itself: ``httpx.AsyncClient(event_hooks={"request": [add_outgoing_headers]})``."""
    for name, value in outgoing_headers().items():
        request.headers.setdefault(name, value)
