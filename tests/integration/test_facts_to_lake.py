"""Fundamentals, macro, news and alt signals published as ingest publishes them -> real broker ->
a datasets process -> the lake, point in time -> the gateway's datasets API as of a time.

The events are published with the ingest fetcher's own publisher (``KafkaEventPublisher``), not
through ``POST /api/v1/fetch`` with fixture providers: the records on the bus are the same."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from sextant_common import topics
from sextant_common.events import AltSignal, DeadLetter, Fundamental, MacroObservation, NewsItem
from sextant_common.settings import CommonSettings
from sextant_ingest.fetching import KafkaEventPublisher
from tests.support import auth_for, running_services, wait_for

pytestmark = pytest.mark.integration

LEARNED = datetime(2025, 3, 3, 21, 5, tzinfo=UTC)
RESTATED = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
FACT_TOPICS = (topics.REF_FUNDAMENTALS, topics.MACRO_SERIES, topics.NEWS_ITEMS, topics.ALT_SIGNALS)


def fetched_events(tag: str) -> list[Any]:
    revenue = Fundamental(
        entity_id=f"ACME{tag}",
        concept="us-gaap:Revenues",
        value=1.5e9,
        unit="USD",
        period_start=datetime(2024, 1, 1, tzinfo=UTC),
        period_end=datetime(2024, 12, 31, tzinfo=UTC),
        fiscal_year=2024,
        fiscal_period="FY",
        form="10-K",
        filing_id="0000000000-25-000001",
        source="sec_edgar",
        ts_known=LEARNED,
    )
    gdp = MacroObservation(
        series_id=f"FRED:GDP{tag}",
        period=datetime(2024, 10, 1, tzinfo=UTC),
        frequency="Q",
        value=29_700.0,
        units="Billions of Dollars",
        source="fred",
        ts_known=LEARNED,
    )
    return [
        revenue,
        gdp,
        # a later vintage of the same quarter: visible only as of after it was learned
        gdp.model_copy(update={"value": 29_720.0, "revision": 1, "ts_known": RESTATED}),
        NewsItem(
            item_id=f"news-{tag}",
            ts_published=datetime(2025, 3, 3, 20, 0, tzinfo=UTC),
            title="Acme beats",
            url="https://example.com/acme",
            publisher="Example Wire",
            instruments=(f"ACME{tag}",),
            sentiment=0.8,
            source="newsapi",
            ts_known=LEARNED,
        ),
        AltSignal(
            signal="reddit.sentiment",
            subject=f"ACME{tag}",
            ts_event=datetime(2025, 3, 3, tzinfo=UTC),
            value=0.7,
            samples=42,
            source="reddit",
            ts_known=LEARNED,
        ),
    ]


async def publish_twice(bootstrap: str, events: list[Any]) -> None:
    """Publish every event twice (a redelivery as the lake sees it), then a garbage record with
    a key and a header to each fetched topic."""
    async with KafkaEventPublisher(CommonSettings(kafka_bootstrap=bootstrap)) as publisher:
        assert await publisher.publish(events) == len(events)
        assert await publisher.publish(events) == len(events)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for topic in FACT_TOPICS:
            await producer.send_and_wait(
                topic, b"{not json", key=b"garbage-key", headers=[("origin", b"test")]
            )
    finally:
        await producer.stop()


async def dead_letters_of(bootstrap: str, consumer_name: str, expected: int) -> list[DeadLetter]:
    """The dead letters ``consumer_name`` wrote to ``dlq.v1`` (waits for ``expected``)."""
    consumer = AIOKafkaConsumer(
        topics.DLQ, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    letters: list[DeadLetter] = []
    try:
        async with asyncio.timeout(30):
            while len(letters) < expected:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    for record in records:
                        letter = DeadLetter.model_validate_json(record.value or b"")
                        if letter.consumer == consumer_name:
                            letters.append(letter)
    finally:
        await consumer.stop()
    return letters


def test_fetched_records_are_kept_point_in_time_and_served_as_of(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:6].upper()
    group = f"datasets-{tag.lower()}"
    events = fetched_events(tag)
    with running_services(
        kafka_bootstrap, tmp_path, ["datasets", "gateway"], SEXTANT_DATASETS_GROUP=group
    ) as ports:
        api = f"http://127.0.0.1:{ports.gateway}/api/v1/datasets"
        asyncio.run(publish_twice(kafka_bootstrap, events))

        def get(path: str, **params: str) -> dict[str, Any]:
            response = httpx.get(
                f"{api}/{path}", params=params, timeout=10, auth=auth_for(api, "viewer")
            )
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            return body

        queries = {
            "fundamentals": {"entity": f"ACME{tag}"},
            "macro": {"series": f"FRED:GDP{tag}"},
            "news": {"instrument": f"ACME{tag}"},
            "signals": {"subject": f"ACME{tag}"},
        }
        after, before = "2025-03-04", "2025-03-03T21:04:59Z"
        for name, params in queries.items():
            wait_for(lambda n=name, p=params: get(n, **p, as_of=after)["count"], 30, f"{name}")
            known = get(name, **params, as_of=after)
            assert known["count"] == 1, known  # published twice, stored once
            assert known[name][0]["ts_known"] == "2025-03-03T21:05:00Z"
            assert get(name, **params, as_of=before)["count"] == 0  # not yet learned then

        fact = get("fundamentals", entity=f"ACME{tag}", as_of=after)["fundamentals"][0]
        assert (fact["value"], fact["revision"], fact["filing_id"]) == (
            1.5e9,
            0,
            "0000000000-25-000001",
        )
        assert get("news", instrument=f"ACME{tag}")["news"][0]["sentiment"] == 0.8
        # the macro vintage learned later replaces the first one only from then on
        first = get("macro", series=f"FRED:GDP{tag}", as_of="2025-05-31")["macro"]
        latest = get("macro", series=f"FRED:GDP{tag}")["macro"]
        assert [(r["value"], r["revision"]) for r in first] == [(29_700.0, 0)]
        assert [(r["value"], r["revision"]) for r in latest] == [(29_720.0, 1)]

        letters = asyncio.run(dead_letters_of(kafka_bootstrap, f"{group}.facts", 4))
        assert sorted(letter.topic for letter in letters) == sorted(FACT_TOPICS)
        for letter in letters:
            assert letter.key_b64 is not None and letter.error.startswith("ValidationError")
            assert [(h.name, h.value) for h in letter.headers] == [("origin", b"test")]
        # the garbage did not stop the consumer: a record published after it is stored
        late = fetched_events(tag)[0].model_copy(update={"concept": "us-gaap:NetIncomeLoss"})
        asyncio.run(publish_twice(kafka_bootstrap, [late]))
        wait_for(
            lambda: get("fundamentals", entity=f"ACME{tag}", as_of=after)["count"] == 2,
            30,
            "a fact published after the garbage",
        )
