"""The broadcast tail consumer: no consumer group, every replica sees every message, from the
live end.

For fan-out (the gateway's WebSocket feed): each replica reads every partition of its topics,
starting at the end when it starts (what was published before is not its business; the lake
keeps it), and commits nothing. Its handler gets each fetch's records, partition order kept,
and returns the ones it refuses with the reason; those go to ``dlq.v1`` (with topic, partition,
offset, raw bytes, key and headers) under the consumer's ``name``. A handler refuses only records
of topics no durable consumer keeps: with several replicas each sends the same dead letter, and
the DLQ store keeps one per (topic, partition, offset, consumer).

With a ``group_id`` the replicas share the partitions instead (each key is read by one
replica, which can keep per-key state) and the group's offsets are committed every second, so a
restart resumes where the group stopped; a new group still starts at the live end. For derived,
recomputable streams (the quant service's live analytics), not for anything that must be stored.

Raw aiokafka rather than a FastStream subscriber: the handler needs each fetch as one batch with
a 5 ms fetch wait, so it can spread a burst over its clients' queues; the gateway's fan-out
latency (``bench/ws_fanout.py``) was measured on this loop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from aiokafka import AIOKafkaConsumer

from sextant_common import kafka_security
from sextant_common.bus_metrics import ConsumerMetrics
from sextant_common.durable_consumer import Record, dead_letter, send_dead_letters
from sextant_common.producer import EventProducer

Refusals = Sequence[tuple[Record, str]]
Handler = Callable[[list[Record]], Awaitable[Refusals]]
"""Handles one fetch's records; returns the records to dead-letter, each with its reason."""


class TailConsumer:
    """Reads ``topics`` from their live end (on every replica, or shared by a ``group_id``) and
    hands each fetch to ``handle``."""

    def __init__(
        self,
        *,
        bootstrap: str,
        topics: Sequence[str],
        name: str,
        handle: Handler,
        fetch_max_wait_ms: int = 5,
        max_records: int = 5_000,
        group_id: str | None = None,
    ) -> None:
        self._bootstrap = bootstrap
        self._topics = list(topics)
        self._name = name
        self._handle = handle
        self._fetch_max_wait_ms = fetch_max_wait_ms
        self._max_records = max_records
        self._group_id = group_id
        self.running = False

    async def run(self) -> None:
        """Consume until cancelled."""
        consumer = AIOKafkaConsumer(
            *self._topics,
            bootstrap_servers=self._bootstrap,
            group_id=self._group_id,
            enable_auto_commit=self._group_id is not None,
            **kafka_security.client_options(),
            auto_commit_interval_ms=1_000,
            auto_offset_reset="latest",
            fetch_max_wait_ms=self._fetch_max_wait_ms,  # latency over batching
        )
        metrics = ConsumerMetrics(self._group_id or self._name)
        async with EventProducer(self._bootstrap) as producer:
            await consumer.start()
            self.running = True
            try:
                while True:
                    fetched = await consumer.getmany(timeout_ms=500, max_records=self._max_records)
                    metrics.fetched(consumer, fetched)
                    records = [record for batch in fetched.values() for record in batch]
                    if records:
                        refused = await self._handle(records)
                        if refused:
                            await self._dead_letter(producer, refused)
            finally:
                self.running = False
                await consumer.stop()

    async def _dead_letter(self, producer: EventProducer, refused: Refusals) -> None:
        letters = [dead_letter(record, self._name, reason) for record, reason in refused]
        await send_dead_letters(producer, letters)
