"""Live fan-out through a real gateway process: subscriptions, latency, slow-client eviction."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import websockets

from sextant_common.devstack import start_services, stop_services
from tests.support import (
    Ports,
    create_test_users,
    metric_value,
    publish_live_bars,
    register_gateway,
    service_env,
    spec,
    stalled_ws_client,
    ws_authenticate,
    ws_bar_latencies,
)

pytestmark = pytest.mark.integration

BURST = 20_000


@pytest.fixture
def gateway_port(kafka_bootstrap: str, tmp_path: Path) -> Iterator[int]:
    ports = Ports.allocate()
    env = {
        **os.environ,
        **service_env(kafka_bootstrap, tmp_path, ports, SEXTANT_WS_QUEUE_SIZE="64"),
    }
    register_gateway(f"http://127.0.0.1:{ports.gateway}", create_test_users(tmp_path))
    services = start_services([spec("gateway", ports.gateway)], env, sink=lambda _l: None)
    try:
        yield ports.gateway
    finally:
        stop_services(services)


def test_live_bars_reach_a_subscriber_and_a_stalled_client_is_dropped(
    gateway_port: int, kafka_bootstrap: str
) -> None:
    stalled = stalled_ws_client(gateway_port, "FAST")

    async def scenario() -> list[float]:
        reader = asyncio.create_task(ws_bar_latencies(gateway_port, "FAST", BURST))
        await asyncio.sleep(0.5)  # both subscribed before the first bar
        await publish_live_bars(kafka_bootstrap, "FAST", BURST, per_second=5_000)
        return await reader

    started = time.monotonic()
    latencies = asyncio.run(scenario())
    assert len(latencies) == BURST
    latencies.sort()
    assert latencies[len(latencies) // 2] < 1.0, "median delivery must be well under a second"
    assert time.monotonic() - started < 30
    gateway = f"http://127.0.0.1:{gateway_port}"
    assert metric_value(gateway, "sextant_ws_clients_dropped_total") == 1.0
    stalled.close()


def test_bad_commands_get_an_error_and_the_socket_stays_open(gateway_port: int) -> None:
    async def scenario() -> list[dict[str, object]]:
        url = f"ws://127.0.0.1:{gateway_port}/ws"
        async with websockets.connect(url) as ws:
            await ws_authenticate(ws, url)
            replies = []
            for text in ("not json", '{"dance": ["X"]}', '{"subscribe": "SPX"}', b"\x01"):
                await ws.send(text)
                replies.append(orjson.loads(await ws.recv()))
            await ws.send('{"subscribe": ["SPX"]}')
            replies.append(orjson.loads(await ws.recv()))
            return replies

    replies = asyncio.run(scenario())
    assert [r["type"] for r in replies] == ["error", "error", "error", "error", "subscribed"]
    assert "not JSON" in str(replies[0]["detail"])
    assert "unknown action 'dance'" in str(replies[1]["detail"])
    assert "list of channel strings" in str(replies[2]["detail"])
    assert "text messages" in str(replies[3]["detail"])
