"""The producer every service publishes with.

Each event goes to its declared channel (``type(event).TOPIC``, checked against
:data:`sextant_common.channels.BY_TOPIC`: publishing to an undeclared topic or the wrong model
raises :class:`UndeclaredTopic`), keyed by its ``key`` and partitioned like Kafka's default
partitioner (murmur2 of the key), so batched and single publishes of one key land in one
partition and stay in order. Every record carries the headers the AsyncAPI document declares:

* ``sextant.event_type``: the event model's name (``Bar``);
* ``sextant.schema_version``: the topic's version (``1`` for ``md.bars.v1``; a model's wire
  shape changes only with a new topic version, see ``channels.lock.json``);
* ``traceparent``: W3C trace context naming the publish's PRODUCER span
  (:class:`sextant_common.tracing.ProducerSpans`, one per topic of a publish, a child of the
  current span).

A dead letter's record instead carries its original key and headers followed by
``sextant.dlq.*`` (:meth:`~sextant_common.events.DeadLetter.record_headers`), so it can be
re-published unchanged (:meth:`EventProducer.send_record`).

Raw aiokafka rather than a FastStream publisher: :meth:`EventProducer.publish_stream` builds one
record batch per partition and bounds the batches awaiting acknowledgement, and FastStream's
publisher adds its own ``correlation_id`` and ``content-type`` headers to every record, outside
the declared contract.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Iterable, Sequence
from types import TracebackType
from typing import Final, Self

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.structs import RecordMetadata
from prometheus_client import Counter

from sextant_common import kafka_security, tracecontext, tracing
from sextant_common.channels import BY_TOPIC
from sextant_common.events import DeadLetter, Event

EVENT_TYPE_HEADER: Final = "sextant.event_type"
SCHEMA_VERSION_HEADER: Final = "sextant.schema_version"

COMPRESSION: Final = "lz4"
"""Record batches are LZ4-compressed (every Kafka client decompresses them transparently): the
embedded tansu keeps every batch in memory until it stops, and lz4 holds a 100k-bar backfill in
19 MB of broker memory instead of 42 MB at no measurable cost to publish or consume speed."""
MAX_BATCH_BYTES: Final = 1_048_576
"""Largest record batch (bytes); aiokafka's 16 KB default overflows on stream publishes."""
BATCH_RECORDS: Final = 1_000
"""Records per batch in :meth:`EventProducer.publish_stream` (~300 KB of bars)."""
IN_FLIGHT_BATCHES: Final = 16
"""Unacknowledged batches allowed before waiting: bounds memory, keeps the pipe full."""

EVENTS_PRODUCED = Counter(
    "sextant_events_produced_total", "Records sent to the bus (acknowledged)", ["topic"]
)

Ack = asyncio.Future[RecordMetadata]


class UndeclaredTopic(ValueError):
    """A record for a topic that :mod:`sextant_common.channels` does not declare (or for a
    declared topic with another event model)."""


def partition_for(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner assigns to ``key`` among ``partitions``."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def schema_version(topic: str) -> str:
    """The version number of a versioned topic name (``"1"`` for ``md.bars.v1``)."""
    return topic.rsplit(".v", 1)[1]


def checked_topic(event: Event) -> str:
    """``event``'s topic after checking it is declared for ``event``'s model."""
    channel = BY_TOPIC.get(event.TOPIC)
    if channel is None or not isinstance(event, channel.model):
        raise UndeclaredTopic(
            f"{type(event).__name__} names topic {event.TOPIC!r}, which is not declared for it "
            "in sextant_common.channels"
        )
    return channel.topic


def event_headers(event: Event, traceparent: bytes) -> list[tuple[str, bytes]]:
    """The record headers of ``event`` (see the module docstring)."""
    if isinstance(event, DeadLetter):
        return event.record_headers()
    return [
        (EVENT_TYPE_HEADER, type(event).__name__.encode()),
        (SCHEMA_VERSION_HEADER, schema_version(event.TOPIC).encode()),
        (tracecontext.HEADER, traceparent),
    ]


class EventProducer:
    """Publishes events on their declared channels. Use as ``async with``."""

    def __init__(self, bootstrap: str, *, linger_ms: int = 5) -> None:
        self._bootstrap = bootstrap
        self._linger_ms = linger_ms
        self._producer: AIOKafkaProducer | None = None
        self._partitions: dict[str, int] = {}

    async def start(self) -> None:
        """Connect (the topics must exist: :func:`sextant_common.bus.ensure_topics`)."""
        producer = AIOKafkaProducer(
            bootstrap_servers=self._bootstrap,
            **kafka_security.client_options(),
            max_batch_size=MAX_BATCH_BYTES,
            linger_ms=self._linger_ms,
            acks="all",
            compression_type=COMPRESSION,
        )
        await producer.start()
        self._producer = producer

    async def stop(self) -> None:
        """Send what is buffered and disconnect."""
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await producer.stop()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def _client(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise RuntimeError("EventProducer is not started (use `async with` or start())")
        return self._producer

    async def send(self, event: Event, *, spans: tracing.ProducerSpans | None = None) -> Ack:
        """Queue one event; the returned future resolves when the broker acknowledged it.

        Its ``traceparent`` names ``spans``' span of its topic (a span of its own if None)."""
        topic = checked_topic(event)
        if spans is None:
            with tracing.ProducerSpans() as own:
                return await self.send(event, spans=own)
        headers = event_headers(event, spans.traceparent(topic))
        ack: Ack = await self._client().send(
            topic, event.to_bytes(), key=event.key, headers=headers
        )
        ack.add_done_callback(lambda done: _count(done, topic, 1))
        return ack

    async def send_record(
        self, topic: str, value: bytes, *, key: bytes | None, headers: Sequence[tuple[str, bytes]]
    ) -> Ack:
        """Queue a record unchanged (a replayed dead letter) on the declared ``topic``."""
        if topic not in BY_TOPIC:
            raise UndeclaredTopic(f"topic {topic!r} is not declared in sextant_common.channels")
        ack: Ack = await self._client().send(topic, value, key=key, headers=list(headers))
        ack.add_done_callback(lambda done: _count(done, topic, 1))
        return ack

    async def publish(self, events: Iterable[Event]) -> int:
        """Send every event and wait for all acknowledgements; return how many."""
        with tracing.ProducerSpans() as spans:
            acks = [await self.send(event, spans=spans) for event in events]
            await asyncio.gather(*acks)
        return len(acks)

    async def publish_stream(self, events: AsyncIterable[Event] | Iterable[Event]) -> int:
        """Publish ``events`` as fast as the broker takes them, one batch per partition at a
        time; return the count once the broker acknowledged every record."""
        batches = _Batches(self._client())
        with tracing.ProducerSpans() as spans:
            async for event in _aiter(events):
                topic = checked_topic(event)
                key = event.key
                partition = 0 if key is None else partition_for(key, await self._count_of(topic))
                headers = event_headers(event, spans.traceparent(topic))
                await batches.add(topic, partition, key, event.to_bytes(), headers)
            return await batches.close()

    async def publish_encoded(self, model: type[Event], key: bytes, values: Iterable[bytes]) -> int:
        """Publish ``values``, already the wire bytes of ``model`` events (byte for byte what
        ``to_bytes`` gives: the caller vouches for them), all with ``key``; return the count once
        the broker acknowledged every record. For bulk paths that encode without building
        events (the simulated backfill)."""
        topic = model.TOPIC
        if topic not in BY_TOPIC or BY_TOPIC[topic].model is not model:
            raise UndeclaredTopic(f"{model.__name__} is not the declared model of {topic!r}")
        batches = _Batches(self._client())
        partition = partition_for(key, await self._count_of(topic))
        with tracing.ProducerSpans() as spans:
            headers = [
                (EVENT_TYPE_HEADER, model.__name__.encode()),
                (SCHEMA_VERSION_HEADER, schema_version(topic).encode()),
                (tracecontext.HEADER, spans.traceparent(topic)),
            ]
            for value in values:
                await batches.add(topic, partition, key, value, headers)
            return await batches.close()

    async def _count_of(self, topic: str) -> int:
        """Partitions of ``topic`` (asked once per topic)."""
        if topic not in self._partitions:
            partitions = await self._client().partitions_for(topic)
            if not partitions:
                raise UndeclaredTopic(f"topic {topic!r} does not exist on the broker")
            self._partitions[topic] = len(partitions)
        return self._partitions[topic]


class _Batches:
    """Record batches being filled, one per (topic, partition), shipped when full or at
    :data:`BATCH_RECORDS`, with at most :data:`IN_FLIGHT_BATCHES` awaiting acknowledgement."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer
        self._open: dict[tuple[str, int], tuple[BatchBuilder, int]] = {}
        self._in_flight: list[Ack] = []
        self.count = 0

    async def add(
        self,
        topic: str,
        partition: int,
        key: bytes | None,
        value: bytes,
        headers: list[tuple[str, bytes]],
    ) -> None:
        """Append one record to its partition's batch (shipping the batch when it is done)."""
        slot = (topic, partition)
        batch, records = self._open.pop(slot) if slot in self._open else (self._new(), 0)
        if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
            await self._ship(slot, batch, records)  # full: ship it, start another
            batch, records = self._new(), 0
            if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                raise ValueError(f"a record of {topic} exceeds {MAX_BATCH_BYTES} bytes")
        records += 1
        self.count += 1
        if records >= BATCH_RECORDS:
            await self._ship(slot, batch, records)
        else:
            self._open[slot] = (batch, records)

    async def close(self) -> int:
        """Ship what is open, wait for every acknowledgement; return the records added."""
        for slot, (batch, records) in self._open.items():
            await self._ship(slot, batch, records)
        self._open.clear()
        await asyncio.gather(*self._in_flight)
        self._in_flight.clear()
        return self.count

    def _new(self) -> BatchBuilder:
        return self._producer.create_batch()

    async def _ship(self, slot: tuple[str, int], batch: BatchBuilder, records: int) -> None:
        topic, partition = slot
        ack: Ack = await self._producer.send_batch(batch, topic, partition=partition)
        ack.add_done_callback(lambda done: _count(done, topic, records))
        self._in_flight.append(ack)
        if len(self._in_flight) >= IN_FLIGHT_BATCHES:
            await asyncio.gather(*self._in_flight)
            self._in_flight.clear()


def _count(done: Ack, topic: str, records: int) -> None:
    if not done.cancelled() and done.exception() is None:
        EVENTS_PRODUCED.labels(topic).inc(records)


async def _aiter(events: AsyncIterable[Event] | Iterable[Event]) -> AsyncIterable[Event]:
    if isinstance(events, AsyncIterable):
        async for event in events:
            yield event
    else:
        for event in events:
            yield event
