"""Publishing fetched events to their topics, and rejected records to ``dlq.v1``.

The shared :class:`~sextant_common.producer.EventProducer` serves every event model: each record
goes to ``type(record).TOPIC`` keyed by ``record.key`` (a dead letter: the key its record would
have had, with ``sextant.dlq.*`` headers saying where it was headed and why), partitioned by
murmur2 of the key like every bar, so one instrument stays ordered.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import orjson

from sextant_common.bus import ensure_topics
from sextant_common.events import (
    AltSignal,
    Bar,
    DeadLetter,
    Event,
    Fundamental,
    MacroObservation,
    NewsItem,
    OptionQuote,
)
from sextant_common.producer import EventProducer
from sextant_common.settings import CommonSettings
from sextant_ingest.providers.fetcher import DataKind, Reject

MODEL_OF_KIND: dict[DataKind, type[Event]] = {
    DataKind.BARS: Bar,
    DataKind.FUNDAMENTALS: Fundamental,
    DataKind.MACRO: MacroObservation,
    DataKind.NEWS: NewsItem,
    DataKind.SENTIMENT: AltSignal,
    DataKind.OPTIONS: OptionQuote,
}
"""The standard event (and so the topic) of each data kind."""

DLQ_CONSUMER = "ingest.fetcher"
"""``DeadLetter.consumer`` of records the fetcher could not normalize."""


class EventSink(Protocol):
    """Where fetched events go (a Kafka producer in production, a list in tests)."""

    async def publish(self, records: Sequence[Event]) -> int:
        """Send every record to its topic and wait for the acks; return how many."""


class KafkaEventPublisher(EventProducer):
    """An :class:`EventSink` on the bus: the shared :class:`EventProducer` that first creates
    the declared topics that are missing. Use as ``async with``."""

    def __init__(self, settings: CommonSettings) -> None:
        super().__init__(settings.require_bootstrap())
        self._settings = settings

    async def start(self) -> None:
        """Create missing topics and connect."""
        await ensure_topics(self._settings)
        await super().start()


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
