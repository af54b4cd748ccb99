"""Builds the gateway: HTTP client to internal services, live feed, WebSocket hub, routes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from sextant_common.content_type import RequireJsonContentType
from sextant_common.http_errors import install_error_handlers
from sextant_common.telemetry import add_health_and_metrics, http_ok
from sextant_common.versioned_cache import VersionedCache
from sextant_gateway.api.routes import (
    asyncapi,
    auth,
    backtests,
    bars,
    datasets,
    dlq,
    fetch,
    instruments,
    quant,
    ws,
)
from sextant_gateway.api.routes.web import mount_web
from sextant_gateway.auth.middleware import Authenticate
from sextant_gateway.auth.service import Auth
from sextant_gateway.body_limit import BodyLimit
from sextant_gateway.hub import LiveHub
from sextant_gateway.live_feed import LiveFeed
from sextant_gateway.openapi import install_openapi
from sextant_gateway.quotas import Quotas
from sextant_gateway.settings import GatewaySettings

log = logging.getLogger(__name__)


async def _auth_database_unavailable(_request: Request, exc: Exception) -> JSONResponse:
    log.error("auth database error: %s", exc)
    return JSONResponse({"detail": "the auth database is unavailable"}, status_code=503)


def build_app(settings: GatewaySettings | None = None) -> FastAPI:
    """The public FastAPI app; its lifespan runs the live feed consumer."""
    settings = settings or GatewaySettings()
    auth_service = Auth(settings)
    quotas = Quotas.from_settings()
    hub = LiveHub(
        settings.ws_queue_size,
        max_lag_s=settings.ws_max_lag_seconds,
        close_grace_s=settings.ws_close_grace_seconds,
    )
    feed = LiveFeed(
        settings.require_bootstrap(), hub, timedelta(seconds=settings.live_window_seconds)
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        timeout = httpx.Timeout(60.0, connect=2.0)
        app.state.services = {
            name: httpx.AsyncClient(base_url=url, timeout=timeout)
            for name, url in (
                ("datasets", settings.datasets_url),
                ("quant", settings.quant_url),
                ("ingest", settings.ingest_url),
            )
        }
        tasks = [
            asyncio.create_task(feed.run(), name="live-feed"),
            asyncio.create_task(hub.watch(), name="ws-watchdog"),
        ]
        yield
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for client in app.state.services.values():
            await client.aclose()
        auth_service.close()
        await quotas.close()

    # The proxies are out of FastAPI's own schema: /openapi.json is merged from the services.
    app = FastAPI(
        title="Sextant gateway",
        version="0.1.0",
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.auth = auth_service
    app.state.quotas = quotas
    app.state.hub = hub
    app.state.bars_cache = VersionedCache[bytes](
        ttl_s=settings.latest_bars_ttl_seconds, name="gateway_bars"
    )
    app.state.bars_inflight = {}
    app.include_router(auth.router)
    app.include_router(auth.users_router)
    app.include_router(bars.router)
    app.include_router(instruments.router)
    app.include_router(backtests.router)
    app.include_router(backtests.sweeps)
    app.include_router(fetch.router)
    app.include_router(datasets.router)
    app.include_router(dlq.router)
    app.include_router(quant.router)
    app.include_router(ws.router)
    app.include_router(asyncapi.build_router(settings.require_bootstrap()))
    install_openapi(app)
    app.add_middleware(RequireJsonContentType)
    app.add_middleware(Authenticate, keys=auth_service.keys, metrics_token=settings.metrics_token)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    install_error_handlers(app)
    app.add_exception_handler(SQLAlchemyError, _auth_database_unavailable)
    if settings.cors_origins:  # added last: outermost, so 415s and preflights carry CORS headers
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["content-type", "authorization", "x-request-id"],
            expose_headers=[
                "x-request-id",
                "retry-after",
                "ratelimit-limit",
                "ratelimit-remaining",
                "ratelimit-reset",
                "ratelimit-policy",
            ],
        )
    add_health_and_metrics(
        app,
        "gateway",
        {"live_feed": lambda: feed.running},
        {
            "datasets": http_ok(f"{settings.datasets_url}/health"),
            "quant": http_ok(f"{settings.quant_url}/health"),
        },
    )
    mount_web(app, settings.web_dist)
    return app
