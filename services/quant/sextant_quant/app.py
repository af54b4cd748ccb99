"""Builds the quant service: the FastAPI app over the pure quant libraries."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI

from sextant_common.telemetry import add_health_and_metrics
from sextant_quant.api.routes import factors, regimes, risk
from sextant_quant.market_data import MarketData
from sextant_quant.settings import QuantSettings


def build_app(settings: QuantSettings | None = None) -> FastAPI:
    """The quant FastAPI app; market data comes from the datasets service over HTTP."""
    settings = settings or QuantSettings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient(
            base_url=settings.datasets_url, timeout=httpx.Timeout(60.0, connect=2.0)
        ) as client:
            app.state.market_data = MarketData(client)
            yield

    app = FastAPI(title="Sextant quant", version="0.1.0", lifespan=lifespan)
    for module in (factors, regimes, risk):
        app.include_router(module.router)
    add_health_and_metrics(app, "quant", {})
    return app
