"""Bus benchmark: bars from ingest publish to durable in the lake, against raw aiokafka.

Anchor (same broker, same run): aiokafka produce -> consume of the same messages.
Ours: the ingest BarPublisher (the shared producer) -> md.bars.v1 -> the datasets service process
(the shared durable consumer) -> Parquet (fsynced), timed until its counter says every bar is
durable (DuckDB checks the lake is exact afterwards). Each shape runs on a broker of its own (a
shape's datasets service reads from the start; on a shared broker the daily run re-read the minute
run's bars and stopped early). Also p50/p99 publish-to-WebSocket latency through a real gateway
(the WebSocket signs in as a viewer before the first bar is published).
Prints one JSON object; never asserts wall-clock numbers.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import websockets
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sextant_common import topics
from sextant_common.broker_launcher import start_broker
from sextant_common.bus import ensure_topics
from sextant_common.devstack import start_services, stop_services
from sextant_common.events import Bar, Interval
from sextant_common.producer import EventProducer
from sextant_common.settings import CommonSettings
from sextant_ingest.publisher import BarPublisher
from tests.integration.lake_probe import lake_counts
from tests.support import (
    Ports,
    make_bar,
    running_services,
    service_env,
    spec,
    ws_authenticate,
)


def daily_backfill(symbols: int, days: int) -> list[Bar]:
    """A backfill shape: ``symbols`` instruments x ``days`` daily bars, instrument by instrument."""
    base = datetime(2010, 1, 1, tzinfo=UTC)
    return [
        make_bar(f"B{s:03d}", base + timedelta(days=d), close=100 + d % 9, source="bench")
        for s in range(symbols)
        for d in range(days)
    ]


def minute_stream(symbols: int, minutes: int) -> list[Bar]:
    """A live shape: every minute one bar per instrument, interleaved."""
    base = datetime(2024, 3, 4, 14, 30, tzinfo=UTC)
    return [
        make_bar(f"M{s:03d}", base + timedelta(minutes=m), interval=Interval.M1, source="bench")
        for m in range(minutes)
        for s in range(symbols)
    ]


async def raw_aiokafka(bootstrap: str, payloads: list[tuple[bytes, bytes]], topic: str) -> float:
    """Seconds for aiokafka to produce ``payloads`` and a group consumer to read them all."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=1 << 20)
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"raw-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await producer.start()
    await consumer.start()
    started = time.perf_counter()
    for key, value in payloads:
        await producer.send(topic, value, key=key)
    await producer.flush()
    seen = 0
    while seen < len(payloads):
        fetched = await consumer.getmany(timeout_ms=500, max_records=10_000)
        seen += sum(len(batch) for batch in fetched.values())
    await consumer.commit()
    elapsed = time.perf_counter() - started
    await consumer.stop()
    await producer.stop()
    return elapsed


def written(metrics_url: str) -> float:
    """Bars the datasets service has made durable, from its Prometheus counter."""
    for line in httpx.get(metrics_url).text.splitlines():
        if line.startswith("sextant_lake_bars_written_total "):
            return float(line.split()[1])
    return 0.0


async def publish(bootstrap: str, bars: list[Bar]) -> float:
    """Publish ``bars`` with the ingest service's own publisher, connected before the clock
    starts (as the anchor's producer is); return when the clock started."""
    async with EventProducer(bootstrap) as producer:
        started = time.perf_counter()
        await BarPublisher(producer).publish_stream(_aiter(bars))
    return started


async def _aiter(bars: list[Bar]) -> AsyncIterator[Bar]:
    for bar in bars:
        yield bar


def ours(bootstrap: str, bars: list[Bar], data_dir: Path) -> float:
    """Seconds from the first publish until every bar is durable in the lake."""
    ports = Ports.allocate()
    env = {**os.environ, **service_env(bootstrap, data_dir, ports)}
    env["SEXTANT_DATASETS_GROUP"] = f"bench-{uuid.uuid4().hex[:6]}"
    services = start_services([spec("datasets", ports.datasets)], env, sink=lambda _l: None)
    try:
        time.sleep(3)  # let the consumer join its group before the clock starts
        started = asyncio.run(publish(bootstrap, bars))
        metrics = f"http://127.0.0.1:{ports.datasets}/metrics"
        deadline = started + 600
        # Every 0.1 s: rendering /metrics runs on the consumer's event loop, and polling it every
        # 20 ms cost the consumer a fifth of its speed. The clock can overshoot by 0.1 s (~4%),
        # against us. DuckDB verifies the lake at the end.
        while written(metrics) < len(bars):
            if time.perf_counter() > deadline:
                raise RuntimeError(
                    f"only {written(metrics):.0f} of {len(bars)} bars durable after 600 s "
                    "(refused or dead-lettered? see the datasets /metrics)"
                )
            time.sleep(0.1)
        elapsed = time.perf_counter() - started
        assert lake_counts(data_dir / "lake") == (len(bars), len(bars)), "lake is not exact"
        return elapsed
    finally:
        stop_services(services)


async def ws_latency(bootstrap: str, gateway_port: int, count: int, rate: float) -> list[float]:
    """Publish ``count`` live bars at ``rate``/s; return publish->WebSocket receive latencies."""
    received: list[float] = []
    url = f"ws://127.0.0.1:{gateway_port}/ws"
    async with websockets.connect(url, compression=None) as ws:
        await ws_authenticate(ws, url, "viewer")
        await ws.send('{"subscribe": ["LAT"]}')
        await ws.recv()
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()

        async def send_all() -> None:
            base = datetime(2026, 1, 1, tzinfo=UTC)
            for i in range(count):
                bar = make_bar(
                    "LAT",
                    base + timedelta(seconds=i),
                    interval=Interval.S1,
                    ts_known=datetime.now(UTC),
                )
                await producer.send_and_wait(topics.MD_BARS, bar.to_bytes(), key=b"LAT")
                await asyncio.sleep(1 / rate)

        sender = asyncio.create_task(send_all())
        while len(received) < count:
            message = orjson.loads(await ws.recv())
            known = datetime.fromisoformat(message["bar"]["ts_known"])
            received.append((datetime.now(UTC) - known).total_seconds() * 1000)
        await sender
        await producer.stop()
    return received


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def shape(name: str, bars: list[Bar]) -> dict[str, object]:
    """Ours against the raw anchor for one shape, on a broker of its own (a shape's datasets
    service reads md.bars.v1 from the start and must find only that shape's bars)."""
    broker = start_broker()
    try:
        asyncio.run(ensure_topics(CommonSettings(kafka_bootstrap=broker.bootstrap)))
        payloads = [(b.key, b.to_bytes()) for b in bars]
        anchor = asyncio.run(raw_aiokafka(broker.bootstrap, payloads, f"raw.{name}"))
        with tempfile.TemporaryDirectory() as tmp:
            ours_s = ours(broker.bootstrap, bars, Path(tmp))
    finally:
        broker.stop()
    return {
        "bars": len(bars),
        "ours_bars_per_s": round(len(bars) / ours_s),
        "raw_aiokafka_bars_per_s": round(len(bars) / anchor),
        "ratio_ours_over_raw": round(anchor / ours_s, 3),
    }


def main() -> None:
    results: dict[str, object] = {}
    for name, bars in (
        ("minute_bars_500x200", minute_stream(500, 200)),
        ("daily_backfill_100x1000", daily_backfill(100, 1000)),
    ):
        results[name] = shape(name, bars)
        print(name, results[name], file=sys.stderr, flush=True)
    broker = start_broker()
    try:
        asyncio.run(ensure_topics(CommonSettings(kafka_bootstrap=broker.bootstrap)))
        with (
            tempfile.TemporaryDirectory() as tmp,
            running_services(broker.bootstrap, Path(tmp), ["gateway"]) as ports,
        ):
            latencies = asyncio.run(ws_latency(broker.bootstrap, ports.gateway, 1000, 200))
        results["publish_to_websocket_ms"] = {
            "p50": round(percentile(latencies, 0.5), 2),
            "p99": round(percentile(latencies, 0.99), 2),
            "n": len(latencies),
        }
    finally:
        broker.stop()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
