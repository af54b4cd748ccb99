"""Builds the ingest service: the bus producer, the worker task and a health/metrics app."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from fastapi import FastAPI

from sextant_common import topics
from sextant_common.bus import ensure_topics
from sextant_common.content_type import RequireJsonContentType
from sextant_common.http_errors import install_error_handlers
from sextant_common.producer import EventProducer
from sextant_common.telemetry import PublishedOnce, add_health_and_metrics
from sextant_ingest.api.routes import fetch
from sextant_ingest.fetching import KafkaEventPublisher, ProviderRegistry, UnifiedFetcher
from sextant_ingest.option_chains import SIMULATED, run_chain_feed, simulated_underlyings
from sextant_ingest.providers.base import BarProvider
from sextant_ingest.publisher import BarPublisher
from sextant_ingest.settings import IngestSettings
from sextant_ingest.worker import IngestWorker, WorkerStatus

log = logging.getLogger(__name__)


def build_app(settings: IngestSettings | None = None) -> FastAPI:
    """The ingest FastAPI app (health, metrics, status); its lifespan runs the worker."""
    settings = settings or IngestSettings()
    # One registry: the fetch API and the worker get their providers from the same fetcher.
    registry = ProviderRegistry.load(settings.provider_modules())
    fetcher = UnifiedFetcher(settings, registry=registry)
    providers = [fetcher.bar_provider(name) for name in settings.ingest_providers]
    live_provider = _live_provider(fetcher, settings) if settings.ingest_live else None
    state: dict[str, object] = {"failed": False, "status": WorkerStatus()}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with KafkaEventPublisher(settings) as sink, fetcher:
            # The sink opens on the running loop; the fetcher was built with the app.
            fetcher.publisher = sink
            app.state.fetcher = fetcher
            async with (
                _run_worker(settings, providers, live_provider, state),
                _run_chain_feed(fetcher, settings),
            ):
                yield

    app = FastAPI(title="Sextant ingest", version="0.1.0", lifespan=lifespan)
    app.add_middleware(RequireJsonContentType)  # 415 for non-JSON POSTs
    install_error_handlers(app)
    app.include_router(fetch.router)

    @app.get("/status")
    def status() -> dict[str, object]:
        """Bars published per provider during the backfill, and live bars since."""
        worker_status = state["status"]
        assert isinstance(worker_status, WorkerStatus)
        return dataclasses.asdict(worker_status)

    add_health_and_metrics(
        app,
        "ingest",
        {"worker": lambda: not state["failed"]},
        {
            "history_published": PublishedOnce(
                lambda: getattr(state["status"], "backfill_done", False),
                settings.require_bootstrap(),
                topics.MD_BARS,
                {
                    "instruments": {
                        p.name: sorted(i.instrument_id for i in p.instruments()) for p in providers
                    }
                },
            )
        },
    )
    return app


def _live_provider(fetcher: UnifiedFetcher, settings: IngestSettings) -> BarProvider:
    """``SEXTANT_INGEST_LIVE_PROVIDER``, refused at start when it has no live feed."""
    provider = fetcher.bar_provider(settings.ingest_live_provider)
    if not provider.has_live:
        raise ValueError(
            f"SEXTANT_INGEST_LIVE_PROVIDER={settings.ingest_live_provider!r} has no live feed "
            "(the simulated market has one); or set SEXTANT_INGEST_LIVE=false"
        )
    return provider


@contextlib.asynccontextmanager
async def _run_chain_feed(fetcher: UnifiedFetcher, settings: IngestSettings) -> AsyncIterator[None]:
    """Simulated option chains on a slow period (see :mod:`sextant_ingest.option_chains`) while
    the context is open; nothing when the period is 0 or the simulated market is not loaded."""
    period = settings.ingest_option_chains_period_s
    if period <= 0 or SIMULATED not in fetcher.registry.providers:
        yield
        return
    feed = run_chain_feed(fetcher, simulated_underlyings(fetcher), period)
    async with _background(feed, "option-chains", lambda: None):
        yield


@contextlib.asynccontextmanager
async def _run_worker(
    settings: IngestSettings,
    providers: list[BarProvider],
    live_provider: BarProvider | None,
    state: dict[str, object],
) -> AsyncIterator[None]:
    """Backfill then live bars in a background task for as long as the context is open."""
    await ensure_topics(settings)
    async with EventProducer(settings.require_bootstrap()) as producer:
        worker = IngestWorker(
            BarPublisher(producer),
            providers,
            history_days=settings.ingest_history_days,
            live_provider=live_provider,
            live_interval=settings.ingest_live_interval,
        )
        state["status"] = worker.status
        async with _background(worker.run(), "ingest-worker", lambda: state.update(failed=True)):
            yield


@contextlib.asynccontextmanager
async def _background(
    work: Coroutine[Any, Any, None], name: str, on_failure: Callable[[], None]
) -> AsyncIterator[None]:
    """Run ``work`` as a task named ``name`` while the context is open; if it fails, log it
    and call ``on_failure``; cancel it on exit."""
    task = asyncio.create_task(work, name=name)

    def on_done(done: asyncio.Task[None]) -> None:
        if not done.cancelled() and done.exception() is not None:
            on_failure()
            log.error("%s stopped", name, exc_info=done.exception())

    task.add_done_callback(on_done)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
