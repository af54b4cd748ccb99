"""Builds the datasets service: its consumer tasks (bars, dead letters, fetched datasets) and
the FastAPI query app."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI

from sextant_common import topics
from sextant_common.content_type import RequireJsonContentType
from sextant_common.durable_consumer import FlushPolicy
from sextant_common.http_errors import install_error_handlers
from sextant_common.telemetry import CaughtUp, add_health_and_metrics
from sextant_common.versioned_cache import VersionedCache
from sextant_datasets.admission import BarAdmission
from sextant_datasets.api.routes import bars, dlq, facts, instruments, panel, snapshots, storage
from sextant_datasets.catalog import Catalog, CatalogedWriter
from sextant_datasets.consumer import BarSink
from sextant_datasets.dlq.keeper import DeadLetterKeeper
from sextant_datasets.dlq.store import DeadLetterStore
from sextant_datasets.facts.sink import FactSink
from sextant_datasets.facts.store import FactReader, FactWriter
from sextant_datasets.lake.reader import LakeReader
from sextant_datasets.options import routes as option_routes
from sextant_datasets.options.sink import option_sink
from sextant_datasets.settings import DatasetsSettings

log = logging.getLogger(__name__)


def build_app(settings: DatasetsSettings | None = None) -> FastAPI:
    """The datasets FastAPI app; its lifespan runs the lake's consumers."""
    settings = settings or DatasetsSettings()
    settings.lake_dir.mkdir(parents=True, exist_ok=True)
    reader = LakeReader(settings.lake_dir)
    catalog = Catalog(reader)
    sink = BarSink(
        bootstrap=settings.require_bootstrap(),
        group_id=settings.datasets_group,
        writer=CatalogedWriter(settings.lake_dir, catalog),
        flush=FlushPolicy(
            settings.lake_flush_rows, settings.lake_flush_seconds, settings.lake_flush_max_seconds
        ),
        admission=BarAdmission.build(settings.extra_sources, settings.clock_skew_s),
    )
    dead_letters = DeadLetterStore(settings.dlq_path)
    keeper = DeadLetterKeeper(
        bootstrap=settings.require_bootstrap(),
        group_id=settings.dead_letter_group,
        store=dead_letters,
    )
    fact_sink = FactSink(
        bootstrap=settings.require_bootstrap(),
        group_id=f"{settings.datasets_group}.facts",
        writer=FactWriter(settings.lake_dir),
    )
    options = option_sink(settings)
    consumers = {
        "bar-sink": sink.run,
        "dlq-keeper": keeper.run,
        "fact-sink": fact_sink.run,
        "option-sink": options.run,
    }

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(run(), name=name) for name, run in consumers.items()]
        for task in tasks:
            task.add_done_callback(_log_crash)
        yield
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app = FastAPI(title="Sextant datasets", version="0.1.0", lifespan=lifespan)
    app.add_middleware(RequireJsonContentType)  # 415 for non-JSON POSTs
    install_error_handlers(app)
    app.state.reader = reader
    app.state.catalog = catalog
    app.state.dead_letters = dead_letters
    app.state.settings = settings
    app.state.fact_reader = FactReader(settings.lake_dir)
    app.state.response_cache = VersionedCache[tuple[bytes, str]](
        ttl_s=30.0, name="datasets_responses"
    )
    app.include_router(bars.router)
    app.include_router(instruments.router)
    app.include_router(snapshots.router)
    app.include_router(storage.router)
    app.include_router(dlq.router)
    app.include_router(facts.router)
    app.include_router(option_routes.chain_router(settings.lake_dir))
    app.include_router(panel.router)  # internal: not mounted at the gateway
    add_health_and_metrics(
        app,
        "datasets",
        {
            "bar_consumer": lambda: sink.running,
            "dlq_keeper": lambda: keeper.running,
            "fact_consumer": lambda: fact_sink.running,
            "option_consumer": lambda: options.running,
        },
        {
            "lake_caught_up": CaughtUp(
                settings.require_bootstrap(), topics.MD_BARS, settings.datasets_group
            )
        },
    )
    return app


def _log_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("consumer %s stopped", task.get_name(), exc_info=task.exception())
