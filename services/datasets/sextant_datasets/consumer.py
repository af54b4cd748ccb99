"""The lake's consumers: topic -> Parquet, offsets committed only after fsync.

:class:`DurableSink` is the loop every lake consumer shares; :class:`BarSink` keeps
``md.bars.v1`` (and :mod:`sextant_datasets.facts.sink` the fetched datasets). This loop uses
aiokafka directly rather than a FastStream subscriber because durability needs control
FastStream does not expose: records are buffered across fetches, flushed to Parquet when the
buffer is large or old, and only then are the offsets of exactly those records committed. A crash
between flush and commit redelivers bars the writer already holds; its natural-key check drops
them, so the lake ends up with every record exactly once. Records that fail validation, and valid
bars the :class:`~sextant_datasets.admission.BarAdmission` refuses (unregistered source, dated
in the future), go to ``dlq.v1`` with their original key and headers before their offsets are
committed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeAlias, TypeVar

from aiokafka import (
    AIOKafkaConsumer,
    AIOKafkaProducer,
    ConsumerRebalanceListener,
    ConsumerRecord,
    TopicPartition,
)
from aiokafka.errors import KafkaError
from prometheus_client import Counter, Histogram
from pydantic import ValidationError

from sextant_common import topics
from sextant_common.events import Bar, DeadLetter
from sextant_datasets.admission import BarAdmission
from sextant_datasets.lake.writer import LakeWriter

log = logging.getLogger(__name__)

BARS_WRITTEN = Counter("sextant_lake_bars_written_total", "Bars appended to the lake")
BARS_DUPLICATE = Counter("sextant_lake_bars_duplicate_total", "Redelivered bars already stored")
DEAD_LETTERS = Counter("sextant_dead_letters_total", "Records sent to the DLQ", ["topic"])
BARS_REFUSED = Counter(
    "sextant_lake_bars_refused_total", "Valid bars refused (unknown source, future date)"
)
FLUSH_SECONDS = Histogram("sextant_lake_flush_seconds", "Time to flush one buffer to Parquet")


FETCH_RECORDS = 10_000
"""Most records taken per poll; a smaller poll means the consumer has caught up."""


@dataclass(frozen=True)
class FlushPolicy:
    """When buffered bars go to Parquet.

    Each flush writes one file per touched partition, so bigger flushes mean fewer, larger files:
    while catching up on a backlog the buffer grows to ``rows`` (or ``max_seconds`` of age);
    once caught up, bars wait at most ``seconds``.
    """

    rows: int = 100_000
    seconds: float = 0.5
    max_seconds: float = 5.0

    def due(self, buffered: int, age_s: float, *, caught_up: bool) -> bool:
        """Whether a buffer of ``buffered`` bars, the oldest ``age_s`` old, should flush now."""
        if buffered >= self.rows or age_s >= self.max_seconds:
            return True
        return caught_up and age_s >= self.seconds


T = TypeVar("T")

Parsed: TypeAlias = T | str
"""What :meth:`DurableSink.parse` makes of one record: the item to store, or why it is refused."""


class DurableSink(Generic[T]):
    """Consumes ``topics`` in a consumer group and stores their records durably.

    A subclass says how records become items (:meth:`parse`; a refusal dead-letters the record)
    and how a batch of items is made durable (:meth:`store`, run in a worker thread). Flushes
    run in the background while consumption goes on, one at a time so commits stay in order;
    while a flush is running the next buffer grows (bigger files), and consumption pauses only
    when that buffer is full.
    """

    def __init__(
        self,
        *,
        bootstrap: str,
        group_id: str,
        topics: Sequence[str],
        flush: FlushPolicy,
        on_flush: Callable[[], None] = lambda: None,
    ) -> None:
        self._bootstrap = bootstrap
        self._group_id = group_id
        self._topics = list(topics)
        self._flush = flush
        self._on_flush = on_flush
        self._buffer: list[T] = []
        self._offsets: dict[TopicPartition, int] = {}
        """Next offset to commit per partition once the buffer is durable."""
        self._oldest: float | None = None
        self._inflight: asyncio.Task[None] | None = None
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
        self._consumer.subscribe(self._topics, listener=_FlushOnRevoke(self))
        await self._producer.start()
        await self._consumer.start()
        self.running = True
        try:
            while True:
                fetched = await self._consumer.getmany(timeout_ms=200, max_records=FETCH_RECORDS)
                records = [r for batch in fetched.values() for r in batch]
                await self._accept(records)
        finally:
            self.running = False
            await self.drain()
            await self._consumer.stop()
            await self._producer.stop()

    def parse(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> list[Parsed[T]]:
        """One item or refusal reason per record, in order (called once per fetch)."""
        raise NotImplementedError

    def store(self, batch: list[T]) -> None:
        """Make ``batch`` durable (idempotently: a redelivered item must not be stored twice)."""
        raise NotImplementedError

    async def _accept(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        items: list[T] = []
        dead: list[DeadLetter] = []
        for record, parsed in zip(records, self.parse(records), strict=True):
            if isinstance(parsed, str):
                dead.append(_dead_letter(record, self._group_id, parsed))
            else:
                items.append(parsed)
        if dead:
            await self._send_dead_letters(dead)  # before their offsets can be committed
        if items and self._oldest is None:
            self._oldest = time.monotonic()
        self._buffer.extend(items)
        for record in records:
            self._offsets[TopicPartition(record.topic, record.partition)] = record.offset + 1
        if not self._offsets:
            return
        if not self._buffer:  # only dead letters: commit past them
            await self._start_flush()
            return
        busy = self._inflight is not None and not self._inflight.done()
        age = time.monotonic() - (self._oldest or 0.0)
        caught_up = len(records) < FETCH_RECORDS
        if self._flush.due(len(self._buffer), age, caught_up=caught_up) and (
            not busy or len(self._buffer) >= self._flush.rows
        ):
            await self._start_flush()

    async def _start_flush(self) -> None:
        """Hand the buffer and its offsets to a background flush (after the previous one)."""
        if self._inflight is not None:
            await self._inflight  # re-raises a failed write: the service must not go on
        batch, offsets = self._buffer, self._offsets
        self._buffer, self._offsets, self._oldest = [], {}, None
        self._inflight = asyncio.create_task(self._write_and_commit(batch, offsets))

    async def drain(self) -> None:
        """Flush everything consumed so far and wait until it is durable and committed."""
        if self._buffer or self._offsets:
            await self._start_flush()
        if self._inflight is not None:
            await self._inflight

    async def _write_and_commit(self, batch: list[T], offsets: dict[TopicPartition, int]) -> None:
        if batch:
            started = time.perf_counter()
            await asyncio.to_thread(self.store, batch)
            FLUSH_SECONDS.observe(time.perf_counter() - started)
            self._on_flush()
        if offsets and self._consumer is not None:
            try:
                await self._consumer.commit(offsets)
            except KafkaError as exc:
                # Partitions moved away mid-flush: the data is durable; the new owner re-reads
                # from the last commit and the natural-key check drops what we already wrote.
                log.warning("offset commit failed", extra={"error": str(exc)})

    async def _send_dead_letters(self, dead: list[DeadLetter]) -> None:
        assert self._producer is not None
        sends = [
            await self._producer.send(
                topics.DLQ, letter.to_bytes(), key=letter.key, headers=letter.record_headers()
            )
            for letter in dead
        ]
        await asyncio.gather(*sends)
        for letter in dead:
            DEAD_LETTERS.labels(letter.topic).inc()
            log.warning(
                "dead-lettered record",
                extra={"topic": letter.topic, "offset": letter.offset, "error": letter.error[:300]},
            )


class BarSink(DurableSink[Bar]):
    """Consumes ``md.bars.v1`` and appends the bars its admission accepts to the lake."""

    def __init__(
        self,
        *,
        bootstrap: str,
        group_id: str,
        writer: LakeWriter,
        flush: FlushPolicy,
        admission: BarAdmission,
        on_flush: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__(
            bootstrap=bootstrap,
            group_id=group_id,
            topics=[topics.MD_BARS],
            flush=flush,
            on_flush=on_flush,
        )
        self._writer = writer
        self._admission = admission

    def parse(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> list[Parsed[Bar]]:
        admit = self._admission.checker(datetime.now(UTC))
        parsed: list[Parsed[Bar]] = []
        for record in records:
            try:
                bar = Bar.model_validate_json(record.value or b"")
            except (ValidationError, ValueError) as exc:
                parsed.append(f"{type(exc).__name__}: {exc}")
                continue
            refusal = admit.refusal(bar)
            if refusal is None:
                parsed.append(bar)
            else:
                BARS_REFUSED.inc()
                parsed.append(f"refused: {refusal}")
        return parsed

    def store(self, batch: list[Bar]) -> None:
        result = self._writer.write(batch)
        BARS_WRITTEN.inc(result.written)
        BARS_DUPLICATE.inc(result.duplicates)


class _FlushOnRevoke(ConsumerRebalanceListener):
    """Before partitions move to another group member, make what we consumed durable."""

    def __init__(self, sink: DurableSink[Any]) -> None:
        self._sink = sink

    async def on_partitions_revoked(self, revoked: object) -> None:
        await self._sink.drain()

    async def on_partitions_assigned(self, assigned: object) -> None:
        return None


def _dead_letter(record: ConsumerRecord[bytes, bytes], consumer: str, error: str) -> DeadLetter:
    return DeadLetter.for_record(
        topic=record.topic or topics.MD_BARS,
        partition=record.partition or 0,
        offset=record.offset or 0,
        consumer=consumer,
        error=error,
        raw=record.value or b"",
        key=record.key,
        headers=list(record.headers or ()),
    )
