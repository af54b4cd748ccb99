"""Publishing bars on ``md.bars.v1``, keyed by instrument id so each instrument stays ordered."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable

from faststream.kafka import KafkaBroker
from prometheus_client import Counter

from sextant_common import topics
from sextant_common.events import Bar

BARS_PUBLISHED = Counter("sextant_ingest_bars_published_total", "Bars published", ["source"])

IN_FLIGHT = 2_000
"""Unacknowledged sends allowed before waiting; bounds memory while keeping the pipe full."""


class BarPublisher:
    """Publishes bars without waiting for each ack, but never returns before all are acked."""

    def __init__(self, broker: KafkaBroker) -> None:
        self._publisher = broker.publisher(
            topics.MD_BARS,
            title="md.bars.v1",
            description="Normalized OHLCV bars, key = instrument id",
            schema=Bar,
        )

    async def publish_one(self, bar: Bar) -> None:
        """Publish one bar and wait for the broker's ack."""
        await self._publisher.publish(bar.to_bytes(), key=bar.key)
        BARS_PUBLISHED.labels(bar.source).inc()

    async def publish_stream(self, bars: AsyncIterable[Bar]) -> int:
        """Publish every bar of ``bars`` as fast as the broker takes them; return the count."""
        pending: list[asyncio.Future[object]] = []
        count = 0
        async for bar in bars:
            pending.append(
                await self._publisher.publish(bar.to_bytes(), key=bar.key, no_confirm=True)
            )
            BARS_PUBLISHED.labels(bar.source).inc()
            count += 1
            if len(pending) >= IN_FLIGHT:
                await asyncio.gather(*pending)
                pending.clear()
        if pending:
            await asyncio.gather(*pending)
        return count
