"""Publishing bars on ``md.bars.v1`` through the shared :class:`EventProducer`, keyed by
instrument id (one instrument stays in one partition, in order), counted per source."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

from prometheus_client import Counter

from sextant_common.events import Bar
from sextant_common.producer import EventProducer

BARS_PUBLISHED = Counter("sextant_ingest_bars_published_total", "Bars published", ["source"])


class BarPublisher:
    """Publishes bars in per-partition batches (a backfill stream or one live tick)."""

    def __init__(self, producer: EventProducer) -> None:
        self._producer = producer

    async def publish_stream(self, bars: AsyncIterable[Bar]) -> int:
        """Publish every bar of ``bars`` as fast as the broker takes them; return the count.

        Returns only after the broker acknowledged every bar.
        """
        return await self._producer.publish_stream(_counted(bars))


async def _counted(bars: AsyncIterable[Bar]) -> AsyncIterator[Bar]:
    async for bar in bars:
        BARS_PUBLISHED.labels(bar.source).inc()
        yield bar
