"""`/health` and `/metrics` for every service's FastAPI app."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson
from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

HealthCheck = Callable[[], Awaitable[bool] | bool]


def add_health_and_metrics(app: FastAPI, service: str, checks: dict[str, HealthCheck]) -> None:
    """Mount ``GET /health`` (200 when every check passes, else 503) and ``GET /metrics``."""

    @app.get("/health", include_in_schema=False)
    async def health() -> Response:
        results: dict[str, bool] = {}
        for name, check in checks.items():
            outcome = check()
            results[name] = bool(await outcome) if isinstance(outcome, Awaitable) else outcome
        ok = all(results.values())
        body = {"service": service, "status": "ok" if ok else "degraded", "checks": results}
        return Response(
            orjson.dumps(body), status_code=200 if ok else 503, media_type="application/json"
        )

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
