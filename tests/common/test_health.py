"""Liveness (`/health`) and readiness (`/ready`) endpoints, and the Kafka offsets readiness uses."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from fastapi import FastAPI
from fastapi.testclient import TestClient

from sextant_common import topics
from sextant_common.bus import ensure_topics
from sextant_common.settings import CommonSettings
from sextant_common.telemetry import (
    CaughtUp,
    CheckResult,
    HealthCheck,
    PublishedOnce,
    add_health_and_metrics,
    behind,
    read_offsets,
)
from tests.support import bar_series, publish_bars


def _client(
    live: dict[str, HealthCheck], ready: dict[str, HealthCheck] | None = None
) -> TestClient:
    app = FastAPI()
    add_health_and_metrics(app, "demo", live, ready)
    return TestClient(app)


def test_liveness_ignores_readiness_checks() -> None:
    state = {"loaded": False}
    client = _client({"loop": lambda: True}, {"history": lambda: state["loaded"]})

    health = client.get("/health")
    assert health.status_code == 200
    assert health.json() == {
        "service": "demo",
        "status": "ok",
        "checks": {"loop": True},
        "failing": [],
        "detail": {},
    }
    ready = client.get("/ready")
    assert ready.status_code == 503
    assert ready.json()["status"] == "not_ready"
    assert ready.json()["failing"] == ["history"]

    state["loaded"] = True
    assert client.get("/ready").status_code == 200


def test_a_dead_process_is_not_ready_either() -> None:
    client = _client({"worker": lambda: False}, {"history": lambda: True})
    assert client.get("/health").status_code == 503
    ready = client.get("/ready")
    assert ready.status_code == 503 and ready.json()["failing"] == ["worker"]


def test_async_checks_details_and_broken_checks() -> None:
    async def offsets() -> CheckResult:
        return CheckResult(False, {"lag": {0: 3}})

    def broken() -> bool:
        raise ConnectionError("datasets unreachable")

    client = _client({"alive": lambda: True}, {"lake": offsets, "datasets": broken})
    body = client.get("/ready").json()
    assert body["failing"] == ["lake", "datasets"]
    assert body["detail"]["lake"] == {"lag": {"0": 3}}
    assert body["detail"]["datasets"] == {"error": "ConnectionError: datasets unreachable"}
    assert "process_cpu_seconds_total" in client.get("/metrics").text


def test_behind_lists_only_the_lagging_partitions() -> None:
    assert behind({0: 10, 1: 4}, {0: 10, 1: 7, 2: 1}) == {1: 3, 2: 1}
    assert behind({0: 12}, {0: 10}) == {}


@pytest.mark.integration
def test_end_offsets_count_every_batched_record(kafka_bootstrap: str) -> None:
    """tansu answers ListOffsets(latest) with the base offset of a partition's last batch, so
    after a batched backfill a readiness check built on it would pass hundreds of records early.
    """
    bars = bar_series(3, 700)  # batches of up to 1,000 records per partition
    published = asyncio.run(publish_bars(kafka_bootstrap, bars))

    offsets = asyncio.run(read_offsets(kafka_bootstrap, topics.MD_BARS, "nobody"))
    assert sum(offsets.end.values()) == published == 2_100
    assert set(offsets.committed.values()) == {0}


@pytest.mark.integration
def test_caught_up_and_published_once_follow_the_group_and_the_producer(
    kafka_bootstrap: str,
) -> None:
    async def scenario() -> None:
        await ensure_topics(CommonSettings(kafka_bootstrap=kafka_bootstrap))
        done = {"backfill": False}
        published = PublishedOnce(
            lambda: done["backfill"], kafka_bootstrap, topics.MD_BARS, {"instruments": ["S000"]}
        )
        assert not (await published()).ok

        await publish_bars(kafka_bootstrap, bar_series(2, 50))
        done["backfill"] = True
        result = await published()
        assert result.ok and sum(result.detail["end_offsets"].values()) == 100
        assert result.detail["instruments"] == ["S000"]

        caught_up = CaughtUp(kafka_bootstrap, topics.MD_BARS, "lake-test")
        first = await caught_up()
        assert not first.ok and sum(first.detail["lag"].values()) == 100

        await _commit_everything(kafka_bootstrap, "lake-test")
        second = await caught_up()
        assert second.ok and second.detail["committed"] == result.detail["end_offsets"]

    asyncio.run(scenario())


async def _commit_everything(bootstrap: str, group: str) -> None:
    """Commit the end of every partition of md.bars.v1 for ``group``, as a caught-up lake would."""
    end = (await read_offsets(bootstrap, topics.MD_BARS)).end
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        partitions = [TopicPartition(topics.MD_BARS, p) for p in end]
        consumer.assign(partitions)
        await consumer.commit({tp: end[tp.partition] for tp in partitions})
    finally:
        await consumer.stop()
