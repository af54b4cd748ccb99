"""The ingest worker: backfill each provider's history, then stream live bars."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sextant_common.events import Bar, Interval
from sextant_ingest.providers.base import BarProvider, BarQuery
from sextant_ingest.publisher import BarPublisher

log = logging.getLogger(__name__)

FULL_HISTORY_START = datetime(1900, 1, 1, tzinfo=UTC)


@dataclass
class WorkerStatus:
    """What the worker has done so far (served on ``/health``)."""

    backfilled: dict[str, int] = field(default_factory=dict)
    backfill_done: bool = False
    live_bars: int = 0


def backfill_query(provider: BarProvider, history_days: int, now: datetime) -> BarQuery:
    """The daily history to backfill: everything for a ``full_history`` provider, else the last
    ``history_days``."""
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    start = FULL_HISTORY_START if provider.full_history else today - timedelta(days=history_days)
    return BarQuery(interval=Interval.D1, start=start, end=today)


class IngestWorker:
    """Publishes the history of ``providers`` then the live feed of ``live_provider``."""

    def __init__(
        self,
        publisher: BarPublisher,
        providers: Sequence[BarProvider],
        *,
        history_days: int,
        live_provider: BarProvider | None,
        live_interval: Interval,
    ) -> None:
        self._publisher = publisher
        self._providers = providers
        self._history_days = history_days
        self._live_provider = live_provider
        self._live_interval = live_interval
        self.status = WorkerStatus()

    async def run(self) -> None:
        """Backfill every provider, then stream live bars until cancelled."""
        for provider in self._providers:
            query = backfill_query(provider, self._history_days, datetime.now(UTC))
            started = time.perf_counter()
            count = await self._publisher.publish_stream(provider.history(query))
            elapsed = time.perf_counter() - started
            self.status.backfilled[provider.name] = count
            log.info(
                "backfill published",
                extra={"provider": provider.name, "bars": count, "seconds": round(elapsed, 2)},
            )
        self.status.backfill_done = True
        if self._live_provider is None:
            return
        log.info("streaming live bars", extra={"interval": self._live_interval.value})
        async for tick in ticks(self._live_provider.live(self._live_interval)):
            # One batch per partition per tick, not one per bar: the embedded broker keeps every
            # stored batch and each fetch lists them all (bench/broker_soak.py), so fewer, larger
            # batches keep its CPU growth ~an order of magnitude slower.
            self.status.live_bars += await self._publisher.publish_stream(_each(tick))


async def ticks(bars: AsyncIterator[Bar]) -> AsyncIterator[list[Bar]]:
    """Group ``bars`` into the runs that arrive together: every bar already produced when the
    first of a run is taken (a live provider yields a whole boundary's bars without waiting)."""
    queue: asyncio.Queue[Bar] = asyncio.Queue()

    async def pump() -> None:
        async for bar in bars:
            queue.put_nowait(bar)

    producer = asyncio.create_task(pump(), name="live-bars")
    try:
        while True:
            first = asyncio.ensure_future(queue.get())
            await asyncio.wait({first, producer}, return_when=asyncio.FIRST_COMPLETED)
            if not first.done():
                first.cancel()
                producer.result()  # re-raises the provider's error
                return  # the provider ended
            run = [first.result()]
            while not queue.empty():
                run.append(queue.get_nowait())
            yield run
    finally:
        producer.cancel()


async def _each(bars: list[Bar]) -> AsyncIterator[Bar]:
    for bar in bars:
        yield bar
