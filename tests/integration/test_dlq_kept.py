"""The DLQ is kept and browsable: a garbage record an outside producer sends to ``md.bars.v1``
shows up in ``GET /api/v1/dlq`` (through the gateway) with its reason, key and headers; the
replay command re-publishes a fixed version that lands in the lake; a redelivered dead letter
is listed once."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from sextant_common import topics
from sextant_common.events import DeadLetter
from tests.integration.lake_probe import lake_counts
from tests.support import auth_for, make_bar, running_services, wait_for

pytestmark = pytest.mark.integration

HEADERS = [("trace-id", b"t-123"), ("binary", b"\xff\x00")]


async def _send(bootstrap: str, topic: str, value: bytes, key: bytes | None, headers: Any) -> None:
    """One record from a plain aiokafka producer that shares nothing with the services."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key, headers=headers)
    finally:
        await producer.stop()


async def _read_all(bootstrap: str, topic: str) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of partition 0 of ``topic`` up to its end."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        end = (await consumer.end_offsets([partition]))[partition]
        records: list[ConsumerRecord[bytes, bytes]] = []
        while len(records) < end:
            fetched = await consumer.getmany(partition, timeout_ms=1000)
            records += fetched.get(partition, [])
        return records
    finally:
        await consumer.stop()


def _dlq(gateway: str, **params: Any) -> dict[str, Any]:
    response = httpx.get(
        f"{gateway}/api/v1/dlq",
        params=params,
        timeout=10,
        auth=auth_for(gateway, "researcher"),  # dead letters hold raw payloads: not for viewers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_garbage_bar_is_kept_browsable_replayable_and_listed_once(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    group = f"datasets-{uuid.uuid4().hex[:8]}"
    with running_services(
        kafka_bootstrap,
        tmp_path,
        ["datasets", "gateway"],
        SEXTANT_DATASETS_GROUP=group,
        SEXTANT_BARS_PARTITIONS="1",
    ) as ports:
        gateway = f"http://127.0.0.1:{ports.gateway}"
        asyncio.run(_send(kafka_bootstrap, topics.MD_BARS, b'{"close": ', b"SPX", HEADERS))

        body = wait_for(
            lambda: (b := _dlq(gateway, topic=topics.MD_BARS))["total"] >= 1 and b,
            60,
            "the garbage bar in GET /api/v1/dlq",
        )
        (letter,) = body["letters"]
        assert letter["topic"] == topics.MD_BARS and letter["consumer"] == group
        assert letter["key"] == "SPX" and letter["value"] == '{"close": '
        assert letter["headers"] == [
            {"name": "trace-id", "value_b64": "dC0xMjM=", "value": "t-123"},
            {"name": "binary", "value_b64": "/wA=", "value": None},
        ]
        assert "json_invalid" in letter["reason"] and "ValidationError" in letter["error"]
        assert body["by_topic"] == [{"topic": topics.MD_BARS, "count": 1}]
        assert body["by_error"] == [{"reason": letter["reason"], "count": 1}]

        # The same dead letter redelivered (a producer that crashed before its commit sends it
        # again), then a different one: once the second is listed, the first must be once.
        (kept,) = asyncio.run(_read_all(kafka_bootstrap, topics.DLQ))
        asyncio.run(_send(kafka_bootstrap, topics.DLQ, kept.value, kept.key, list(kept.headers)))
        other = DeadLetter.for_record(
            topic=topics.NEWS_ITEMS, partition=0, offset=5, consumer="test", error="x", raw=b"y"
        )
        asyncio.run(_send(kafka_bootstrap, topics.DLQ, other.to_bytes(), None, []))
        body = wait_for(
            lambda: (b := _dlq(gateway))["total"] >= 2 and b, 30, "the second dead letter"
        )
        assert body["total"] == 2
        assert [x["id"] for x in body["letters"]].count(letter["id"]) == 1
        assert {x["topic"]: x["count"] for x in body["by_topic"]} == {
            topics.MD_BARS: 1,
            topics.NEWS_ITEMS: 1,
        }

        # Replay a fixed version: it lands in the lake, with the original key and headers.
        fixed = tmp_path / "fixed.json"
        fixed.write_bytes(make_bar("SPX", source="test").to_bytes())
        env = {
            **os.environ,
            "SEXTANT_DATA_DIR": str(tmp_path),
            "SEXTANT_KAFKA_BOOTSTRAP": kafka_bootstrap,
        }
        command = [sys.executable, "-m", "sextant_datasets.dlq", "replay", "--id"]
        refused = subprocess.run(
            [*command, letter["id"]], env=env, capture_output=True, text=True, timeout=60
        )
        assert refused.returncode == 3 and "--value-file" in refused.stderr  # still garbage
        done = subprocess.run(
            [*command, letter["id"], "--value-file", str(fixed), "--note", "closed the brace"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        wait_for(lambda: lake_counts(tmp_path / "lake")[0] == 1, 30, "the replayed bar stored")

        replayed = asyncio.run(_read_all(kafka_bootstrap, topics.MD_BARS))[-1]
        assert replayed.key == b"SPX" and replayed.value == fixed.read_bytes()
        assert list(replayed.headers) == [
            *HEADERS,
            ("sextant.replayed-from", letter["id"].encode()),
        ]
        shown = httpx.get(
            f"{gateway}/api/v1/dlq/{letter['id']}", timeout=10, auth=auth_for(gateway)
        ).json()
        assert shown["replayed_to"] == f"{topics.MD_BARS}/0@{replayed.offset}"
        assert shown["replay_note"] == "closed the brace"
        assert _dlq(gateway)["total"] == 2  # the fixed record was not dead-lettered again
