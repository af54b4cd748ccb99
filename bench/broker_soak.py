"""Broker soak: the embedded tansu at the live pace, to see whether CPU, memory or latency drift.

Starts its own broker, creates one bars topic (the partitions of ``md.bars.v1``), publishes
``SEXTANT_SOAK_RATE`` (500) small Bar-shaped JSON records a second keyed by 500 instruments with
aiokafka, and reads them with a tail consumer (no group, from latest) timing publish→consume.
Every 10 s it samples the broker process's CPU (% of one core) and RSS, the produce-ack and
publish→consume p50/p99, and the topic's earliest offset (does anything ever get deleted?).

Runs 120 s by default; ``SEXTANT_SOAK_SECONDS=3600`` for the hour of issue 11 part 6.
``SEXTANT_SOAK_RETENTION_MS`` sets the topic's ``retention.ms`` (default: the channel's).
Prints one JSON object: every window, the first and last (after a warm-up window), and
last/first ratios. Never asserts numbers; the CPU is shared with whatever else runs.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sextant_common import topics
from sextant_common.broker_launcher import start_broker
from sextant_common.channels import CHANNELS

TOPIC = "bench.soak.bars"
WINDOW_S = 10.0
TICK_S = 0.1
INSTRUMENTS = 500
SENDERS = 4


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


def bar_payload(instrument: str, seq: int) -> bytes:
    """A Bar-shaped JSON record (~300 bytes), like the ingest publisher's."""
    return orjson.dumps(
        {
            "instrument_id": instrument,
            "asset_class": "equity",
            "interval": "1m",
            "ts_event": "2026-12-07T15:00:00+00:00",
            "open": 99.0 + seq % 7,
            "high": 101.0,
            "low": 98.0,
            "close": 100.0 + seq % 5,
            "volume": 1000.0,
            "source": "bench",
            "ts_known": "2026-12-07T15:01:00+00:00",
            "revision": 0,
        }
    )


async def create_topic(bootstrap: str, partitions: int, retention_ms: int | None) -> None:
    """Create the soak topic, with ``retention.ms`` when given."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        configs = {} if retention_ms is None else {"retention.ms": str(retention_ms)}
        await admin.create_topics(
            [
                NewTopic(
                    TOPIC, num_partitions=partitions, replication_factor=1, topic_configs=configs
                )
            ]
        )
    finally:
        await admin.close()


async def soak(
    bootstrap: str, pid: int, seconds: float, rate: int, *, batched: bool, tails: int
) -> list[dict[str, Any]]:
    """Publish at ``rate``/s for ``seconds`` with ``tails`` consumers reading from the end;
    return one dict per window (``consumed`` counts the records every tail read)."""
    # linger 0 like the FastStream publisher the ingest worker uses for live bars (one at a time).
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
    consumers = [
        AIOKafkaConsumer(TOPIC, bootstrap_servers=bootstrap, auto_offset_reset="latest")
        for _ in range(max(1, tails))
    ]
    await producer.start()
    for consumer in consumers:
        await consumer.start()
        # Wait for the assignment and position at the end before publishing.
        await consumer.getmany(timeout_ms=500)
    partitions = sorted(consumers[0].assignment(), key=lambda tp: tp.partition)
    if tails == 0:
        # Produce only: the first consumer stays open for the offsets but never fetches.
        consumers[0].pause(*partitions)
    proc = psutil.Process(pid)
    proc.cpu_percent()
    e2e: list[float] = []
    acks: list[float] = []
    consumed = 0
    stop = asyncio.Event()

    async def consume(consumer: AIOKafkaConsumer) -> None:
        nonlocal consumed
        while not stop.is_set():
            fetched = await consumer.getmany(timeout_ms=200, max_records=5000)
            now = time.time_ns()
            for records in fetched.values():
                for record in records:
                    sent = int(dict(record.headers)["sent_ns"])
                    e2e.append((now - sent) / 1e6)
                consumed += len(records)

    async def send(instrument: str, n: int) -> asyncio.Future[Any]:
        return await producer.send(
            TOPIC,
            bar_payload(instrument, n),
            key=instrument.encode(),
            headers=[("sent_ns", str(time.time_ns()).encode())],
        )

    async def send_each(bars: list[tuple[str, int]]) -> None:
        for instrument, n in bars:
            sent = time.time_ns()
            await (await send(instrument, n))
            acks.append((time.time_ns() - sent) / 1e6)

    def on_ack(sent: int) -> Any:
        return lambda _fut: acks.append((time.time_ns() - sent) / 1e6)

    tasks = [asyncio.create_task(consume(consumer)) for consumer in consumers[: max(0, tails)]]
    windows: list[dict[str, Any]] = []
    per_tick = max(1, round(rate * TICK_S))
    seq = 0
    started = time.monotonic()
    window_start = started
    next_tick = started
    produced = 0
    while time.monotonic() - started < seconds:
        tick = [(f"I{(seq + i) % INSTRUMENTS:03d}", seq + i) for i in range(per_tick)]
        seq += per_tick
        if batched:
            for instrument, n in tick:
                sent = time.time_ns()
                fut = await send(instrument, n)
                fut.add_done_callback(on_ack(sent))
        else:
            # Each bar awaited, so each is its own record batch (one stored object in tansu), as
            # ingest published live bars until it batched them per tick; a few senders keep pace.
            await asyncio.gather(*(send_each(tick[i::SENDERS]) for i in range(SENDERS)))
        produced += per_tick
        next_tick += TICK_S
        await asyncio.sleep(max(0.0, next_tick - time.monotonic()))
        if time.monotonic() - window_start >= WINDOW_S:
            earliest = await consumers[0].beginning_offsets(partitions)
            latest = await consumers[0].end_offsets(partitions)
            memory = proc.memory_info()
            windows.append(
                {
                    "t_s": round(time.monotonic() - started),
                    "produced_per_s": round(produced / (time.monotonic() - window_start)),
                    "consumed": consumed,
                    "broker_cpu_pct": round(proc.cpu_percent(), 1),
                    "broker_rss_mb": round(memory.rss / 2**20, 1),
                    "ack_p50_ms": _percentile(acks, 0.5),
                    "ack_p99_ms": _percentile(acks, 0.99),
                    "e2e_p50_ms": _percentile(e2e, 0.5),
                    "e2e_p99_ms": _percentile(e2e, 0.99),
                    "log_start": sum(earliest[tp] for tp in partitions),
                    "log_end": sum(latest[tp] for tp in partitions),
                    "host_load_1m": round(os.getloadavg()[0], 2),
                }
            )
            print(json.dumps(windows[-1]), file=sys.stderr, flush=True)
            e2e.clear()
            acks.clear()
            consumed = 0
            produced = 0
            window_start = time.monotonic()
    stop.set()
    await asyncio.gather(*tasks)
    await producer.stop()
    for consumer in consumers:
        await consumer.stop()
    return windows


def summarize(windows: list[dict[str, Any]]) -> dict[str, Any]:
    """First (after one warm-up window) and last window, and last/first ratios."""
    first, last = (windows[1] if len(windows) > 2 else windows[0]), windows[-1]
    ratios = {}
    for key in ("broker_cpu_pct", "broker_rss_mb", "e2e_p50_ms", "e2e_p99_ms", "ack_p99_ms"):
        if first.get(key) and last.get(key) is not None:
            ratios[key] = round(last[key] / first[key], 2)
    return {"first": first, "last": last, "last_over_first": ratios}


def main() -> None:
    seconds = float(os.environ.get("SEXTANT_SOAK_SECONDS", "120"))
    rate = int(os.environ.get("SEXTANT_SOAK_RATE", "500"))
    bars = next(c for c in CHANNELS if c.topic == topics.MD_BARS)
    retention = os.environ.get("SEXTANT_SOAK_RETENTION_MS", str(bars.retention_ms))
    retention_ms = int(retention) if retention else None
    batched = os.environ.get("SEXTANT_SOAK_PUBLISH", "single") == "batched"
    tails = int(os.environ.get("SEXTANT_SOAK_CONSUMERS", "1"))
    broker = start_broker()
    try:
        asyncio.run(create_topic(broker.bootstrap, bars.partitions, retention_ms))
        windows = asyncio.run(
            soak(broker.bootstrap, broker.process.pid, seconds, rate, batched=batched, tails=tails)
        )
    finally:
        broker.stop()
    print(
        json.dumps(
            {
                "bench": "broker_soak",
                "seconds": seconds,
                "rate_per_s": rate,
                "retention_ms": retention_ms,
                "publish": "batched" if batched else "single",
                "consumers": tails,
                **summarize(windows),
                "windows": windows,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
