"""Issue 11's acceptance on the running stack, with a client that shares no code with Sextant
(PyPI confluent-kafka, i.e. librdkafka) and knows only the checked-in AsyncAPI document:

* it reads every declared topic: the key and value decode as the document says, each value is
  valid against its payload schema and each record carries the headers its message declares;
* a garbage record it produces to any consumed topic lands in ``dlq.v1`` (browsable at
  ``GET /api/v1/dlq``) with its reason, original key and headers, and the stack goes on.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import confluent_kafka
import httpx
import jsonschema
import pytest

from sextant_common.events import AltSignal, Event, Fundamental, MacroObservation, NewsItem
from sextant_common.producer import EventProducer
from tests.conftest import Stack
from tests.support import auth_for, wait_for

pytestmark = pytest.mark.integration

DOCUMENT = json.loads((Path(__file__).resolve().parents[2] / "docs/asyncapi.json").read_text())
CHANNELS = {c["address"]: c for c in DOCUMENT["channels"].values()}
CONSUMED = sorted(
    {
        operation["channel"]["$ref"].rsplit("/", 1)[1].replace("_", ".")
        for operation in DOCUMENT["operations"].values()
        if operation["action"] == "receive"
    }
)
TRACEPARENT = r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"
GARBAGE_HEADERS = [("outside", b"librdkafka"), ("binary", b"\xff\x00")]


def _message(address: str) -> dict[str, Any]:
    (ref,) = CHANNELS[address]["messages"].values()
    name = ref["$ref"].rsplit("/", 1)[1]
    message: dict[str, Any] = DOCUMENT["components"]["messages"][name]
    return message


def _read(bootstrap: str, address: str, limit: int) -> list[Any]:
    """Up to ``limit`` records of every partition of ``address`` from the beginning, using the
    partition count the document gives (partitions are assigned: librdkafka's consumer groups
    hang against tansu, see ENVIRONMENT.md)."""
    partitions = CHANNELS[address]["bindings"]["kafka"]["partitions"]
    consumer = confluent_kafka.Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "outside", "enable.auto.commit": False}
    )
    consumer.assign(
        [
            confluent_kafka.TopicPartition(address, p, confluent_kafka.OFFSET_BEGINNING)
            for p in range(partitions)
        ]
    )
    records: list[Any] = []
    deadline = time.monotonic() + 10
    try:
        while len(records) < limit and time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is not None and not message.error():
                records.append(message)
    finally:
        consumer.close()
    return records


def _check_record(address: str, record: Any) -> None:
    """``record`` decodes and validates as the document says for ``address``."""
    message = _message(address)
    value = json.loads(record.value())
    jsonschema.validate(value, {**message["payload"], "components": DOCUMENT["components"]})
    key_schema = message["bindings"]["kafka"]["key"]
    if record.key() is not None:
        jsonschema.validate(record.key().decode("utf-8"), key_schema)
    headers = {name: raw.decode("utf-8", "replace") for name, raw in record.headers() or []}
    declared = message["headers"]
    jsonschema.validate(headers, declared)
    if "sextant.event_type" in declared.get("required", []):
        assert headers["sextant.event_type"] == message["name"]
        assert headers["sextant.schema_version"] == address.rsplit(".v", 1)[1]
        assert jsonschema.Draft202012Validator({"pattern": TRACEPARENT}).is_valid(
            headers["traceparent"]
        )


def _facts() -> list[Event]:
    now = datetime.now(UTC)
    day = datetime(2024, 3, 31, tzinfo=UTC)
    return [
        Fundamental(
            entity_id="ACME",
            concept="us-gaap:Revenues",
            value=1e9,
            unit="USD",
            period_end=day,
            source="test",
            ts_known=now,
        ),
        MacroObservation(
            series_id="FRED:GDPC1",
            period=day,
            frequency="Q",
            value=22_000.5,
            source="test",
            ts_known=now,
        ),
        NewsItem(
            item_id="n-1",
            ts_published=now,
            title="Acme beats",
            url="https://example.com/n-1",
            publisher="Wire",
            instruments=("ACME",),
            source="test",
            ts_known=now,
        ),
        AltSignal(
            signal="reddit.sentiment",
            subject="ACME",
            ts_event=now,
            value=0.7,
            source="test",
            ts_known=now,
        ),
    ]


async def _publish_facts(bootstrap: str) -> None:
    async with EventProducer(bootstrap) as producer:
        await producer.publish(_facts())


def _produce_garbage(bootstrap: str, run: str) -> dict[str, str]:
    """One garbage record per consumed topic, keyed ``<run>-<topic>``; returns topic -> key."""
    producer = confluent_kafka.Producer({"bootstrap.servers": bootstrap})
    keys = {topic: f"{run}-{topic}" for topic in CONSUMED}
    for topic, key in keys.items():
        producer.produce(topic, value=b'{"not": "an event"', key=key, headers=GARBAGE_HEADERS)
    assert producer.flush(30) == 0
    return keys


def _letters(gateway: str, topic: str) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{gateway}/api/v1/dlq",
        params={"topic": topic},
        timeout=10,
        auth=auth_for(gateway, "researcher"),  # dead letters hold raw payloads: not for viewers
    )
    assert response.status_code == 200, response.text
    letters: list[dict[str, Any]] = response.json()["letters"]
    return letters


def test_an_outside_client_reads_every_topic_and_its_garbage_is_dead_lettered(
    full_stack: Stack,
) -> None:
    gateway, bootstrap = full_stack.gateway_url, full_stack.bootstrap
    assert set(CHANNELS) >= {"md.bars.v1", "jobs.requests.v1", "jobs.events.v1", "dlq.v1"}
    assert set(CONSUMED) == set(CHANNELS), "every declared topic has a consumer"

    # Something on every topic but the DLQ: live bars, a job, fetched facts.
    job = httpx.post(
        f"{gateway}/api/v1/backtests",
        json={"symbol": "SPX", "strategy": "50SMA.200EMA"},
        timeout=30,
        auth=full_stack.auth("researcher"),
    )
    assert job.status_code == 202, job.text
    asyncio.run(_publish_facts(bootstrap))
    for address in sorted(set(CHANNELS) - {"dlq.v1"}):
        records = _read(bootstrap, address, limit=50)
        assert records, f"nothing read from {address}"
        for record in records:
            _check_record(address, record)

    run = uuid.uuid4().hex[:8]
    keys = _produce_garbage(bootstrap, run)

    for topic, key in keys.items():
        letter = wait_for(
            lambda t=topic, k=key: next((x for x in _letters(gateway, t) if x["key"] == k), None),
            60,
            f"the garbage record sent to {topic} in GET /api/v1/dlq",
        )
        assert letter["topic"] == topic and letter["value"] == '{"not": "an event"'
        assert letter["error"], f"no reason for the dead letter of {topic}"
        assert letter["headers"][:2] == [
            {"name": "outside", "value_b64": "bGlicmRrYWZrYQ==", "value": "librdkafka"},
            {"name": "binary", "value_b64": "/wA=", "value": None},
        ]

    # The DLQ itself, read by the outside client as the document says.
    dead = [r for r in _read(bootstrap, "dlq.v1", limit=100) if r.key() is not None]
    garbage_on_dlq = keys.pop("dlq.v1")  # kept as a letter of dlq.v1 itself, not re-sent
    ours = [r for r in dead if r.key().decode() in set(keys.values())]
    assert {r.key().decode() for r in ours} == set(keys.values())
    assert garbage_on_dlq not in {r.key().decode() for r in ours}
    for record in ours:
        _check_record("dlq.v1", record)

    # The stack goes on: every service ready, a new job runs to the end.
    for port in (full_stack.ports.datasets, full_stack.ports.quant, full_stack.ports.gateway):
        assert httpx.get(f"http://127.0.0.1:{port}/ready", timeout=10).status_code == 200
    job_id = job.json()["job_id"]
    wait_for(
        lambda: (
            httpx.get(
                f"{gateway}/api/v1/backtests/{job_id}", timeout=10, auth=full_stack.auth()
            ).json()["status"]
            == "succeeded"
        ),
        120,
        "the backtest submitted before the garbage to succeed",
    )
    again = httpx.post(
        f"{gateway}/api/v1/backtests",
        json={"symbol": "SPX", "strategy": "50SMA.200EMA"},
        auth=full_stack.auth("researcher"),
    )
    assert again.status_code == 202, again.text
