"""The lake's bar consumer: ``md.bars.v1`` -> Parquet, offsets committed only after fsync.

This loop uses aiokafka directly rather than a FastStream subscriber because durability needs
control FastStream does not expose: bars are buffered across fetches, flushed to Parquet when the
buffer is large or old, and only then are the consumed offsets committed. A crash between flush
and commit redelivers bars the writer already holds; its natural-key check drops them, so the lake
ends up with every bar exactly once. Records that fail validation go to ``dlq.v1`` before commit.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, ConsumerRecord
from prometheus_client import Counter, Histogram
from pydantic import ValidationError

from sextant_common import topics
from sextant_common.events import Bar, DeadLetter
from sextant_datasets.lake.writer import LakeWriter

log = logging.getLogger(__name__)

BARS_WRITTEN = Counter("sextant_lake_bars_written_total", "Bars appended to the lake")
BARS_DUPLICATE = Counter("sextant_lake_bars_duplicate_total", "Redelivered bars already stored")
DEAD_LETTERS = Counter("sextant_dead_letters_total", "Records sent to the DLQ", ["topic"])
FLUSH_SECONDS = Histogram("sextant_lake_flush_seconds", "Time to flush one buffer to Parquet")


class BarSink:
    """Consumes bars in a consumer group and appends them durably to the lake."""

    def __init__(
        self,
        *,
        bootstrap: str,
        group_id: str,
        writer: LakeWriter,
        flush_rows: int,
        flush_seconds: float,
        on_flush: Callable[[], None] = lambda: None,
    ) -> None:
        self._bootstrap = bootstrap
        self._group_id = group_id
        self._writer = writer
        self._flush_rows = flush_rows
        self._flush_seconds = flush_seconds
        self._on_flush = on_flush
        self._buffer: list[Bar] = []
        self._oldest: float | None = None
        self._lock = asyncio.Lock()
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self.running = False

    async def run(self) -> None:
        """Consume until cancelled; flush and commit what is buffered on the way out."""
        self._producer = AIOKafkaProducer(bootstrap_servers=self._bootstrap, linger_ms=5)
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=self._group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        self._consumer.subscribe([topics.MD_BARS], listener=_FlushOnRevoke(self))
        await self._producer.start()
        await self._consumer.start()
        self.running = True
        try:
            while True:
                fetched = await self._consumer.getmany(timeout_ms=200, max_records=10_000)
                records = [r for batch in fetched.values() for r in batch]
                await self._accept(records)
        finally:
            self.running = False
            await self._flush_and_commit()
            await self._consumer.stop()
            await self._producer.stop()

    async def _accept(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        dead: list[DeadLetter] = []
        for record in records:
            try:
                bar = Bar.model_validate_json(record.value or b"")
            except (ValidationError, ValueError) as exc:
                dead.append(_dead_letter(record, self._group_id, exc))
                continue
            if self._oldest is None:
                self._oldest = time.monotonic()
            self._buffer.append(bar)
        if dead:
            await self._send_dead_letters(dead)
        if self._flush_due(idle=not records):
            await self._flush_and_commit()

    def _flush_due(self, *, idle: bool) -> bool:
        """Flush when the buffer is full or old; with nothing buffered, commit what was consumed
        (dead letters only) but do not commit on an idle poll."""
        if not self._buffer:
            return not idle
        age = time.monotonic() - (self._oldest or 0.0)
        return len(self._buffer) >= self._flush_rows or age >= self._flush_seconds

    async def _send_dead_letters(self, dead: list[DeadLetter]) -> None:
        assert self._producer is not None
        sends = [
            await self._producer.send(topics.DLQ, letter.to_bytes(), key=letter.topic.encode())
            for letter in dead
        ]
        await asyncio.gather(*sends)
        for letter in dead:
            DEAD_LETTERS.labels(letter.topic).inc()
            log.warning(
                "dead-lettered record",
                extra={"topic": letter.topic, "offset": letter.offset, "error": letter.error[:300]},
            )

    async def _flush_and_commit(self) -> None:
        """Write the buffer to Parquet (in a thread), then commit the consumed offsets."""
        async with self._lock:
            if self._buffer:
                batch, self._buffer, self._oldest = self._buffer, [], None
                started = time.perf_counter()
                result = await asyncio.to_thread(self._writer.write, batch)
                FLUSH_SECONDS.observe(time.perf_counter() - started)
                BARS_WRITTEN.inc(result.written)
                BARS_DUPLICATE.inc(result.duplicates)
                self._on_flush()
            if self._consumer is not None and self._consumer.assignment():
                await self._consumer.commit()


class _FlushOnRevoke(ConsumerRebalanceListener):
    """Before partitions move to another group member, make what we consumed durable."""

    def __init__(self, sink: BarSink) -> None:
        self._sink = sink

    async def on_partitions_revoked(self, revoked: object) -> None:
        await self._sink._flush_and_commit()

    async def on_partitions_assigned(self, assigned: object) -> None:
        return None


def _dead_letter(record: ConsumerRecord[bytes, bytes], consumer: str, exc: Exception) -> DeadLetter:
    return DeadLetter.for_record(
        topic=record.topic or topics.MD_BARS,
        partition=record.partition or 0,
        offset=record.offset or 0,
        consumer=consumer,
        error=f"{exc.__class__.__name__}: {exc}",
        raw=record.value or b"",
    )
