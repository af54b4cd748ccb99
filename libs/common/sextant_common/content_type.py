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
ASGI middleware so it runs before the route and never buffers the body. It applies only where a
route answers the request's method on its path: a method the path does not have is the
router's 405 (with ``Allow``), an unknown path its 404, whatever the content type. A relay whose
methods only the service behind it knows (the gateway's ``/api/v1/quant/...``) is marked with
:func:`checked_upstream`: the service answers the 415 or the 405 and the relay passes it on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from starlette.types import ASGIApp, Receive, Scope, Send

from sextant_common.asgi_json import send_json
from sextant_common.routes import full_match

JSON_MEDIA_TYPE = "application/json"
CHECKED_METHODS = frozenset({"POST", "PUT", "PATCH"})
UNSUPPORTED_MEDIA_TYPE = 415
_CHECKED_UPSTREAM = "sextant_content_type_checked_upstream"
_FORM_ENDPOINT = "sextant_content_type_form_endpoint"

F = TypeVar("F", bound=Callable[..., Any])


def checked_upstream(endpoint: F) -> F:
    """Mark a route endpoint that relays every method to a service which runs this check
    itself (and knows which methods the path has): :class:`RequireJsonContentType` lets its
    requests through, so an undeclared ``PUT`` is the service's 405, not a 415 here."""
    setattr(endpoint, _CHECKED_UPSTREAM, True)
    return endpoint


def form_endpoint(endpoint: F) -> F:
    """Mark a route endpoint that takes ``application/x-www-form-urlencoded`` by standard (the
    OAuth2 token endpoint, RFC 6749 section 4.3.2): :class:`RequireJsonContentType` lets its
    requests through. Only for endpoints whose answer a cross-site page gains nothing from
    triggering: a token answer is readable only by the caller, and no state is kept in cookies."""
    setattr(endpoint, _FORM_ENDPOINT, True)
    return endpoint


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
    """ASGI middleware: ``POST``/``PUT``/``PATCH`` without a JSON content type, to a route that
    answers that method, get a 415 with ``{"detail": "..."}`` naming the expected type;
    everything else passes through (to the router's 404/405 when no route answers)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in CHECKED_METHODS:
            await self.app(scope, receive, send)
            return
        received = _header(scope, b"content-type")
        if is_json_content_type(received):  # the common case: no route lookup
            await self.app(scope, receive, send)
            return
        endpoint = full_match(scope)
        if (
            endpoint is None
            or getattr(endpoint, _CHECKED_UPSTREAM, False)
            or getattr(endpoint, _FORM_ENDPOINT, False)
        ):
            await self.app(scope, receive, send)
            return
        detail = unsupported_media_type_detail(received)
        await send_json(send, UNSUPPORTED_MEDIA_TYPE, {"detail": detail})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None
