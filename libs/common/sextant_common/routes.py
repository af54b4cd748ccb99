"""What an app's routes say about a request before it is routed: which route (if any) answers
its method and path, and which methods its path has.

Middleware that runs before routing (the content-type check) and the 405 handler ask this
rather than guess: a check that only applies to an existing route must not turn a request the
router would answer with 404 or 405 into something else. Routes of included routers are
visited too (FastAPI keeps them nested; :func:`fastapi.routing.iter_route_contexts` flattens).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.routing import RouteContext, iter_route_contexts
from starlette.routing import Match
from starlette.types import Scope


def _routes(scope: Scope) -> list[RouteContext]:
    router = getattr(scope.get("app"), "router", None)
    return list(iter_route_contexts(getattr(router, "routes", [])))


def full_match(scope: Scope) -> Callable[..., Any] | None:
    """The endpoint of the first route that answers this method on this path (Starlette's
    routing order), or None when the router would answer 404 or 405 (or the match is a mount,
    which has no endpoint of its own)."""
    for route in _routes(scope):
        match, _ = route.matches(scope)
        if match is Match.FULL:
            endpoint: Callable[..., Any] | None = route.endpoint
            return endpoint
    return None


def allowed_methods(scope: Scope) -> list[str]:
    """Every method some route answers on this request's path, sorted (for ``Allow``).

    Starlette's own 405 lists only the methods of the first route whose path matches, so a
    path served by two routes (``GET`` and ``POST /v1/snapshots``) advertised one of them.
    """
    methods: set[str] = set()
    for route in _routes(scope):
        if route.methods:
            match, _ = route.matches(scope)
            if match is not Match.NONE:
                methods |= route.methods
    return sorted(methods)
