"""What the embedded broker (tansu 0.6, ``memory://``) does with old data, on the real broker.

Issue 11 part 6 asked for retention on the embedded bus. These tests pin why there is none and
what bounds the growth instead (the module docstring of ``sextant_common.broker_launcher`` has
the figures):

- ``retention.ms`` is stored but nothing is ever deleted by it;
- DeleteRecords, the only way a client can drop old records, is refused (tansu's memory engine
  panics on it, ``todo!()``) and deletes nothing, so a retention enforcer cannot be built on it;
- each fetch costs broker CPU in proportion to the record *batches* stored in the partition, not
  the records: the same records in fewer batches (one per partition per live tick, as the ingest
  worker publishes) fetch at a fraction of the cost.

If one of them fails, tansu changed: revisit the launcher docstring, ``channels.py`` and
``bench/broker_soak.py`` (a working DeleteRecords would allow a retention enforcer).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import confluent_kafka
import psutil
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from confluent_kafka.admin import AdminClient

from sextant_common.broker_launcher import EmbeddedBroker, start_broker

pytestmark = pytest.mark.integration


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    """A fresh embedded broker whose process the test can watch."""
    running = start_broker(log_file=tmp_path / "tansu.log")
    try:
        yield running
    finally:
        running.stop()


async def create_topic(bootstrap: str, topic: str, configs: dict[str, str] | None = None) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(topic, num_partitions=1, replication_factor=1, topic_configs=configs or {})]
        )
    finally:
        await admin.close()


async def publish(bootstrap: str, topic: str, batches: int, per_batch: int) -> None:
    """``batches`` record batches of ``per_batch`` records each to partition 0, in order."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
    await producer.start()
    try:
        futures = []
        for b in range(batches):
            batch = producer.create_batch()
            for r in range(per_batch):
                batch.append(timestamp=None, key=None, value=f"{b}:{r}".encode())
            futures.append(await producer.send_batch(batch, topic, partition=0))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def read_all(bootstrap: str, topic: str, expected: int) -> tuple[int, list[bytes]]:
    """The earliest offset of partition 0 and every record from it (up to ``expected``)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        earliest = (await consumer.beginning_offsets([tp]))[tp]
        consumer.seek(tp, earliest)
        values: list[bytes] = []
        deadline = time.monotonic() + 20
        while len(values) < expected and time.monotonic() < deadline:
            fetched = await consumer.getmany(tp, timeout_ms=500)
            values.extend(record.value or b"" for record in fetched.get(tp, []))
        return earliest, values
    finally:
        await consumer.stop()


async def test_retention_ms_is_stored_but_nothing_is_deleted(broker: EmbeddedBroker) -> None:
    await create_topic(broker.bootstrap, "short.lived", {"retention.ms": "500"})
    await publish(broker.bootstrap, "short.lived", batches=10, per_batch=1)

    await asyncio.sleep(3.0)  # six times the retention
    earliest, values = await read_all(broker.bootstrap, "short.lived", expected=10)

    assert earliest == 0
    assert values == [f"{b}:0".encode() for b in range(10)]


async def test_delete_records_is_refused_and_deletes_nothing(broker: EmbeddedBroker) -> None:
    await create_topic(broker.bootstrap, "kept")
    await publish(broker.bootstrap, "kept", batches=20, per_batch=1)
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})

    futures = admin.delete_records(
        [confluent_kafka.TopicPartition("kept", 0, 10)], request_timeout=5, operation_timeout=5
    )

    with pytest.raises(confluent_kafka.KafkaException):
        await asyncio.to_thread(futures[confluent_kafka.TopicPartition("kept", 0)].result, 30)
    assert broker.process.poll() is None, "the broker died on DeleteRecords"
    await publish(broker.bootstrap, "kept", batches=1, per_batch=1)  # still serving
    earliest, values = await read_all(broker.bootstrap, "kept", expected=21)
    assert earliest == 0
    assert len(values) == 21


async def fetch_cpu_s(broker: EmbeddedBroker, topic: str, fetches: int) -> float:
    """Broker CPU seconds spent on ``fetches`` fetches of partition 0 from offset 0."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=broker.bootstrap,
        enable_auto_commit=False,
        max_partition_fetch_bytes=100,  # one batch per fetch: the cost is finding it
        fetch_max_wait_ms=50,
    )
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        process = psutil.Process(broker.process.pid)
        before = sum(process.cpu_times()[:2])
        for _ in range(fetches):
            consumer.seek(tp, 0)
            fetched = await consumer.getmany(tp, timeout_ms=5000, max_records=1)
            assert fetched.get(tp), "fetch from offset 0 returned nothing"
        return float(sum(process.cpu_times()[:2]) - before)
    finally:
        await consumer.stop()


async def test_fetch_cost_follows_stored_batches_not_records(broker: EmbeddedBroker) -> None:
    # The same 2,000 records: one batch each (as live bars were published one by one) or 100
    # per batch (one batch per partition per tick).
    await create_topic(broker.bootstrap, "per.record")
    await create_topic(broker.bootstrap, "per.tick")
    await publish(broker.bootstrap, "per.record", batches=2_000, per_batch=1)
    await publish(broker.bootstrap, "per.tick", batches=20, per_batch=100)

    per_tick = await fetch_cpu_s(broker, "per.tick", fetches=100)
    per_record = await fetch_cpu_s(broker, "per.record", fetches=100)

    # Measured ~1.2 s against ~0.04 s (tansu lists every stored batch of the partition on each
    # fetch); CPU seconds of the broker process, so other load on the machine hardly matters.
    # psutil's CPU times tick in 10 ms: the floor keeps the ratio meaningful.
    assert per_record >= 5 * max(per_tick, 0.05), (per_record, per_tick)
