"""Refuse state-changing requests that are not JSON (415), so a page on another origin cannot
drive the API with a "simple" cross-site request.

A browser sends ``POST`` with ``text/plain``, ``multipart/form-data`` or
``application/x-www-form-urlencoded`` (or with no body and no content type at all) from any
origin without a CORS preflight, even in ``mode: "no-cors"``: the page cannot read the answer,
but the request runs. ``application/json`` is not such a type, so requiring it on every
``POST``/``PUT``/``PATCH`` makes the browser ask first, and without CORS configured the answer is
no. Body-less ``POST`` routes (e.g. storage compaction, parameters in the query string) are
included on purpose: they mutate state too.

Every service's app and the gateway add :class:`RequireJsonContentType`; the check is a plain
ASGI middleware so it runs before routing and never buffers the body.
"""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

JSON_MEDIA_TYPE = "application/json"
CHECKED_METHODS = frozenset({"POST", "PUT", "PATCH"})
UNSUPPORTED_MEDIA_TYPE = 415


def is_json_content_type(value: str | None) -> bool:
    """True for ``application/json``, optionally with ``charset=utf-8`` (any case, any spacing).

    JSON is UTF-8 on the wire (RFC 8259), so another charset or any other parameter is refused.
    """
    if not value:
        return False
    media_type, *params = (part.strip().lower() for part in value.split(";"))
    if media_type != JSON_MEDIA_TYPE:
        return False
    return all(p.replace(" ", "") in ("charset=utf-8", 'charset="utf-8"') for p in params)


def unsupported_media_type_detail(received: str | None) -> str:
    """The 415 ``detail``: the expected content type and what was received."""
    got = f"got {received!r}" if received else "got no Content-Type"
    return (
        f"Content-Type must be {JSON_MEDIA_TYPE} (optionally with charset=utf-8) "
        f"on POST, PUT and PATCH requests, even without a body; {got}"
    )


class RequireJsonContentType:
    """ASGI middleware: ``POST``/``PUT``/``PATCH`` without a JSON content type get a 415 with
    ``{"detail": "..."}`` naming the expected type; everything else passes through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in CHECKED_METHODS:
            await self.app(scope, receive, send)
            return
        received = _header(scope, b"content-type")
        if is_json_content_type(received):
            await self.app(scope, receive, send)
            return
        body = orjson.dumps({"detail": unsupported_media_type_detail(received)})
        await send(
            {
                "type": "http.response.start",
                "status": UNSUPPORTED_MEDIA_TYPE,
                "headers": [
                    (b"content-type", JSON_MEDIA_TYPE.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None
