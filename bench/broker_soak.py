"""Broker soak: the embedded tansu at the live pace, to see whether CPU, memory or latency drift.

Starts its own broker (on ``SEXTANT_SOAK_BROKER_PORT``, else a free port), creates one bars topic
(the partitions of ``md.bars.v1``), publishes ``SEXTANT_SOAK_RATE`` (500) small Bar-shaped JSON
records a second keyed by 500 instruments with aiokafka, and reads them with
``SEXTANT_SOAK_CONSUMERS`` (1) tail consumers (no group, from latest) timing publish→consume.
Every 10 s it samples the broker process's CPU (% of one core) and RSS, the produce-ack and
publish→consume p50/p99, the record batches published so far and the topic's earliest offset
(does anything ever get deleted?).

``SEXTANT_SOAK_PUBLISH`` says how the bars become record batches, the broker's unit of storage:

- ``single`` (default): each bar awaited, one batch per bar (how ingest published live bars
  before it batched them per tick);
- ``batched``: every 0.1 s, the bars sent without awaiting (linger 0: aiokafka groups whatever
  is queued, a few to tens of bars per batch);
- ``tick``: every ``SEXTANT_SOAK_TICK_S`` (1 s), one batch per partition holding that tick's
  bars, as the ingest worker publishes a live tick (``BarPublisher.publish_stream``).

``SEXTANT_SOAK_COMPRESSION`` (``gzip``; default none) compresses the batches.

``SEXTANT_SOAK_TARGET=stack`` soaks `make run` itself instead: ``scripts/run_stack.py`` against
this broker (its services on ``SEXTANT_SOAK_STACK_PORT``..+3, else free ports; a temporary data
dir with test users made before it starts), at its own live pace (ingest's live ticks). Once
"Sextant is up", a WebSocket client signs in as a viewer, subscribes to every simulated
instrument and times live bars from ``ts_known`` to arrival
(publish→WebSocket, through ingest, the broker and the gateway); windows are 30 s.
Runs 120 s by default; ``SEXTANT_SOAK_SECONDS=3600`` for the hour of issue 11 part 6.
``SEXTANT_SOAK_RETENTION_MS`` sets the topic's ``retention.ms`` (default: the channel's).
Prints one JSON object: every window, the first and last (after a warm-up window), last/first
ratios, first- and last-sixth means and least-squares slopes per hour. Never asserts numbers;
the CPU is shared with whatever else runs.

Measured 2026-12-07 (2 shared cores, other sessions' tests running: host load 0.4-10, so read
ratios, not levels; "first"/"last" are means of the first and last sixth of the run):

- ``single``, 2 consumers, 6 min: broker CPU 25% → 122% of a core, RSS 42 → 166 MB,
  publish→consume p50 127 → 354 ms, p99 278 → 1,004 ms, ack p99 16 → 206 ms.
- ``batched``, 1 consumer, 10 min: CPU 2.1% → 14.5%, RSS 38 → 192 MB, p99 260 → 358 ms.
- ``tick`` (1 s), 2 consumers, 60 min, 21,600 batches: CPU 1.1% → 4.7%, RSS 74 → 659 MB
  (+704 MB/h), p50 30 → 58 ms, p99 263 → 275 ms, ack p99 23 → 9 ms. With gzip: CPU 1.0% →
  4.6%, RSS 23 → 79 MB (+68 MB/h), p50 25 → 57 ms, p99 258 → 273 ms.
- ``SEXTANT_SOAK_TARGET=stack`` (`make run`, 5 s ticks of 52 instruments, ~10 bars/s), 45 min:
  CPU 9.7% → 11.0%, RSS 33 → 53 MB (+31 MB/h), publish→WebSocket p50 24 → 25 ms, p99 47 → 47 ms.

The ~250 ms p99 floor of the tail consumers is tansu's long poll (it re-checks after half the
remaining ``fetch_max_wait_ms``, 500 ms by default), not load. Nothing was ever deleted
(``log_start`` stayed 0): the broker enforces no retention (see ``broker_launcher``).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil
import websockets
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sextant_common import topics
from sextant_common.broker_launcher import free_port, start_broker
from sextant_common.channels import CHANNELS
from sextant_common.producer import partition_for
from tests.support import auth_for, create_test_users, register_gateway, ws_authenticate

TOPIC = "bench.soak.bars"
WINDOW_S = 10.0
TICK_S = 0.1
MODES = ("single", "batched", "tick")
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
    bootstrap: str,
    pid: int,
    seconds: float,
    rate: int,
    *,
    mode: str = "single",
    tails: int = 1,
    tick_s: float = 1.0,
    compression: str | None = None,
) -> list[dict[str, Any]]:
    """Publish at ``rate``/s for ``seconds`` with ``tails`` consumers reading from the end;
    return one dict per window (``consumed`` counts the records every tail read)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    # linger 0 like the FastStream publisher of the ingest worker; a 1 MB batch like its broker's
    # max_batch_size, so a tick's bars of one partition fit in one batch.
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        linger_ms=0,
        max_batch_size=1_048_576,
        compression_type=compression,
    )
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

    async def send_tick(bars: list[tuple[str, int]]) -> int:
        """One batch per partition (more only if one overflows 1 MB); return the batches."""
        by_partition: dict[int, list[tuple[str, int]]] = {}
        for instrument, n in bars:
            by_partition.setdefault(partition_for(instrument.encode(), len(partitions)), []).append(
                (instrument, n)
            )
        futures = []
        sent_ns = str(time.time_ns()).encode()
        for partition, members in by_partition.items():
            batch = producer.create_batch()
            for instrument, n in members:
                appended = batch.append(
                    timestamp=None,
                    key=instrument.encode(),
                    value=bar_payload(instrument, n),
                    headers=[("sent_ns", sent_ns)],
                )
                if appended is None:  # full: send it, start the next one
                    futures.append(await producer.send_batch(batch, TOPIC, partition=partition))
                    batch = producer.create_batch()
                    batch.append(
                        timestamp=None,
                        key=instrument.encode(),
                        value=bar_payload(instrument, n),
                        headers=[("sent_ns", sent_ns)],
                    )
            futures.append(await producer.send_batch(batch, TOPIC, partition=partition))
        sent = int(sent_ns)
        for fut in futures:
            fut.add_done_callback(on_ack(sent))
        return len(futures)

    tasks = [asyncio.create_task(consume(consumer)) for consumer in consumers[: max(0, tails)]]
    windows: list[dict[str, Any]] = []
    period_s = tick_s if mode == "tick" else TICK_S
    per_tick = max(1, round(rate * period_s))
    batches = 0
    seq = 0
    started = time.monotonic()
    window_start = started
    next_tick = started
    produced = 0
    while time.monotonic() - started < seconds:
        tick = [(f"I{(seq + i) % INSTRUMENTS:03d}", seq + i) for i in range(per_tick)]
        seq += per_tick
        if mode == "tick":
            batches += await send_tick(tick)
        elif mode == "batched":
            for instrument, n in tick:
                sent = time.time_ns()
                fut = await send(instrument, n)
                fut.add_done_callback(on_ack(sent))
        else:
            # Each bar awaited, so each is its own record batch (one stored object in tansu), as
            # ingest published live bars until it batched them per tick; a few senders keep pace.
            await asyncio.gather(*(send_each(tick[i::SENDERS]) for i in range(SENDERS)))
            batches += per_tick
        produced += per_tick
        next_tick += period_s
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
                    # Counted in tick and single modes (batched: aiokafka decides, not known).
                    "batches_sent": batches if mode != "batched" else None,
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


SUMMARIZED = ("broker_cpu_pct", "broker_rss_mb", "e2e_p50_ms", "e2e_p99_ms", "ack_p99_ms")


def _slope_per_hour(windows: list[dict[str, Any]], key: str) -> float | None:
    """Least-squares slope of ``key`` over ``t_s``, per hour (None with fewer than 3 points)."""
    points = [(w["t_s"], w[key]) for w in windows if w.get(key) is not None]
    if len(points) < 3:
        return None
    mean_t = sum(t for t, _ in points) / len(points)
    mean_v = sum(v for _, v in points) / len(points)
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return None
    cov = sum((t - mean_t) * (v - mean_v) for t, v in points)
    return round(cov / var * 3600, 2)


def summarize(windows: list[dict[str, Any]]) -> dict[str, Any]:
    """First (after one warm-up window) and last window, last/first ratios, and the slope per
    hour of each summarized figure over the windows after the warm-up. Averages of the first and
    last sixth of the run (at least one window each) smooth out a noisy single window."""
    settled = windows[1:] if len(windows) > 2 else windows
    first, last = settled[0], settled[-1]
    ratios = {}
    for key in SUMMARIZED:
        if first.get(key) and last.get(key) is not None:
            ratios[key] = round(last[key] / first[key], 2)
    sixth = max(1, len(settled) // 6)

    def mean(rows: list[dict[str, Any]], key: str) -> float | None:
        values = [row[key] for row in rows if row.get(key) is not None]
        return round(sum(values) / len(values), 2) if values else None

    return {
        "first": first,
        "last": last,
        "last_over_first": ratios,
        "first_sixth_mean": {key: mean(settled[:sixth], key) for key in SUMMARIZED},
        "last_sixth_mean": {key: mean(settled[-sixth:], key) for key in SUMMARIZED},
        "slope_per_hour": {key: _slope_per_hour(settled, key) for key in SUMMARIZED},
    }


STACK_WINDOW_S = 30.0
ROOT = Path(__file__).resolve().parents[1]


def start_stack(
    bootstrap: str, data_dir: Path, base_port: int | None
) -> tuple[subprocess.Popen[bytes], str]:
    """`make run`'s runner against ``bootstrap``, with test users (``tests.support.auth_for``
    signs in at its gateway); wait for "Sextant is up"; return the process and the gateway
    address (host:port)."""
    names = ("gateway", "datasets", "quant", "ingest")
    ports = {name: (base_port + i if base_port else free_port()) for i, name in enumerate(names)}
    register_gateway(f"http://127.0.0.1:{ports['gateway']}", create_test_users(data_dir))
    env = {
        **os.environ,
        "SEXTANT_KAFKA_BOOTSTRAP": bootstrap,
        "SEXTANT_DATA_DIR": str(data_dir),
        **{f"SEXTANT_{name.upper()}_PORT": str(port) for name, port in ports.items()},
    }
    log = (data_dir / "run_stack.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts/run_stack.py")],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        if b"Sextant is up" in (data_dir / "run_stack.log").read_bytes():
            return process, f"127.0.0.1:{ports['gateway']}"
        if process.poll() is not None:
            break
        time.sleep(1.0)
    stop_stack(process)
    raise RuntimeError(f"the stack did not come up; see {data_dir / 'run_stack.log'}")


def stop_stack(process: subprocess.Popen[bytes]) -> None:
    """SIGINT, as Ctrl-C on `make run`, then wait."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def soak_stack(gateway: str, pid: int, seconds: float) -> list[dict[str, Any]]:
    """Time live bars over the gateway's WebSocket for ``seconds``; sample the broker."""
    auth = auth_for(f"http://{gateway}", "viewer")
    async with httpx.AsyncClient(base_url=f"http://{gateway}", timeout=30, auth=auth) as client:
        response = await client.get("/api/v1/instruments")
        listing = response.raise_for_status().json()["instruments"]
    symbols = sorted({i["instrument_id"] for i in listing if i["source"] == "simulated"})
    proc = psutil.Process(pid)
    proc.cpu_percent()
    latencies: list[float] = []
    windows: list[dict[str, Any]] = []
    async with websockets.connect(f"ws://{gateway}/ws", max_size=2**22) as ws:
        await ws_authenticate(ws, f"ws://{gateway}/ws", "viewer")
        await ws.send(json.dumps({"subscribe": symbols}))
        started = time.monotonic()
        window_start = started
        received = 0
        while time.monotonic() - started < seconds:
            try:
                raw = await asyncio.wait_for(ws.recv(), timeout=1.0)
            except TimeoutError:
                raw = None
            if raw is not None:
                message = json.loads(raw)
                if message.get("type") == "bar":
                    known = datetime.fromisoformat(message["bar"]["ts_known"]).timestamp()
                    latencies.append((time.time() - known) * 1000)
                    received += 1
            if time.monotonic() - window_start >= STACK_WINDOW_S:
                windows.append(
                    {
                        "t_s": round(time.monotonic() - started),
                        "bars_received": received,
                        "broker_cpu_pct": round(proc.cpu_percent(), 1),
                        "broker_rss_mb": round(proc.memory_info().rss / 2**20, 1),
                        "e2e_p50_ms": _percentile(latencies, 0.5),
                        "e2e_p99_ms": _percentile(latencies, 0.99),
                        "host_load_1m": round(os.getloadavg()[0], 2),
                    }
                )
                print(json.dumps(windows[-1]), file=sys.stderr, flush=True)
                latencies.clear()
                received = 0
                window_start = time.monotonic()
    return windows


def main_stack(seconds: float) -> None:
    """``SEXTANT_SOAK_TARGET=stack``: soak `make run` at its own live pace."""
    broker = start_broker(int(os.environ.get("SEXTANT_SOAK_BROKER_PORT", "0")) or None)
    base_port = int(os.environ.get("SEXTANT_SOAK_STACK_PORT", "0")) or None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            stack, gateway = start_stack(broker.bootstrap, Path(tmp), base_port)
            try:
                windows = asyncio.run(soak_stack(gateway, broker.process.pid, seconds))
            finally:
                stop_stack(stack)
    finally:
        broker.stop()
    summary = summarize(windows)
    print(
        json.dumps(
            {
                "bench": "broker_soak",
                "target": "stack",
                "seconds": seconds,
                **summary,
                "windows": windows,
            },
            indent=1,
        )
    )


def main() -> None:
    seconds = float(os.environ.get("SEXTANT_SOAK_SECONDS", "120"))
    if os.environ.get("SEXTANT_SOAK_TARGET", "broker") == "stack":
        main_stack(seconds)
        return
    rate = int(os.environ.get("SEXTANT_SOAK_RATE", "500"))
    bars = next(c for c in CHANNELS if c.topic == topics.MD_BARS)
    retention = os.environ.get("SEXTANT_SOAK_RETENTION_MS", str(bars.retention_ms))
    retention_ms = int(retention) if retention else None
    mode = os.environ.get("SEXTANT_SOAK_PUBLISH", "single")
    tails = int(os.environ.get("SEXTANT_SOAK_CONSUMERS", "1"))
    tick_s = float(os.environ.get("SEXTANT_SOAK_TICK_S", "1"))
    compression = os.environ.get("SEXTANT_SOAK_COMPRESSION") or None
    broker = start_broker(int(os.environ.get("SEXTANT_SOAK_BROKER_PORT", "0")) or None)
    try:
        asyncio.run(create_topic(broker.bootstrap, bars.partitions, retention_ms))
        windows = asyncio.run(
            soak(
                broker.bootstrap,
                broker.process.pid,
                seconds,
                rate,
                mode=mode,
                tails=tails,
                tick_s=tick_s,
                compression=compression,
            )
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
                "publish": mode,
                "tick_s": tick_s if mode == "tick" else TICK_S,
                "compression": compression,
                "consumers": tails,
                **summarize(windows),
                "windows": windows,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
