"""The gateway's ``/openapi.json``: the internal services' own OpenAPI documents, merged and
rewritten to their public paths.

Why built from the services rather than declared in the gateway: the gateway only relays, and
the request/response models, their validation and their error statuses live with the service
that implements each route. Re-declaring them in the gateway (moving ~25 models into
libs/common and writing a typed proxy per route) would give every route two descriptions that
drift apart the first time a service adds a field; here each route has one source of truth, the
gateway never imports another service's package, and a new service route is public (and
documented) by adding one :data:`MOUNTS` entry. The price is that the document needs the
services: it is fetched on first request and cached for :data:`CACHE_SECONDS`; it is never
served partial. If a service's document cannot be fetched the answer is a 503 naming it (or the
last complete document, when there is one), so whatever ``/openapi.json`` returns describes
every public route.

Each operation keeps the service's schema, models and statuses and gains what the gateway can
answer itself: 503 when the service is unreachable, 415 on ``POST``/``PUT``/``PATCH`` without a
JSON content type, 400 for a body that cannot be parsed, 422 wherever there are parameters or a
body, and a ``{"detail": ...}`` JSON
model on every error status that lacks one. Operation ids are the public method and path
(unique by construction). Only ``/v1/...`` service paths that a :data:`MOUNTS` entry maps are
published, so ``/health``, ``/metrics`` and ``/status`` of the services stay internal.
"""

from __future__ import annotations

import asyncio
import copy
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse

from sextant_common.http_errors import ErrorPublic
from sextant_gateway.auth.policy import Role, required_role

CACHE_SECONDS = 60.0
"""How long a merged document is reused before the services are asked again."""

BODY_METHODS = frozenset({"post", "put", "patch"})
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
ERROR_SCHEMA = "ErrorPublic"


@dataclass(frozen=True)
class Mount:
    """Paths under ``internal`` on ``service`` are public under ``public``."""

    service: str
    internal: str
    public: str

    def public_path(self, path: str) -> str | None:
        """``path``'s public path, or None if this mount does not cover it."""
        if path == self.internal:
            return self.public
        if path.startswith(self.internal.rstrip("/") + "/"):
            return self.public.rstrip("/") + "/" + path[len(self.internal.rstrip("/")) + 1 :]
        return None


MOUNTS: tuple[Mount, ...] = (
    Mount("datasets", "/v1/bars", "/api/v1/bars"),
    Mount("datasets", "/v1/instruments", "/api/v1/instruments"),
    Mount("datasets", "/v1/snapshots", "/api/v1/datasets/snapshots"),
    Mount("datasets", "/v1/storage", "/api/v1/datasets/storage"),
    Mount("datasets", "/v1/dlq", "/api/v1/dlq"),
    Mount("datasets", "/v1/fundamentals", "/api/v1/datasets/fundamentals"),
    Mount("datasets", "/v1/macro", "/api/v1/datasets/macro"),
    Mount("datasets", "/v1/news", "/api/v1/datasets/news"),
    Mount("datasets", "/v1/signals", "/api/v1/datasets/signals"),
    Mount("quant", "/v1/backtests", "/api/v1/backtests"),
    Mount("quant", "/v1/sweeps", "/api/v1/sweeps"),
    Mount("quant", "/v1/factors", "/api/v1/quant/factors"),
    Mount("quant", "/v1/regimes", "/api/v1/quant/regimes"),
    Mount("quant", "/v1/options", "/api/v1/quant/options"),
    Mount("quant", "/v1/risk", "/api/v1/quant/risk"),
    Mount("quant", "/v1/screener", "/api/v1/quant/screener"),
    Mount("quant", "/v1/correlations", "/api/v1/quant/correlations"),
    Mount("quant", "/v1/indicators", "/api/v1/quant/indicators"),
    Mount("quant", "/v1/analytics", "/api/v1/quant/analytics"),
    Mount("ingest", "/v1/providers", "/api/v1/providers"),
    Mount("ingest", "/v1/fetch", "/api/v1/fetch"),
)
"""Which service paths are public, and where. The first mount covering a path wins; a path no
mount covers is not published (the routers in ``api/routes`` serve exactly these)."""

SERVICES: tuple[str, ...] = tuple(dict.fromkeys(m.service for m in MOUNTS))


def public_path(service: str, path: str) -> str | None:
    """The public path of ``service``'s ``path``, or None when it is internal."""
    for mount in MOUNTS:
        if mount.service == service and (public := mount.public_path(path)) is not None:
            return public
    return None


def internal_path(public: str) -> tuple[str, str] | None:
    """``(service, path)`` that serves the public path ``public``, or None when nothing public
    lives there: internal paths, aliases of a route published elsewhere, and any path with a
    ``.`` or ``..`` segment (which would otherwise reach e.g. a service's ``/metrics``)."""
    if any(segment in (".", "..") for segment in public.split("/")):
        return None
    for mount in MOUNTS:
        reverse = Mount(mount.service, mount.public, mount.internal).public_path(public)
        if reverse is not None and public_path(mount.service, reverse) == public:
            return mount.service, reverse
    return None


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}}
        },
    }


GATEWAY_ERRORS: Mapping[str, str] = {
    "400": "Bad Request: the body is not parseable (e.g. not UTF-8), or the request line is "
    "over the HTTP server's 64 KiB limit (answered in plain text by the server itself)",
    "414": "URI Too Long: the query string is over the gateway's limit (the detail names it)",
    "415": "Unsupported Media Type: POST, PUT and PATCH need Content-Type application/json",
    "503": "Service Unavailable: the internal service answering this route (or the auth "
    "database) is unreachable",
}


def _operation_id(method: str, path: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", f"{method}_{path}").strip("_")


def _rename_refs(node: Any, renames: Mapping[str, str]) -> Any:
    """``node`` with every ``#/components/schemas/<old>`` reference pointing at its new name."""
    if isinstance(node, dict):
        out = {k: _rename_refs(v, renames) for k, v in node.items()}
        ref = out.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            name = ref.rsplit("/", 1)[1]
            out["$ref"] = f"#/components/schemas/{renames.get(name, name)}"
        return out
    if isinstance(node, list):
        return [_rename_refs(v, renames) for v in node]
    return node


def _complete_operation(method: str, path: str, operation: dict[str, Any]) -> dict[str, Any]:
    """The operation with the gateway's own statuses and a JSON error model on every error."""
    operation = copy.deepcopy(operation)
    operation["operationId"] = _operation_id(method, path)
    responses: dict[str, Any] = operation.setdefault("responses", {})
    statuses = ["503"]
    if method in BODY_METHODS:
        statuses.append("415")
    has_query = any(p.get("in") == "query" for p in operation.get("parameters", ()))
    if "requestBody" in operation or has_query:
        statuses.append("400")
    if has_query:
        statuses.append("414")
    for status in statuses:
        responses.setdefault(status, _error(GATEWAY_ERRORS[status]))
    if has_query:  # the HTTP server refuses a request line over 64 KiB before any route runs
        responses["400"].setdefault("content", {})["text/plain"] = {"schema": {"type": "string"}}
    if (operation.get("parameters") or operation.get("requestBody")) and "422" not in responses:
        responses["422"] = {
            "description": "Validation Error",
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}
            },
        }
    for status, response in responses.items():
        if status[:1] in ("4", "5") and not response.get("content"):
            response.update(_error(response.get("description") or "Error"))
    operation["responses"] = dict(sorted(responses.items()))
    return operation


def merge_documents(base: dict[str, Any], services: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """``base`` (the gateway's own document) plus every public operation of ``services``
    (service name -> its ``/openapi.json``), on public paths, with components merged.

    A schema name two services define differently is prefixed with the service's name in the
    second one (and its references follow); identical definitions are shared.
    """
    merged = copy.deepcopy(base)
    paths: dict[str, Any] = merged.setdefault("paths", {})
    for path, item in paths.items():  # the gateway's own routes (sign-in, users)
        for method in item.keys() & HTTP_METHODS:
            item[method] = _complete_operation(method, path, item[method])
    schemas: dict[str, Any] = merged.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault(ERROR_SCHEMA, ErrorPublic.model_json_schema())
    tags: dict[str, dict[str, Any]] = {t["name"]: t for t in merged.get("tags", [])}
    for service, document in services.items():
        own = document.get("components", {}).get("schemas", {})
        renames = {
            name: f"{service.capitalize()}{name}"
            for name, schema in own.items()
            if name in schemas and schemas[name] != schema
        }
        for name, schema in own.items():
            schemas.setdefault(renames.get(name, name), _rename_refs(schema, renames))
        for path, item in document.get("paths", {}).items():
            public = public_path(service, path)
            if public is None:
                continue
            target = paths.setdefault(public, {})
            for method, operation in _rename_refs(item, renames).items():
                if method not in HTTP_METHODS:
                    target[method] = operation
                    continue
                target[method] = _complete_operation(method, public, operation)
                for tag in operation.get("tags", []):
                    tags.setdefault(tag, {"name": tag, "description": f"Served by {service}"})
    merged["paths"] = dict(sorted(paths.items()))
    merged["components"]["schemas"] = dict(sorted(schemas.items()))
    merged["tags"] = list(tags.values())
    return merged


SECURITY_SCHEME = "OAuth2PasswordBearer"


def secure_document(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with the bearer-token scheme and, on every operation the policy protects,
    its ``security``, the least role (``x-required-role``, also in the description) and the
    401/403 answers (:mod:`sextant_gateway.auth.policy` decides; nothing is declared twice)."""
    document = copy.deepcopy(document)
    document.setdefault("components", {})["securitySchemes"] = {
        SECURITY_SCHEME: {
            "type": "oauth2",
            "description": "Sign in at /api/v1/auth/token; send the access token as "
            "`Authorization: Bearer <token>`",
            "flows": {
                "password": {
                    "tokenUrl": "/api/v1/auth/token",
                    "refreshUrl": "/api/v1/auth/token",
                    "scopes": {},
                }
            },
        }
    }
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            role = required_role(method.upper(), path)
            if role is None:
                operation["security"] = []
                continue
            operation["security"] = [{SECURITY_SCHEME: []}]
            operation["x-required-role"] = role.name
            note = f"Requires role: {role.name}."
            operation["description"] = f"{operation.get('description', '')}\n\n{note}".strip()
            responses = operation.setdefault("responses", {})
            responses.setdefault("401", _error("Unauthorized: no bearer token, or an invalid one"))
            if role > Role.viewer:
                responses.setdefault("403", _error(f"Forbidden: requires role {role.name}"))
            operation["responses"] = dict(sorted(responses.items()))
    return document


class OpenApiDocument:
    """The merged document of an app, fetched from the services on demand and cached."""

    def __init__(self, ttl_s: float = CACHE_SECONDS) -> None:
        self.ttl_s = ttl_s
        self._document: dict[str, Any] | None = None
        self._built = 0.0
        self._lock = asyncio.Lock()

    async def get(self, app: FastAPI) -> dict[str, Any]:
        """The complete document; raises a 503 naming the service whose document is missing
        when no complete document was ever built."""
        async with self._lock:
            if self._document is None or time.monotonic() - self._built > self.ttl_s:
                try:
                    self._document = await self._build(app)
                    self._built = time.monotonic()
                except HTTPException:
                    if self._document is None:
                        raise
        return self._document

    async def _build(self, app: FastAPI) -> dict[str, Any]:
        clients: Mapping[str, httpx.AsyncClient] = app.state.services
        documents = await asyncio.gather(*(_fetch(name, clients[name]) for name in SERVICES))
        base = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        return secure_document(merge_documents(base, dict(zip(SERVICES, documents, strict=True))))


async def _fetch(name: str, client: httpx.AsyncClient) -> dict[str, Any]:
    try:
        response = await client.get("/openapi.json", timeout=10.0)
        response.raise_for_status()
        document: dict[str, Any] = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise HTTPException(
            status_code=503,
            detail=f"OpenAPI document of the {name} service unavailable at "
            f"{client.base_url}: {exc}",
        ) from None
    return document


router = APIRouter(include_in_schema=False)


@router.get("/openapi.json")
async def openapi_json(request: Request) -> dict[str, Any]:
    """Every public route with its request and response models (built from the services)."""
    document: OpenApiDocument = request.app.state.openapi
    return await document.get(request.app)


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI over ``/openapi.json``."""
    return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{request.app.title} - docs")


def install_openapi(app: FastAPI) -> None:
    """Serve the merged ``/openapi.json`` and ``/docs`` on ``app`` (built with
    ``openapi_url=None`` so FastAPI does not serve its own, proxy-only document)."""
    app.state.openapi = OpenApiDocument()
    app.include_router(router)
