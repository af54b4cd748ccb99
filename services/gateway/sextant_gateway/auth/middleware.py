"""ASGI middleware: every HTTP request the policy protects carries a valid bearer token of a
role high enough, or is answered here (401 or 403, JSON naming why) before any route runs.

Errors follow RFC 6750: a 401 carries ``WWW-Authenticate: Bearer`` (with ``error="invalid_token"``
when a token was sent), a 403 ``error="insufficient_scope"``. The verified principal is put in
the request scope (``scope["state"]["principal"]``) and the request context (user in logs and
in calls to the services). WebSocket connections authenticate with their first message
(:mod:`sextant_gateway.api.routes.ws`), since a browser cannot set headers on them.
"""

from __future__ import annotations

import hmac

from prometheus_client import Counter
from pydantic import SecretStr
from starlette.types import ASGIApp, Receive, Scope, Send

from sextant_common import request_context
from sextant_common.asgi_json import send_json
from sextant_gateway.auth.policy import Role, required_role
from sextant_gateway.auth.tokens import KeyRing, Principal, TokenRejected

AUTH_FAILURES = Counter(
    "sextant_auth_failures_total", "Requests refused by authentication or authorization", ["reason"]
)
METRICS_PATH = "/metrics"
REALM = 'Bearer realm="sextant"'


def bearer_token(scope: Scope) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, if any."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = bytes(value).decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            return None
    return None


class Authenticate:
    """Enforce :func:`~sextant_gateway.auth.policy.required_role` on HTTP requests."""

    def __init__(self, app: ASGIApp, keys: KeyRing, metrics_token: SecretStr | None) -> None:
        self.app = app
        self.keys = keys
        self._metrics_token = (
            metrics_token.get_secret_value().encode() if metrics_token is not None else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        needed = required_role(scope["method"], path)
        if needed is None:
            await self.app(scope, receive, send)
            return
        token = bearer_token(scope)
        if token is None:
            detail = "authentication required: send a bearer token"
            await _refuse(send, 401, "missing", detail, REALM)
            return
        if (
            path == METRICS_PATH
            and self._metrics_token is not None
            and hmac.compare_digest(token.encode(), self._metrics_token)
        ):
            await self.app(scope, receive, send)
            return
        try:
            principal = self.keys.verify(token)
        except TokenRejected as exc:
            challenge = f'{REALM}, error="invalid_token", error_description="{exc.reason}"'
            await _refuse(send, 401, exc.reason, str(exc), challenge)
            return
        if principal.role < needed:
            challenge = f'{REALM}, error="insufficient_scope"'
            detail = f"requires role {needed.name}; you are {principal.role.name}"
            await _refuse(send, 403, "role", detail, challenge)
            return
        scope.setdefault("state", {})["principal"] = principal
        request_context.set_user(principal.username)
        await self.app(scope, receive, send)


def principal_of(scope: Scope) -> Principal:
    """The verified principal of a request the middleware let through to a protected route."""
    principal: Principal = scope["state"]["principal"]
    return principal


def role_at_least(principal: Principal, role: Role) -> bool:
    """Whether ``principal`` may act as ``role``."""
    return principal.role >= role


async def _refuse(send: Send, status: int, reason: str, detail: str, challenge: str) -> None:
    AUTH_FAILURES.labels(reason).inc()
    await send_json(send, status, {"detail": detail}, [(b"www-authenticate", challenge.encode())])
