"""Live analytics lag: 500 instruments x 1 bar/s, bar publish -> analytics on a WebSocket.

A broker and real datasets, quant and gateway processes. Each second 500 one-second bars (one of
them the beta benchmark, SPX; ``ts_known`` = publish time) go to ``md.bars.v1``; the quant
service's live analytics turn each into a ``quant.analytics.v1`` event (EWMA volatility, VaR,
rolling beta, regime state) that the gateway fans out. In a process apart from the publisher,
one WebSocket client subscribes to the 500 ``analytics:<symbol>`` channels and another to the
500 bar channels (each first signs in with a viewer's access token): the bars' own publish ->
WebSocket lag in the same run is the in-run reference, so the ratio is the cost of the quant hop;
``computed`` is the lag to the quant service's computation (the event's ``ts_computed``). The
target (shared/BENCHMARKS.md) is p99 < 50 ms for the analytics.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np
import orjson
import websockets
from aiokafka import AIOKafkaProducer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sextant_common import topics  # noqa: E402
from sextant_common.broker_launcher import start_broker  # noqa: E402
from sextant_common.bus import ensure_topics  # noqa: E402
from sextant_common.events import Interval  # noqa: E402
from sextant_common.settings import CommonSettings  # noqa: E402
from tests.support import auth_for, make_bar, running_services  # noqa: E402

SYMBOLS = ["SPX", *(f"L{i:03d}" for i in range(499))]
WARMUP_S = 25  # the EWMA seeds after 20 bars, the beta after 20 matched bars
MEASURE_S = 30
START_S = 5.0  # the watcher process starts and subscribes
TARGET_P99_MS = 50.0


async def _watch(
    port: int, token: str, channels: list[str], sink: dict[str, list[float]], kind: str
) -> None:
    """Sign in with the access ``token``; record now - publish time (s) of every message of
    ``kind`` on ``channels``."""
    async with websockets.connect(
        f"ws://127.0.0.1:{port}/ws", compression=None, max_size=2**22
    ) as ws:
        await ws.send(orjson.dumps({"auth": token}).decode())
        assert orjson.loads(await ws.recv())["type"] == "auth"
        await ws.send(orjson.dumps({"subscribe": channels}).decode())
        assert orjson.loads(await ws.recv())["type"] == "subscribed"
        async for raw in ws:
            message = orjson.loads(raw)
            if message.get("type") != kind:
                continue
            body = message[kind]
            sink.setdefault(body["ts_event"], []).append(time.time())
            if kind == "analytics":
                computed = datetime.fromisoformat(body["ts_computed"]).timestamp()
                sink.setdefault("computed:" + body["ts_event"], []).append(computed)


async def _publish(bootstrap: str, seconds: int, published: dict[str, float]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=1)
    await producer.start()
    rng = np.random.default_rng(0)
    prices = dict.fromkeys(SYMBOLS, 100.0)
    try:
        next_tick = time.time() + 0.5
        for _ in range(seconds):
            await asyncio.sleep(max(0.0, next_tick - time.time()))
            now = datetime.now(UTC)
            start = now.replace(microsecond=0) - timedelta(seconds=1)
            shocks = rng.normal(0, 0.001, len(SYMBOLS))
            sent = []
            for symbol, shock in zip(SYMBOLS, shocks, strict=True):
                prices[symbol] *= float(np.exp(shock))
                bar = make_bar(
                    symbol,
                    start,
                    close=prices[symbol],
                    interval=Interval.S1,
                    source="bench",
                    ts_known=now,
                )
                sent.append(await producer.send(topics.MD_BARS, bar.to_bytes(), key=bar.key))
            await asyncio.gather(*sent)
            published[start.isoformat().replace("+00:00", "Z")] = now.timestamp()
            next_tick += 1.0
    finally:
        await producer.stop()


def _lags_ms(received: dict[str, list[float]], published: dict[str, float]) -> np.ndarray:
    lags = [
        (at - published[ts]) * 1000
        for ts, times in received.items()
        if ts in published
        for at in times
    ]
    return np.array(lags)


def _watch_process(port: int, token: str, seconds: float, conn: Connection) -> None:
    """Both WebSocket clients (signed in with the access ``token``), in a process of their own
    (not sharing a loop with the publisher); sends back their ``(analytics, bars)`` receive
    times after ``seconds``."""

    async def watch() -> tuple[dict[str, list[float]], dict[str, list[float]]]:
        analytics: dict[str, list[float]] = {}
        bars: dict[str, list[float]] = {}
        channels = [f"analytics:{s}" for s in SYMBOLS]
        watchers = [
            asyncio.create_task(_watch(port, token, channels, analytics, "analytics")),
            asyncio.create_task(_watch(port, token, SYMBOLS, bars, "bar")),
        ]
        await asyncio.sleep(seconds)
        for task in watchers:
            if task.done():
                task.result()  # a watcher that failed says why
            task.cancel()
        return analytics, bars

    conn.send(asyncio.run(watch()))


async def _run(bootstrap: str, port: int) -> dict[str, object]:
    context = mp.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    token = auth_for(f"http://127.0.0.1:{port}", "viewer").token()  # lives 15 min, > the run
    watcher = context.Process(
        target=_watch_process, args=(port, token, START_S + WARMUP_S + MEASURE_S + 3, sender)
    )
    watcher.start()
    await asyncio.sleep(START_S)
    warm: dict[str, float] = {}
    await _publish(bootstrap, WARMUP_S, warm)
    measured: dict[str, float] = {}
    await _publish(bootstrap, MEASURE_S, measured)
    analytics, bars = await asyncio.to_thread(receiver.recv)
    watcher.join()
    a = _lags_ms(analytics, measured)
    computed = _lags_ms(
        {k.removeprefix("computed:"): v for k, v in analytics.items() if k.startswith("computed:")},
        measured,
    )
    b = _lags_ms(bars, measured)
    expected = MEASURE_S * len(SYMBOLS)
    return {
        "benchmark": "live_analytics",
        "instruments": len(SYMBOLS),
        "bars_per_second": len(SYMBOLS),
        "measured_s": MEASURE_S,
        "analytics_delivered": int(a.size),
        "analytics_expected": expected,
        "analytics_p50_ms": round(float(np.percentile(a, 50)), 1),
        "analytics_p99_ms": round(float(np.percentile(a, 99)), 1),
        "computed_p50_ms": round(float(np.percentile(computed, 50)), 1),
        "computed_p99_ms": round(float(np.percentile(computed, 99)), 1),
        "bars_p50_ms": round(float(np.percentile(b, 50)), 1),
        "bars_p99_ms": round(float(np.percentile(b, 99)), 1),
        "p99_ratio_to_bars": round(float(np.percentile(a, 99) / np.percentile(b, 99)), 2),
        "target_p99_ms": TARGET_P99_MS,
    }


def main() -> None:
    broker = start_broker()
    try:
        asyncio.run(ensure_topics(CommonSettings(kafka_bootstrap=broker.bootstrap)))
        with (
            tempfile.TemporaryDirectory() as tmp,
            running_services(
                broker.bootstrap, Path(tmp), ["datasets", "quant", "gateway"]
            ) as ports,
        ):
            report = asyncio.run(_run(broker.bootstrap, ports.gateway))
    finally:
        broker.stop()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
