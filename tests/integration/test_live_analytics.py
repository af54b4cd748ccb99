"""Live analytics end to end: bars on ``md.bars.v1`` → the quant service's own consumer group →
``quant.analytics.v1`` → the gateway's WebSocket channel ``analytics:<symbol>``, with figures
equal to a batch recomputation from the same closes, the bar's trace continued, and backfilled
bars (known long ago) and a bar from the future passing through without analytics."""

from __future__ import annotations

import asyncio
import math
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import pandas as pd
import pytest
import websockets
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from sextant_common import topics, tracecontext
from sextant_common.bus import ensure_topics
from sextant_common.events import Bar
from sextant_common.settings import CommonSettings
from sextant_quant.live.figures import BETA_WINDOW, EWMA_SEED_BARS, RISKMETRICS_LAMBDA
from tests.support import (
    auth_for,
    make_bar,
    publish_bars,
    running_services,
    wait_for,
    ws_authenticate,
)

pytestmark = pytest.mark.integration

SYMBOL, BENCHMARK = "LIVEA", "SPX"
HISTORY_DAYS, MAX_LIVE_DAYS = 320, 120
FIRST_DAY = datetime(2024, 1, 1, tzinfo=UTC)


def _closes(seed: int, n: int, beta: float, market: np.ndarray | None) -> np.ndarray:
    rng = np.random.default_rng(seed)
    own = rng.normal(0.0003, 0.008, n)
    returns = own if market is None else beta * market + own
    return 100.0 * np.exp(np.cumsum(returns))


def _paths() -> tuple[np.ndarray, np.ndarray]:
    n = HISTORY_DAYS + MAX_LIVE_DAYS
    market_returns = np.random.default_rng(7).normal(0.0002, 0.01, n)
    market = 4000.0 * np.exp(np.cumsum(market_returns))
    stock = _closes(8, n, 1.4, market_returns)
    return market, stock


def _day(i: int) -> datetime:
    return FIRST_DAY + timedelta(days=i)


async def _send_live(bootstrap: str, bars: list[tuple[Bar, bytes]]) -> None:
    """Publish live bars (known now) with a ``traceparent`` each, as a live feed would."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for bar, traceparent in bars:
            await producer.send_and_wait(
                topics.MD_BARS, bar.to_bytes(), key=bar.key, headers=[("traceparent", traceparent)]
            )
    finally:
        await producer.stop()


async def _analytics_records(bootstrap: str) -> list[Any]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = [TopicPartition(topics.QUANT_ANALYTICS, p) for p in range(12)]
        parts = [p for p in parts if p.partition in (consumer.partitions_for_topic(p.topic) or ())]
        if not parts:
            await consumer.topics()
            known = consumer.partitions_for_topic(topics.QUANT_ANALYTICS) or set()
            parts = [TopicPartition(topics.QUANT_ANALYTICS, p) for p in known]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        records: list[Any] = []
        while fetched := await consumer.getmany(*parts, timeout_ms=1500):
            records += [r for batch in fetched.values() for r in batch]
        return records
    finally:
        await consumer.stop()


def _reference(closes: np.ndarray, market: np.ndarray, upto: int) -> tuple[float, float]:
    """Annualized EWMA vol and beta after the bar ``upto`` (inclusive), batch."""
    returns = np.diff(np.log(closes[: upto + 1]))
    seeded = np.concatenate(
        [[np.var(returns[:EWMA_SEED_BARS], ddof=1)], returns[EWMA_SEED_BARS:] ** 2]
    )
    variance = pd.Series(seeded).ewm(alpha=1 - RISKMETRICS_LAMBDA, adjust=False).mean().iloc[-1]
    theirs = np.diff(np.log(market[: upto + 1]))[-BETA_WINDOW:]
    beta = np.polyfit(theirs, returns[-BETA_WINDOW:], 1)[0]
    return math.sqrt(variance * 252), float(beta)


def test_live_bar_analytics_reach_a_websocket_client(kafka_bootstrap: str, tmp_path: Path) -> None:
    market, stock = _paths()
    history = [
        make_bar(name, _day(i), close=float(path[i]))
        for i in range(HISTORY_DAYS)
        for name, path in ((BENCHMARK, market), (SYMBOL, stock))
    ]
    asyncio.run(ensure_topics(CommonSettings(kafka_bootstrap=kafka_bootstrap)))
    with running_services(kafka_bootstrap, tmp_path, ["datasets", "quant", "gateway"]) as ports:
        gateway = f"http://127.0.0.1:{ports.gateway}"
        datasets = f"http://127.0.0.1:{ports.datasets}"
        asyncio.run(publish_bars(kafka_bootstrap, history))

        def stored() -> bool:
            answer = httpx.get(
                f"{datasets}/v1/bars", params={"symbol": SYMBOL, "interval": "1d"}, timeout=10
            )
            return answer.status_code == 200 and len(answer.json()["bars"]) == HISTORY_DAYS

        wait_for(stored, 60, "the history in the lake")
        # the backfill passed through the analytics consumer without analytics
        viewer = auth_for(gateway, "viewer")
        missing = httpx.get(
            f"{gateway}/api/v1/quant/analytics", params={"symbol": SYMBOL}, auth=viewer
        )
        assert missing.status_code == 404 and SYMBOL in missing.text

        traces = {
            k: f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01" for k in range(MAX_LIVE_DAYS)
        }

        async def scenario() -> list[dict[str, Any]]:
            received: list[dict[str, Any]] = []
            url = f"ws://127.0.0.1:{ports.gateway}/ws"
            async with websockets.connect(url, compression=None) as ws:
                await ws_authenticate(ws, url, "viewer")
                await ws.send(orjson.dumps({"subscribe": [f"analytics:{SYMBOL}"]}).decode())
                assert orjson.loads(await ws.recv())["type"] == "subscribed"
                for k in range(MAX_LIVE_DAYS):  # a day a second until the regime model is fitted
                    i = HISTORY_DAYS + k
                    now = datetime.now(UTC)
                    bars = [
                        (
                            make_bar(BENCHMARK, _day(i), close=float(market[i]), ts_known=now),
                            f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01".encode(),
                        ),
                        (
                            make_bar(SYMBOL, _day(i), close=float(stock[i]), ts_known=now),
                            traces[k].encode(),
                        ),
                    ]
                    if k == 0:  # a bar claiming to start after it was known changes nothing
                        future = make_bar(SYMBOL, datetime(2100, 1, 1, tzinfo=UTC), ts_known=now)
                        bars.insert(0, (future, traces[k].encode()))
                    await _send_live(kafka_bootstrap, bars)
                    async with asyncio.timeout(30):
                        message = orjson.loads(await ws.recv())
                    assert message["type"] == "analytics"
                    received.append(message["analytics"])
                    if message["analytics"]["regime"] is not None:
                        break
                    await asyncio.sleep(1.0)
            return received

        received = asyncio.run(scenario())

        for k, event in enumerate(received):
            i = HISTORY_DAYS + k
            assert event["instrument_id"] == SYMBOL and event["source"] == "test"
            assert datetime.fromisoformat(event["ts_event"]) == _day(i)
            vol, beta = _reference(stock, market, i)
            assert event["ewma_vol"] == pytest.approx(vol, rel=1e-9)
            assert event["var_1d"] == pytest.approx(2.3263478740408408 * vol / math.sqrt(252))
            assert event["benchmark"] == BENCHMARK
            assert event["beta"] == pytest.approx(beta, rel=1e-9), event["pending"]
        last = received[-1]
        assert last["regime"] in last["regime_probabilities"], last["pending"]
        assert sum(last["regime_probabilities"].values()) == pytest.approx(1.0)

        # the latest figures over HTTP too
        latest = httpx.get(
            f"{gateway}/api/v1/quant/analytics", params={"symbol": SYMBOL}, auth=viewer
        )
        assert latest.status_code == 200
        assert latest.json()["analytics"][0]["ts_event"] == last["ts_event"]

        # each analytics record continues its bar's trace
        records = asyncio.run(_analytics_records(kafka_bootstrap))
        mine = [r for r in records if r.key == SYMBOL.encode()]
        assert len(mine) == len(received)
        for k, record in enumerate(sorted(mine, key=lambda r: r.offset)):
            header = tracecontext.from_headers(record.headers)
            assert tracecontext.parse(header) == tracecontext.parse(traces[k])
            assert header != traces[k]  # a new span of that trace
