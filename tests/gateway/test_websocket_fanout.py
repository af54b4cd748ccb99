"""Live fan-out through a real gateway process: subscriptions, latency, slow-client eviction."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import pytest
import websockets
from aiokafka import AIOKafkaProducer

from sextant_common import topics
from sextant_common.bus import ensure_topics
from sextant_common.devstack import start_services, stop_services
from sextant_common.events import Interval
from sextant_common.settings import CommonSettings
from tests.support import Ports, make_bar, service_env, spec

pytestmark = pytest.mark.integration

BURST = 20_000


@pytest.fixture
def gateway_port(kafka_bootstrap: str, tmp_path: Path) -> Iterator[int]:
    ports = Ports.allocate()
    env = {
        **os.environ,
        **service_env(kafka_bootstrap, tmp_path, ports, SEXTANT_WS_QUEUE_SIZE="64"),
    }
    services = start_services([spec("gateway", ports.gateway)], env, sink=lambda _l: None)
    try:
        yield ports.gateway
    finally:
        stop_services(services)


async def _publish_live(bootstrap: str, symbol: str, count: int, per_second: float) -> None:
    await ensure_topics(CommonSettings(kafka_bootstrap=bootstrap))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=2)
    await producer.start()
    try:
        base = datetime(2026, 1, 1, tzinfo=UTC)
        for i in range(count):
            bar = make_bar(
                symbol,
                base + timedelta(seconds=i),
                interval=Interval.S1,
                close=100 + i % 10,
                ts_known=datetime.now(UTC),
            )
            await producer.send(topics.MD_BARS, bar.to_bytes(), key=bar.key)
            if i % 50 == 49:
                await asyncio.sleep(50 / per_second)
        await producer.flush()
    finally:
        await producer.stop()


def _stalled_client(port: int, symbol: str) -> socket.socket:
    """A WebSocket client that subscribes and then never reads (tiny receive buffer)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    assert b"101" in sock.recv(1024).split(b"\r\n", 1)[0]
    payload = orjson.dumps({"subscribe": [symbol]})
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + masked)
    return sock


async def _reader(port: int, symbol: str, expected: int) -> list[float]:
    """Subscribe and return the delivery latency (s) of each live bar until ``expected``."""
    latencies: list[float] = []
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws", compression=None) as ws:
        await ws.send(orjson.dumps({"subscribe": [symbol]}).decode())
        assert orjson.loads(await ws.recv()) == {"type": "subscribed", "symbols": [symbol]}
        async with asyncio.timeout(60):
            while len(latencies) < expected:
                message = orjson.loads(await ws.recv())
                known = datetime.fromisoformat(message["bar"]["ts_known"])
                latencies.append((datetime.now(UTC) - known).total_seconds())
    return latencies


def _metric(port: int, name: str) -> float:
    for line in httpx.get(f"http://127.0.0.1:{port}/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def test_live_bars_reach_a_subscriber_and_a_stalled_client_is_dropped(
    gateway_port: int, kafka_bootstrap: str
) -> None:
    stalled = _stalled_client(gateway_port, "FAST")

    async def scenario() -> list[float]:
        reader = asyncio.create_task(_reader(gateway_port, "FAST", BURST))
        await asyncio.sleep(0.5)  # both subscribed before the first bar
        await _publish_live(kafka_bootstrap, "FAST", BURST, per_second=5_000)
        return await reader

    started = time.monotonic()
    latencies = asyncio.run(scenario())
    assert len(latencies) == BURST
    latencies.sort()
    assert latencies[len(latencies) // 2] < 1.0, "median delivery must be well under a second"
    assert time.monotonic() - started < 30
    assert _metric(gateway_port, "sextant_ws_clients_dropped_total") == 1.0
    stalled.close()


def test_bad_commands_get_an_error_and_the_socket_stays_open(gateway_port: int) -> None:
    async def scenario() -> list[dict[str, object]]:
        async with websockets.connect(f"ws://127.0.0.1:{gateway_port}/ws") as ws:
            replies = []
            for text in ("not json", '{"dance": ["X"]}', '{"subscribe": "SPX"}'):
                await ws.send(text)
                replies.append(orjson.loads(await ws.recv()))
            await ws.send('{"subscribe": ["SPX"]}')
            replies.append(orjson.loads(await ws.recv()))
            return replies

    replies = asyncio.run(scenario())
    assert [r["type"] for r in replies] == ["error", "error", "error", "subscribed"]
    assert "not JSON" in str(replies[0]["detail"])
    assert "unknown action 'dance'" in str(replies[1]["detail"])
    assert "list of symbol strings" in str(replies[2]["detail"])
