"""Bus hygiene on a real broker: what an outside client produces onto ``md.bars.v1`` and what
the lake keeps of it.

A raw aiokafka producer plays the client outside the project. Before, a well-formed ``shipped``
bar dated 2030 was stored and ``/v1/instruments`` showed SPX ending in 2030; bars of any made-up
source were stored; dead letters went out keyed by the topic name with the headers dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from fastapi.testclient import TestClient

from sextant_common import topics
from sextant_common.bus import ensure_topics
from sextant_common.durable_consumer import FlushPolicy
from sextant_common.events import (
    DLQ_HEADER_PREFIX,
    DLQ_RAW_MAX_BYTES,
    AssetClass,
    Bar,
    DeadLetter,
    Interval,
)
from sextant_common.settings import CommonSettings
from sextant_datasets.admission import BarAdmission
from sextant_datasets.app import build_app
from sextant_datasets.consumer import BarSink
from sextant_datasets.lake.reader import LakeReader
from sextant_datasets.lake.writer import LakeWriter
from sextant_datasets.settings import DatasetsSettings
from sextant_ingest.fetching import KafkaEventPublisher
from sextant_ingest.fetching.publish import dead_letters
from sextant_ingest.providers.fetcher import DataKind, Reject
from tests.support import wait_for

pytestmark = pytest.mark.integration

HEADERS = [("trace-id", b"abc-123"), ("binary", bytes(range(256)))]
"""Headers of the outside client's records, one of them not UTF-8."""


def spx(ts_event: datetime, *, source: str = "shipped", ts_known: datetime | None = None) -> Bar:
    return Bar(
        instrument_id="SPX",
        asset_class=AssetClass.INDEX,
        interval=Interval.D1,
        ts_event=ts_event,
        open=4000.0,
        high=4010.0,
        low=3990.0,
        close=4005.0,
        volume=1e9,
        source=source,
        ts_known=ts_known or ts_event + timedelta(days=1),
    )


@dataclass(frozen=True)
class Received:
    """One record read back from ``dlq.v1``."""

    key: bytes | None
    headers: list[tuple[str, bytes]]
    letter: DeadLetter


async def produce_raw(bootstrap: str, records: Sequence[tuple[bytes | None, bytes]]) -> None:
    """The outside client: a bare aiokafka producer, every record with :data:`HEADERS`."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for key, value in records:
            await producer.send_and_wait(topics.MD_BARS, value, key=key, headers=HEADERS)
    finally:
        await producer.stop()


async def read_dlq(bootstrap: str, expected: int) -> list[Received]:
    consumer = AIOKafkaConsumer(
        topics.DLQ, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    received: list[Received] = []
    try:
        async with asyncio.timeout(30):
            while len(received) < expected:
                for batch in (await consumer.getmany(timeout_ms=500)).values():
                    received += [
                        Received(
                            r.key,
                            list(r.headers),
                            DeadLetter.model_validate_json(r.value or b""),
                        )
                        for r in batch
                    ]
    finally:
        await consumer.stop()
    return received


@contextlib.asynccontextmanager
async def bar_sink(bootstrap: str, lake: Path) -> AsyncIterator[BarSink]:
    """The lake's consumer in this process, with the production admission rules."""
    sink = BarSink(
        bootstrap=bootstrap,
        group_id="datasets-hygiene",
        writer=LakeWriter(lake),
        flush=FlushPolicy(rows=1000, seconds=0.1, max_seconds=0.5),
        admission=BarAdmission.build(),
    )
    task = asyncio.create_task(sink.run())
    try:
        yield sink
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def test_outside_bars_from_the_future_or_unknown_sources_go_to_the_dlq(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    past = datetime(2020, 1, 2, tzinfo=UTC)
    future = spx(datetime(2030, 1, 2, tzinfo=UTC))
    known_later = spx(past + timedelta(days=1), ts_known=now + timedelta(days=2))
    made_up = spx(past + timedelta(days=2), source="evil")
    good = spx(past)
    garbage = b"{not json"
    records = [
        (b"SPX", future.to_bytes()),
        (b"SPX", known_later.to_bytes()),
        (b"SPX", made_up.to_bytes()),
        (None, garbage),  # no key at all: the dead letter has none either
        (b"SPX", good.to_bytes()),
    ]
    settings = DatasetsSettings(kafka_bootstrap=kafka_bootstrap, data_dir=tmp_path)

    async def scenario() -> list[Received]:
        await ensure_topics(CommonSettings(kafka_bootstrap=kafka_bootstrap))
        async with bar_sink(kafka_bootstrap, settings.lake_dir):
            await produce_raw(kafka_bootstrap, records)
            received = await read_dlq(kafka_bootstrap, 4)
            await asyncio.to_thread(
                wait_for,
                lambda: LakeReader(settings.lake_dir).catalog(),
                30,
                "the good bar stored",
            )
            return received

    received = asyncio.run(scenario())
    by_raw = {r.letter.raw: r for r in received}
    assert set(by_raw) == {future.to_bytes(), known_later.to_bytes(), made_up.to_bytes(), garbage}

    assert (
        "ts_event 2030-01-02T00:00:00Z is in the future" in by_raw[future.to_bytes()].letter.error
    )
    assert "ts_known" in by_raw[known_later.to_bytes()].letter.error
    assert "source 'evil' is not a registered provider" in by_raw[made_up.to_bytes()].letter.error
    assert "json" in by_raw[garbage].letter.error.lower()

    for raw, got in by_raw.items():
        original_key = None if raw == garbage else b"SPX"
        # the record on dlq.v1: the original key and headers, then where from and why
        assert got.key == original_key
        assert got.headers[: len(HEADERS)] == HEADERS
        extra = dict(got.headers[len(HEADERS) :])
        assert extra[DLQ_HEADER_PREFIX + "topic"] == topics.MD_BARS.encode()
        assert extra[DLQ_HEADER_PREFIX + "offset"] == str(got.letter.offset).encode()
        assert extra[DLQ_HEADER_PREFIX + "error"].decode() == got.letter.error[:1000]
        # the dead letter's body carries the same, losslessly
        assert got.letter.key == original_key
        assert got.letter.original_headers == HEADERS
        assert got.letter.topic == topics.MD_BARS and got.letter.offset >= 0

    # Only the good bar is stored, and the catalogue does not end in 2030.
    client = TestClient(build_app(settings))
    (entry,) = client.get("/v1/instruments").json()["instruments"]
    assert (entry["instrument_id"], entry["source"], entry["rows"]) == ("SPX", "shipped", 1)
    assert entry["last"] == "2020-01-02T00:00:00Z"


def test_the_fetchers_dead_letters_keep_the_records_key(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    rejects = [
        Reject("high/low do not bound open/close", {"h": 1.0}, key="AAPL"),
        Reject("missing field 'c'", {"o": 2.0}),  # key from the response's records
    ]
    letters = dead_letters("acme", "aggregates", DataKind.BARS, rejects, key=b"MSFT")
    settings = CommonSettings(kafka_bootstrap=kafka_bootstrap, data_dir=tmp_path)

    async def scenario() -> list[Received]:
        async with KafkaEventPublisher(settings) as publisher:
            await publisher.publish(letters)
        return await read_dlq(kafka_bootstrap, 2)

    received = sorted(asyncio.run(scenario()), key=lambda r: r.key or b"")
    assert [r.key for r in received] == [b"AAPL", b"MSFT"]
    for got in received:
        headers = dict(got.headers)
        assert headers[DLQ_HEADER_PREFIX + "topic"] == topics.MD_BARS.encode()
        assert headers[DLQ_HEADER_PREFIX + "consumer"] == b"ingest.fetcher"
        assert headers[DLQ_HEADER_PREFIX + "error"].startswith(b"acme/aggregates: ")
        assert got.letter.key == got.key
    assert orjson.loads(received[0].letter.raw) == {"h": 1.0}


def test_a_record_too_big_for_a_dead_letter_is_cut_and_the_consumer_goes_on(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """The embedded broker takes a 3 MB record; its whole dead letter would not fit in a Kafka
    request, so the consumer would fail on it forever. It is kept cut, with its size and hash."""
    huge = b'{"instrument_id": "' + b"x" * 3_000_000 + b'"}'
    good = spx(datetime(2020, 1, 2, tzinfo=UTC))
    settings = DatasetsSettings(kafka_bootstrap=kafka_bootstrap, data_dir=tmp_path)

    async def scenario() -> list[Received]:
        await ensure_topics(CommonSettings(kafka_bootstrap=kafka_bootstrap))
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, max_request_size=8 << 20)
        await producer.start()
        try:
            await producer.send_and_wait(topics.MD_BARS, huge, key=b"SPX", headers=HEADERS)
            await producer.send_and_wait(topics.MD_BARS, good.to_bytes(), key=b"SPX")
        finally:
            await producer.stop()
        async with bar_sink(kafka_bootstrap, settings.lake_dir):
            received = await read_dlq(kafka_bootstrap, 1)
            await asyncio.to_thread(
                wait_for, lambda: LakeReader(settings.lake_dir).catalog(), 30, "the good bar"
            )
        return received

    (got,) = asyncio.run(scenario())
    letter = got.letter
    assert letter.raw == huge[:DLQ_RAW_MAX_BYTES]
    assert letter.raw_size == len(huge)
    assert letter.raw_sha256 == hashlib.sha256(huge).hexdigest()
    assert f"value cut to its first {DLQ_RAW_MAX_BYTES} of {len(huge)} bytes" in letter.error
    assert letter.key == b"SPX" and letter.original_headers == HEADERS
