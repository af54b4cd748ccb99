"""The shared bus pieces on a real broker: the producer's topics, keys, partitions and headers;
the tail consumer's broadcast from the live end and its dead letters."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import ClassVar

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from sextant_common import topics, tracecontext, tracing
from sextant_common.bus import ensure_topics
from sextant_common.durable_consumer import Record
from sextant_common.events import Bar, DeadLetter, Event
from sextant_common.producer import EventProducer, UndeclaredTopic, checked_topic, partition_for
from sextant_common.settings import CommonSettings
from sextant_common.tail_consumer import Refusals, TailConsumer
from tests.support import make_bar

pytestmark = pytest.mark.integration


class Stray(Event):
    """An event naming a topic nobody declared."""

    TOPIC: ClassVar[str] = "stray.things.v1"


def test_a_topic_or_model_not_declared_is_refused_before_the_broker() -> None:
    with pytest.raises(UndeclaredTopic, match=r"stray\.things\.v1"):
        checked_topic(Stray())

    class Impostor(Event):
        TOPIC: ClassVar[str] = topics.MD_BARS

    with pytest.raises(UndeclaredTopic, match="Impostor"):
        checked_topic(Impostor())


def test_trace_context_is_parsed_strictly() -> None:
    good = "00-" + "1f" * 16 + "-" + "2e" * 8 + "-01"
    assert tracecontext.parse(good) == "1f" * 16
    for bad in ("", "01-" + good[3:], good.upper(), "00-" + "0" * 32 + good[35:], good + "x"):
        assert tracecontext.parse(bad) is None, bad
    tracecontext.use(good)
    with tracing.ProducerSpans() as first, tracing.ProducerSpans() as second:
        assert tracecontext.parse(first.traceparent(topics.MD_BARS)) == "1f" * 16
        assert first.traceparent(topics.MD_BARS) != second.traceparent(topics.MD_BARS)
    tracecontext.use(None)
    with tracing.ProducerSpans() as first, tracing.ProducerSpans() as second:
        assert tracecontext.parse(first.traceparent(topics.MD_BARS)) != tracecontext.parse(
            second.traceparent(topics.MD_BARS)
        )


async def _all(bootstrap: str, topic: str) -> list[ConsumerRecord[bytes, bytes]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        total = sum((await consumer.end_offsets(parts)).values())
        records: list[ConsumerRecord[bytes, bytes]] = []
        while len(records) < total:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records += batch
        return records
    finally:
        await consumer.stop()


async def test_records_go_to_their_key_partition_in_order_with_the_declared_headers(
    kafka_bootstrap: str,
) -> None:
    partitions = (await ensure_topics(CommonSettings(kafka_bootstrap=kafka_bootstrap)))[
        topics.MD_BARS
    ]
    assert partitions > 1
    symbols = [f"P{i}" for i in range(12)]
    bars = [
        make_bar(s, datetime(2020, 1, d, tzinfo=UTC)) for d in range(1, 29) for s in symbols
    ]  # interleaved
    parent = "00-" + "77" * 16 + "-" + "88" * 8 + "-01"
    async with EventProducer(kafka_bootstrap) as producer:
        tracecontext.use(parent)
        assert await producer.publish_stream(bars) == len(bars)
        single = make_bar("P0", datetime(2020, 1, 30, tzinfo=UTC))
        await producer.publish([single])
        with pytest.raises(UndeclaredTopic):
            await producer.publish_encoded(Stray, b"k", [b"{}"])

    records = await _all(kafka_bootstrap, topics.MD_BARS)
    assert len(records) == len(bars) + 1
    by_symbol: dict[str, list[ConsumerRecord[bytes, bytes]]] = {}
    for record in records:
        assert record.key is not None
        assert record.partition == partition_for(record.key, partitions)
        by_symbol.setdefault(record.key.decode(), []).append(record)
        headers = dict(record.headers)
        assert list(headers) == ["sextant.event_type", "sextant.schema_version", "traceparent"]
        assert headers["sextant.event_type"] == b"Bar"
        assert headers["sextant.schema_version"] == b"1"
        assert tracecontext.parse(headers["traceparent"]) == "77" * 16
    for symbol, mine in by_symbol.items():
        days = [Bar.model_validate_json(r.value or b"").ts_event.day for r in mine]
        assert days == sorted(days), f"{symbol} out of order"
    assert len(by_symbol["P0"]) == 29


@contextlib.asynccontextmanager
async def tailing(
    bootstrap: str, name: str, seen: list[Record], refuse: str | None = None
) -> AsyncIterator[TailConsumer]:
    async def handle(records: list[Record]) -> Refusals:
        seen.extend(records)
        return [(r, "not wanted") for r in records if refuse and r.key == refuse.encode()]

    tail = TailConsumer(bootstrap=bootstrap, topics=[topics.MD_BARS], name=name, handle=handle)
    task = asyncio.create_task(tail.run())
    try:
        async with asyncio.timeout(20):
            while not tail.running:  # noqa: ASYNC110 - the flag is the consumer's state
                await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # position fetched at the live end
        yield tail
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_every_tail_sees_every_new_record_from_the_live_end_and_dead_letters_refusals(
    kafka_bootstrap: str,
) -> None:
    await ensure_topics(CommonSettings(kafka_bootstrap=kafka_bootstrap))
    async with EventProducer(kafka_bootstrap) as producer:
        await producer.publish([make_bar("OLD", datetime(2020, 1, 1, tzinfo=UTC))])
        first: list[Record] = []
        second: list[Record] = []
        async with (
            tailing(kafka_bootstrap, "tail-a", first, refuse="BAD"),
            tailing(kafka_bootstrap, "tail-b", second),
        ):
            fresh = [
                make_bar(s, datetime(2020, 1, 2, tzinfo=UTC)) for s in ("N1", "N2", "N3", "BAD")
            ]
            await producer.publish(fresh)
            async with asyncio.timeout(20):
                while len(first) < 4 or len(second) < 4:  # noqa: ASYNC110 - filled by the tails
                    await asyncio.sleep(0.05)
    for seen in (first, second):
        assert sorted((r.key or b"").decode() for r in seen) == ["BAD", "N1", "N2", "N3"]
    letters = [
        DeadLetter.model_validate_json(r.value or b"")
        for r in await _all(kafka_bootstrap, topics.DLQ)
    ]
    (letter,) = letters
    assert (letter.topic, letter.consumer, letter.error, letter.key) == (
        topics.MD_BARS,
        "tail-a",
        "not wanted",
        b"BAD",
    )
    assert Bar.model_validate_json(letter.raw).instrument_id == "BAD"
