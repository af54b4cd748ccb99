"""Fake provider over local HTTP -> UnifiedFetcher -> md.bars.v1 on a real tansu broker ->
a datasets service process -> Parquet lake; then the same fetch is served cold from the lake."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer

from sextant_common import topics
from sextant_common.events import DeadLetter
from sextant_ingest.fetching import (
    FetchResult,
    FetchSettings,
    KafkaEventPublisher,
    ProviderRegistry,
    UnifiedFetcher,
)
from tests.ingest.test_fetching_fakes import SECRET, ReplayServer, provider_module, replay_app
from tests.integration.lake_probe import lake_counts
from tests.integration.test_bus_to_lake import Datasets
from tests.support import wait_for

pytestmark = pytest.mark.integration

SYMBOLS = ("AAA", "BBB", "CCC")
DAYS = 30
PARAMS = {"start": "2024-01-02", "end": "2024-01-31"}


@pytest.fixture
def datasets(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Datasets]:
    service = Datasets(kafka_bootstrap, tmp_path / "datasets")
    try:
        yield service
    finally:
        service.process.stop()


def settings_for(tmp_path: Path, bootstrap: str, datasets_url: str | None) -> FetchSettings:
    return FetchSettings(
        kafka_bootstrap=bootstrap,
        data_dir=tmp_path / "ingest",
        fetch_providers=[],
        routes={},
        credentials={"SEXTANT_ACME_API_KEY": SECRET},
        redis_url=None,
        secrets_file=None,
        datasets_url=datasets_url,
    )


async def fetch_all(
    settings: FetchSettings, provider_url: str, *, publish: bool
) -> list[FetchResult]:
    registry = ProviderRegistry()
    registry.add_module(provider_module("acme", provider_url))
    async with (
        KafkaEventPublisher(settings) as publisher,
        UnifiedFetcher(settings, publisher=publisher, registry=registry) as fetcher,
    ):
        results = [
            await fetcher.fetch("bars", {"symbol": s, **PARAMS}, asset_class="equity")
            for s in (*SYMBOLS, "BAD")
        ]
        if publish:
            for result in results:
                await fetcher.publish(result.records)
    return results


async def read_dead_letters(bootstrap: str, expected: int) -> list[DeadLetter]:
    consumer = AIOKafkaConsumer(
        topics.DLQ, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    letters: list[DeadLetter] = []
    try:
        async with asyncio.timeout(30):
            while len(letters) < expected:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    letters += [DeadLetter.model_validate_json(r.value or b"") for r in records]
    finally:
        await consumer.stop()
    return letters


def test_fetched_bars_land_in_the_lake_and_are_then_served_cold(
    datasets: Datasets, kafka_bootstrap: str, tmp_path: Path
) -> None:
    with ReplayServer(replay_app(days=DAYS)) as server:
        settings = settings_for(tmp_path, kafka_bootstrap, None)
        fetched = asyncio.run(fetch_all(settings, server.url, publish=True))
        assert [r.cache for r in fetched] == ["miss"] * 4 and server.hits == 4
        expected = len(SYMBOLS) * DAYS + DAYS - 1  # BAD's first row was rejected
        assert sum(len(r.records) for r in fetched) == expected
        rows, distinct = wait_for(
            lambda: (c := lake_counts(datasets.lake))[0] >= expected and c, 60, "bars in lake"
        )
        assert (rows, distinct) == (expected, expected)

        (letter,) = asyncio.run(read_dead_letters(kafka_bootstrap, 1))
        assert letter.topic == topics.MD_BARS and letter.error.startswith("acme/aggregates: ")
        assert b'"h":1.0' in letter.raw and SECRET.encode() not in letter.raw

        # A fresh fetcher with the datasets service configured: the lake answers, not acme.
        cold_settings = settings_for(
            tmp_path, kafka_bootstrap, f"http://127.0.0.1:{datasets.ports.datasets}"
        )
        served = asyncio.run(fetch_all(cold_settings, server.url, publish=False))
        # (BAD's lake rows start a day late, its first bar was rejected: within the slack)
        assert [(r.provider, r.cache) for r in served] == [("datasets", "cold")] * 4
        assert [len(r.records) for r in served] == [DAYS] * 3 + [DAYS - 1]
        assert served[0].records == fetched[0].records
        assert server.hits == 4  # nothing more was asked of the provider
    audit = (tmp_path / "ingest" / "audit").glob("fetch-*.jsonl")
    assert SECRET not in "".join(f.read_text() for f in audit)
