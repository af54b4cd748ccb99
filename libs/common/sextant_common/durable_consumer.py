"""The durable batch consumer: buffer records, make them durable, then commit exactly their
offsets.

A subclass of :class:`DurableConsumer` says how one fetch's records become a chunk to store
(:meth:`~DurableConsumer.parse`: a list of events, an Arrow table, whatever its store takes; each
refused record goes to ``dlq.v1`` with its topic, partition, offset, the reason, its raw bytes,
original key and headers) and how the chunks of a flush are made durable
(:meth:`~DurableConsumer.store`, run in a worker thread, idempotent on the rows' natural key).
Records are buffered across fetches and flushed when the buffer is large or old
(:class:`FlushPolicy`); only after a flush is durable are the offsets of exactly the records in
it committed. kill -9 at any point: the records after the last commit are read again, and the
store's natural-key check drops what it already holds, so every record ends up stored once.
Dead letters are acknowledged by the broker before the offsets past them are committed.

Raw aiokafka rather than a FastStream subscriber: a FastStream subscriber acknowledges per
message or per fetched batch, while durability here needs offsets committed only after a flush
that spans many fetches (and a flush before partitions move to another group member).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeAlias, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from prometheus_client import Counter, Histogram

from sextant_common import kafka_security
from sextant_common.bus_metrics import ConsumerMetrics
from sextant_common.events import DeadLetter
from sextant_common.producer import EventProducer

log = logging.getLogger(__name__)

DEAD_LETTERS = Counter("sextant_dead_letters_total", "Records sent to the DLQ", ["topic"])
FLUSH_SECONDS = Histogram(
    "sextant_consumer_flush_seconds", "Time to make one buffer durable", ["group"]
)

FETCH_RECORDS = 10_000
"""Most records taken per poll; a smaller poll means the consumer has caught up."""

Record: TypeAlias = ConsumerRecord[bytes, bytes]


@dataclass(frozen=True)
class FlushPolicy:
    """When buffered items are made durable.

    While catching up on a backlog the buffer grows to ``rows`` (or ``max_seconds`` of age:
    bigger flushes, fewer and larger files); once caught up, items wait at most ``seconds``.
    """

    rows: int = 100_000
    seconds: float = 0.5
    max_seconds: float = 5.0

    def due(self, buffered: int, age_s: float, *, caught_up: bool) -> bool:
        """Whether a buffer of ``buffered`` items, the oldest ``age_s`` old, should flush now."""
        if buffered >= self.rows or age_s >= self.max_seconds:
            return True
        return caught_up and age_s >= self.seconds


C = TypeVar("C")
T = TypeVar("T")


@dataclass(frozen=True)
class Parsed(Generic[C]):
    """What :meth:`DurableConsumer.parse` makes of one fetch."""

    chunk: C | None
    """What to store (None: nothing)."""
    rows: int
    """How many items ``chunk`` holds (what :class:`FlushPolicy` counts)."""
    refused: list[tuple[Record, str]]
    """Records to dead-letter, each with the reason."""


def sorted_out(records: Sequence[Record], results: Sequence[T | str]) -> Parsed[list[T]]:
    """A :class:`Parsed` chunk of the items among ``results`` (one per record, in order; a
    string is the reason that record is refused)."""
    items: list[T] = []
    refused: list[tuple[Record, str]] = []
    for record, result in zip(records, results, strict=True):
        if isinstance(result, str):
            refused.append((record, result))
        else:
            items.append(result)
    return Parsed(items or None, len(items), refused)


class DurableConsumer(Generic[C]):
    """Consumes ``topics`` in consumer group ``group_id`` and stores their records durably.

    Flushes run in the background while consumption goes on, one at a time so commits stay in
    order; while a flush runs the next buffer grows, and consumption pauses only when that
    buffer is full.
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
        self._buffer: list[C] = []
        self._rows = 0
        self._offsets: dict[TopicPartition, int] = {}
        """Next offset to commit per partition once the buffer is durable."""
        self._oldest: float | None = None
        self._inflight: asyncio.Task[None] | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: EventProducer | None = None
        self._metrics = ConsumerMetrics(group_id)
        self.running = False

    async def run(self) -> None:
        """Consume until cancelled; flush and commit what is buffered on the way out."""
        self._producer = EventProducer(self._bootstrap)
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            **kafka_security.client_options(),
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
                self._metrics.fetched(self._consumer, fetched)
                records = [r for batch in fetched.values() for r in batch]
                await self._accept(records)
        finally:
            self.running = False
            await self.drain()
            await self._consumer.stop()
            await self._producer.stop()

    def parse(self, records: Sequence[Record]) -> Parsed[C]:
        """The chunk to store from one fetch's ``records`` and the ones refused."""
        raise NotImplementedError

    def store(self, chunks: list[C]) -> None:
        """Make ``chunks`` durable (idempotently: a redelivered row must not be stored twice)."""
        raise NotImplementedError

    async def _accept(self, records: list[Record]) -> None:
        parsed = self.parse(records) if records else Parsed(None, 0, [])
        if parsed.refused:
            dead = [dead_letter(r, self._group_id, reason) for r, reason in parsed.refused]
            await self._send_dead_letters(dead)  # before their offsets can be committed
        if parsed.chunk is not None:
            if self._oldest is None:
                self._oldest = time.monotonic()
            self._buffer.append(parsed.chunk)
            self._rows += parsed.rows
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
        if self._flush.due(self._rows, age, caught_up=caught_up) and (
            not busy or self._rows >= self._flush.rows
        ):
            await self._start_flush()

    async def _start_flush(self) -> None:
        """Hand the buffer and its offsets to a background flush (after the previous one)."""
        if self._inflight is not None:
            await self._inflight  # re-raises a failed write: the service must not go on
        batch, offsets = self._buffer, self._offsets
        self._buffer, self._rows, self._offsets, self._oldest = [], 0, {}, None
        self._inflight = asyncio.create_task(self._write_and_commit(batch, offsets))

    async def drain(self) -> None:
        """Flush everything consumed so far and wait until it is durable and committed."""
        if self._buffer or self._offsets:
            await self._start_flush()
        if self._inflight is not None:
            await self._inflight

    async def _write_and_commit(self, batch: list[C], offsets: dict[TopicPartition, int]) -> None:
        if batch:
            started = time.perf_counter()
            await asyncio.to_thread(self.store, batch)
            FLUSH_SECONDS.labels(self._group_id).observe(time.perf_counter() - started)
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
        await send_dead_letters(self._producer, dead)


class _FlushOnRevoke(ConsumerRebalanceListener):
    """Before partitions move to another group member, make what we consumed durable."""

    def __init__(self, consumer: DurableConsumer[Any]) -> None:
        self._consumer = consumer

    async def on_partitions_revoked(self, revoked: object) -> None:
        await self._consumer.drain()

    async def on_partitions_assigned(self, assigned: object) -> None:
        return None


def dead_letter(record: Record, consumer: str, error: str) -> DeadLetter:
    """The dead letter of ``record`` that ``consumer`` refused for ``error``."""
    return DeadLetter.for_record(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        consumer=consumer,
        error=error,
        raw=record.value or b"",
        key=record.key,
        headers=list(record.headers or ()),
    )


async def send_dead_letters(producer: EventProducer, letters: list[DeadLetter]) -> None:
    """Publish ``letters`` to ``dlq.v1`` and wait for the acks; count and log each."""
    await producer.publish(letters)
    for letter in letters:
        DEAD_LETTERS.labels(letter.topic).inc()
        log.warning(
            "dead-lettered record",
            extra={"topic": letter.topic, "offset": letter.offset, "error": letter.error[:300]},
        )
