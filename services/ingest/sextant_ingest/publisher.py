"""Publishing bars on ``md.bars.v1``, keyed by instrument id so each instrument stays ordered.

Backfills go out as per-partition batches: the partition of each bar is the one Kafka's default
partitioner gives its key (murmur2), so batched and single publishes of one instrument land in
the same partition and stay in order.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterable

from aiokafka.partitioner import murmur2
from faststream.kafka import KafkaBroker, KafkaPublishMessage
from prometheus_client import Counter

from sextant_common import topics
from sextant_common.events import Bar

BARS_PUBLISHED = Counter("sextant_ingest_bars_published_total", "Bars published", ["source"])

BATCH_MESSAGES = 1_000
"""Bars per batch (~300 KB, under the broker's 1 MB batch size)."""
IN_FLIGHT_BATCHES = 16
"""Unacknowledged batches allowed before waiting; bounds memory while keeping the pipe full."""


def partition_for(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner assigns to ``key``."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


class BarPublisher:
    """Publishes bars in per-partition batches (a backfill stream or one live tick)."""

    def __init__(self, broker: KafkaBroker, partitions: int) -> None:
        if partitions < 1:
            raise ValueError(f"partitions must be >= 1, got {partitions}")
        self._partitions = partitions
        self._batch = broker.publisher(topics.MD_BARS, batch=True, include_in_schema=False)

    async def publish_stream(self, bars: AsyncIterable[Bar]) -> int:
        """Publish every bar of ``bars`` as fast as the broker takes them; return the count.

        Returns only after the broker acknowledged every batch.
        """
        pending: dict[int, list[KafkaPublishMessage]] = defaultdict(list)
        in_flight: list[asyncio.Future[object]] = []
        count = 0
        async for bar in bars:
            partition = partition_for(bar.key, self._partitions)
            batch = pending[partition]
            batch.append(KafkaPublishMessage(bar.to_bytes(), key=bar.key))
            BARS_PUBLISHED.labels(bar.source).inc()
            count += 1
            if len(batch) >= BATCH_MESSAGES:
                in_flight.append(await self._send(partition, batch))
                pending[partition] = []
                if len(in_flight) >= IN_FLIGHT_BATCHES:
                    await asyncio.gather(*in_flight)
                    in_flight.clear()
        for partition, batch in pending.items():
            if batch:
                in_flight.append(await self._send(partition, batch))
        await asyncio.gather(*in_flight)
        return count

    async def _send(
        self, partition: int, batch: list[KafkaPublishMessage]
    ) -> asyncio.Future[object]:
        future: asyncio.Future[object] = await self._batch.publish(
            *batch, partition=partition, no_confirm=True
        )
        return future
