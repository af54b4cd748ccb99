"""A client that shares no code with Sextant (PyPI confluent-kafka, i.e. librdkafka) reads
md.bars.v1 knowing only the checked-in AsyncAPI document: the address, the partitions, how the
key and the value are encoded, and the payload schema."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import confluent_kafka
import jsonschema
import pytest

from tests.support import bar_series, publish_bars

pytestmark = pytest.mark.integration

DOCUMENT = Path(__file__).resolve().parents[2] / "docs/asyncapi.json"


def read_topic(
    document: dict[str, Any], bootstrap: str, address: str, expected: int
) -> list[tuple[str, dict[str, Any]]]:
    """Every record of ``address`` as (key, value) decoded as the document says. Partitions are
    assigned, not subscribed: librdkafka's consumer groups hang against tansu (ENVIRONMENT.md)."""
    (channel,) = [c for c in document["channels"].values() if c["address"] == address]
    partitions = channel["bindings"]["kafka"]["partitions"]
    consumer = confluent_kafka.Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "outside", "enable.auto.commit": False}
    )
    consumer.assign(
        [
            confluent_kafka.TopicPartition(address, p, confluent_kafka.OFFSET_BEGINNING)
            for p in range(partitions)
        ]
    )
    records: list[tuple[str, dict[str, Any]]] = []
    deadline = time.monotonic() + 30
    try:
        while len(records) < expected and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error():
                continue
            records.append((message.key().decode("utf-8"), json.loads(message.value())))
    finally:
        consumer.close()
    return records


def test_confluent_kafka_reads_bars_from_the_document_alone(kafka_bootstrap: str) -> None:
    bars = bar_series(3, 20)
    asyncio.run(publish_bars(kafka_bootstrap, bars))
    document = json.loads(DOCUMENT.read_text())

    records = read_topic(document, kafka_bootstrap, "md.bars.v1", len(bars))

    assert len(records) == len(bars)
    message = document["components"]["messages"]["Bar"]
    payload = {**message["payload"], "components": document["components"]}
    key_schema = message["bindings"]["kafka"]["key"]
    assert "instrument_id" in key_schema["description"]
    for key, value in records:
        jsonschema.validate(value, payload)
        jsonschema.validate(key, key_schema)
        assert key == value["instrument_id"]
    assert {(v["instrument_id"], v["ts_event"]) for _, v in records} == {
        (b.instrument_id, b.ts_event.isoformat().replace("+00:00", "Z")) for b in bars
    }
