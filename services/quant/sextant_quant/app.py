"""Builds the quant service: the FastAPI app over the pure quant libraries."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
from fastapi import FastAPI

from sextant_common import request_context
from sextant_common.content_type import RequireJsonContentType
from sextant_common.http_errors import install_error_handlers
from sextant_common.telemetry import add_health_and_metrics, http_ok
from sextant_common.versioned_cache import VersionedCache
from sextant_quant.api.routes import (
    analytics,
    backtests,
    correlations,
    factors,
    indicators,
    options,
    regimes,
    risk,
    screener,
)
from sextant_quant.api.routes.regimes import RegimesPublic
from sextant_quant.jobs import backtest, sweep
from sextant_quant.jobs.runner import JobRunner
from sextant_quant.jobs.store import open_job_store
from sextant_quant.live.analytics import LiveAnalytics
from sextant_quant.market_data import MarketData
from sextant_quant.regimes import HMMRegimeModel
from sextant_quant.settings import QuantSettings

log = logging.getLogger(__name__)


def build_app(settings: QuantSettings | None = None) -> FastAPI:
    """The quant FastAPI app; market data comes from the datasets service over HTTP, long work
    (backtests) runs as jobs from ``jobs.requests.v1``."""
    settings = settings or QuantSettings()
    store = open_job_store(settings)  # Redis when SEXTANT_REDIS_URL is set, else files
    state: dict[str, JobRunner | LiveAnalytics] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient(
            base_url=settings.datasets_url,
            timeout=httpx.Timeout(60.0, connect=2.0),
            # the datasets service's lines and spans join the request's or the job's
            event_hooks={"request": [request_context.add_outgoing_headers]},
        ) as client:
            market = MarketData(client)
            runner = JobRunner(
                settings.require_bootstrap(),
                settings.quant_jobs_group,
                store,
                {
                    backtest.KIND: backtest.backtest_handler(market),
                    sweep.KIND: sweep.sweep_handler(
                        market,
                        settings.ray_address,
                        max_backtests=settings.quant_sweep_max_backtests,
                        threads=settings.quant_sweep_threads,
                    ),
                },
                queue_max=settings.quant_job_queue_max,
                inline_result_max_bytes=settings.quant_job_inline_result_max_bytes,
            )
            live = LiveAnalytics(
                bootstrap=settings.require_bootstrap(),
                market=market,
                group_id=settings.quant_analytics_group,
                benchmarks=settings.quant_analytics_benchmarks,
                live_window=timedelta(seconds=settings.quant_analytics_live_window_seconds),
            )
            app.state.market_data = market
            app.state.jobs = state["runner"] = runner
            app.state.live_analytics = state["live"] = live
            tasks = [
                asyncio.create_task(runner.run(), name="job-runner"),
                asyncio.create_task(live.run(), name="live-analytics"),
            ]
            yield
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            store.close()

    app = FastAPI(title="Sextant quant", version="0.1.0", lifespan=lifespan)
    app.add_middleware(RequireJsonContentType)  # 415 for non-JSON POSTs
    app.state.job_store = store
    app.state.settings = settings
    app.state.regime_fits = VersionedCache[HMMRegimeModel](max_entries=64, name="regime_fits")
    app.state.regime_answers = VersionedCache[RegimesPublic](max_entries=256, name="regime_answers")
    for module in (
        factors,
        regimes,
        risk,
        options,
        backtests,
        analytics,
        screener,
        correlations,
        indicators,
    ):
        app.include_router(module.router)
    install_error_handlers(app)
    add_health_and_metrics(
        app,
        "quant",
        {
            "job_runner": lambda: "runner" in state and state["runner"].running,
            "live_analytics": lambda: "live" in state and state["live"].running,
        },
        {"datasets": http_ok(f"{settings.datasets_url}/health")},
    )
    return app
