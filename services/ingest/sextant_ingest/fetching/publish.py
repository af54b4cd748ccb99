"""Publishing fetched events to their topics, and rejected records to ``dlq.v1``.

One aiokafka producer serves every event model: each record goes to ``type(record).TOPIC`` keyed
by ``record.key`` (a dead letter: the key its record would have had, with ``sextant.dlq.*``
headers saying where it was headed and why). aiokafka's default partitioner is Kafka's
murmur2, so bars land in the same partition as the ingest ``BarPublisher`` puts them and one
instrument stays ordered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Protocol

import orjson
from aiokafka import AIOKafkaProducer

from sextant_common.bus import MAX_BATCH_BYTES, ensure_topics
from sextant_common.events import (
    AltSignal,
    Bar,
    DeadLetter,
    Event,
    Fundamental,
    MacroObservation,
    NewsItem,
)
from sextant_common.settings import CommonSettings
from sextant_ingest.providers.fetcher import DataKind, Reject

MODEL_OF_KIND: dict[DataKind, type[Event]] = {
    DataKind.BARS: Bar,
    DataKind.FUNDAMENTALS: Fundamental,
    DataKind.MACRO: MacroObservation,
    DataKind.NEWS: NewsItem,
    DataKind.SENTIMENT: AltSignal,
}
"""The standard event (and so the topic) of each data kind."""

DLQ_CONSUMER = "ingest.fetcher"
"""``DeadLetter.consumer`` of records the fetcher could not normalize."""


class EventSink(Protocol):
    """Where fetched events go (a Kafka producer in production, a list in tests)."""

    async def publish(self, records: Sequence[Event]) -> int:
        """Send every record to its topic and wait for the acks; return how many."""


class KafkaEventPublisher:
    """An :class:`EventSink` over one aiokafka producer. Use as ``async with``."""

    def __init__(self, settings: CommonSettings) -> None:
        self._settings = settings
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        """Create missing topics and connect."""
        await ensure_topics(self._settings)
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self._settings.require_bootstrap(),
            max_batch_size=MAX_BATCH_BYTES,
            linger_ms=5,
        )
        await self._producer.start()

    async def stop(self) -> None:
        """Flush and disconnect."""
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def __aenter__(self) -> KafkaEventPublisher:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def publish(self, records: Sequence[Event]) -> int:
        if self._producer is None:
            raise RuntimeError("KafkaEventPublisher is not started (use `async with` or start())")
        sends = [
            await self._producer.send(type(r).TOPIC, r.to_bytes(), key=_key(r), headers=_headers(r))
            for r in records
        ]
        await asyncio.gather(*sends)
        return len(sends)


def _key(record: Event) -> bytes | None:
    key = getattr(record, "key", None)
    return key if isinstance(key, bytes) else None


def _headers(record: Event) -> list[tuple[str, bytes]] | None:
    return record.record_headers() if isinstance(record, DeadLetter) else None


def dead_letters(
    provider: str,
    dataset: str,
    kind: DataKind,
    rejects: Sequence[Reject],
    scrub: Callable[[bytes], bytes] = lambda raw: raw,
    *,
    key: bytes | None = None,
) -> list[DeadLetter]:
    """One :class:`DeadLetter` per rejected record: the target topic, partition/offset -1 (it was
    never on the bus), ``"<provider>/<dataset>: <reason>"``, the raw record as JSON bytes and the
    key its record would have had (the reject's own, else ``key``)."""
    topic = MODEL_OF_KIND[kind].TOPIC
    return [
        DeadLetter.for_record(
            topic=topic,
            partition=-1,
            offset=-1,
            consumer=DLQ_CONSUMER,
            error=f"{provider}/{dataset}: {reject.reason}",
            raw=scrub(_raw_bytes(reject.raw)),
            key=reject.key.encode() if reject.key is not None else key,
        )
        for reject in rejects
    ]


def _raw_bytes(raw: Any) -> bytes:
    if isinstance(raw, bytes):
        return raw
    return orjson.dumps(raw, default=str, option=orjson.OPT_NON_STR_KEYS)
