"""Ingest publisher -> real tansu broker -> datasets process -> Parquet lake."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from sextant_common import topics
from sextant_common.devstack import ServiceProcess, start_services
from sextant_common.events import DeadLetter
from tests.integration.lake_probe import lake_counts
from tests.support import (
    Ports,
    bar_series,
    make_bar,
    publish_bars,
    service_env,
    spec,
    wait_for,
)

pytestmark = pytest.mark.integration


class Datasets:
    """A datasets service process on its own data dir and consumer group."""

    def __init__(self, bootstrap: str, data_dir: Path, **env: str) -> None:
        self.ports = Ports.allocate()
        self.lake = data_dir / "lake"
        self.env = {
            **os.environ,
            **service_env(
                bootstrap,
                data_dir,
                self.ports,
                SEXTANT_DATASETS_GROUP=f"datasets-{uuid.uuid4().hex[:8]}",
                **env,
            ),
        }
        self.log: list[str] = []
        self.process: ServiceProcess = self.start()

    def start(self) -> ServiceProcess:
        self.process = start_services(
            [spec("datasets", self.ports.datasets)], self.env, sink=self.log.append
        )[0]
        return self.process


@pytest.fixture
def datasets(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Datasets]:
    service = Datasets(kafka_bootstrap, tmp_path)
    try:
        yield service
    finally:
        service.process.stop()


def test_20000_bars_land_in_the_lake_exactly_once(datasets: Datasets, kafka_bootstrap: str) -> None:
    bars = bar_series(50, 400)
    assert asyncio.run(publish_bars(kafka_bootstrap, bars)) == 20_000
    rows, distinct = wait_for(
        lambda: (c := lake_counts(datasets.lake))[0] >= 20_000 and c, 60, "20,000 rows in lake"
    )
    assert (rows, distinct) == (20_000, 20_000)


@pytest.fixture
def small_flush_datasets(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Datasets]:
    """Flushes of at most 2,000 bars, so a backlog takes many flushes and a kill lands between."""
    service = Datasets(kafka_bootstrap, tmp_path, SEXTANT_LAKE_FLUSH_ROWS="2000")
    try:
        yield service
    finally:
        service.process.stop()


def test_kill_9_mid_stream_then_restart_loses_and_duplicates_nothing(
    small_flush_datasets: Datasets, kafka_bootstrap: str
) -> None:
    datasets = small_flush_datasets
    bars = bar_series(200, 300)  # 60,000 bars: 30 flushes of 2,000 across 400 partitions
    asyncio.run(publish_bars(kafka_bootstrap, bars))
    wait_for(lambda: lake_counts(datasets.lake)[0] > 0, 60, "first flush")
    datasets.process.kill()  # SIGKILL: no flush, no commit, no goodbye
    written_before_crash = lake_counts(datasets.lake)[0]
    assert written_before_crash < len(bars), "crash came too late to prove anything"
    datasets.start()
    rows, distinct = wait_for(
        lambda: (c := lake_counts(datasets.lake))[0] >= len(bars) and c,
        120,
        "all rows after restart",
    )
    assert (rows, distinct) == (len(bars), len(bars))
    # Stays exact: nothing more trickles in once the consumer has caught up.
    asyncio.run(asyncio.sleep(2))
    assert lake_counts(datasets.lake) == (len(bars), len(bars))


async def _produce_raw(bootstrap: str, messages: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for key, value in messages:
            await producer.send_and_wait(topics.MD_BARS, value, key=key)
    finally:
        await producer.stop()


async def _read_dead_letters(bootstrap: str, expected: int) -> list[DeadLetter]:
    consumer = AIOKafkaConsumer(
        topics.DLQ, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    letters: list[DeadLetter] = []
    try:
        async with asyncio.timeout(30):
            while len(letters) < expected:
                fetched = await consumer.getmany(timeout_ms=500)
                for records in fetched.values():
                    letters += [DeadLetter.model_validate_json(r.value or b"") for r in records]
    finally:
        await consumer.stop()
    return letters


def test_malformed_events_go_to_the_dlq_and_consumption_continues(
    datasets: Datasets, kafka_bootstrap: str
) -> None:
    good_before = make_bar("DLQA", close=10.0)
    not_json = b"{this is not json"
    invalid = orjson.loads(make_bar("DLQB").to_bytes())
    invalid["high"] = 1.0  # below open and close
    good_after = make_bar("DLQC", close=12.0)
    asyncio.run(
        _produce_raw(
            kafka_bootstrap,
            [
                (b"DLQA", good_before.to_bytes()),
                (b"DLQX", not_json),
                (b"DLQB", orjson.dumps(invalid)),
                (b"DLQC", good_after.to_bytes()),
            ],
        )
    )
    letters = asyncio.run(_read_dead_letters(kafka_bootstrap, 2))
    by_raw = {letter.raw: letter for letter in letters}
    assert set(by_raw) == {not_json, orjson.dumps(invalid)}
    assert "json" in by_raw[not_json].error.lower()
    assert "high/low do not bound" in by_raw[orjson.dumps(invalid)].error
    for letter in letters:
        assert letter.topic == topics.MD_BARS and letter.offset >= 0
    assert wait_for(lambda: lake_counts(datasets.lake)[0] == 2, 30, "both valid bars stored")


def test_unreachable_broker_is_one_clear_error(tmp_path: Path) -> None:
    import subprocess

    result = subprocess.run(
        [sys.executable, "-m", "sextant_datasets"],
        env={
            **os.environ,
            "SEXTANT_KAFKA_BOOTSTRAP": "127.0.0.1:1",
            "SEXTANT_BROKER_CONNECT_TIMEOUT_S": "1",
            "SEXTANT_DATA_DIR": str(tmp_path),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "unreachable at 127.0.0.1:1" in result.stderr
    assert "Traceback" not in result.stderr
