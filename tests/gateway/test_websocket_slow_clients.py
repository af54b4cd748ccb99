"""Clients that stop reading are cut by the hub within their grace, counted, and never slow
the others; browsers on other origins cannot open the WebSocket."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import orjson
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from tests.support import (
    metric_value,
    publish_live_bars,
    running_services,
    stalled_ws_client,
    wait_for,
    ws_authenticate,
    ws_bar_latencies,
    ws_handshake,
)

pytestmark = pytest.mark.integration


def _closed_by_server(sock: socket.socket, timeout_s: float) -> bool:
    """Read (and discard) what the server sent until it closes the connection: EOF or reset."""
    sock.settimeout(timeout_s)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            if not sock.recv(65536):
                return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return False


def test_a_client_that_stops_reading_at_a_slow_pace_is_reset_by_the_keepalive(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """5 bars/s would take minutes to fill the socket buffers; the unanswered ping cuts the
    stalled client within interval + timeout, counts it, and the reader misses nothing."""
    with running_services(
        kafka_bootstrap,
        tmp_path,
        ["gateway"],
        SEXTANT_WS_PING_INTERVAL_SECONDS="1",
        SEXTANT_WS_PING_TIMEOUT_SECONDS="1",
    ) as ports:
        gateway = f"http://127.0.0.1:{ports.gateway}"
        stalled = stalled_ws_client(ports.gateway, "SLOW")

        async def scenario() -> list[float]:
            reader = asyncio.create_task(ws_bar_latencies(ports.gateway, "SLOW", 30))
            await asyncio.sleep(0.3)
            await publish_live_bars(kafka_bootstrap, "SLOW", 30, per_second=5)
            return await reader

        started = time.monotonic()
        latencies = asyncio.run(scenario())
        assert len(latencies) == 30
        assert max(latencies) < 1.0, f"the healthy reader was delayed: {max(latencies):.3f}s"
        wait_for(
            lambda: metric_value(gateway, "sextant_ws_client_drops_total", 'cause="keepalive"'),
            5,
            "the stalled client counted as a keepalive drop",
        )
        assert time.monotonic() - started < 10
        assert _closed_by_server(stalled, 5), "the stalled socket must be closed or reset"
        assert metric_value(gateway, "sextant_ws_clients_dropped_total") == 1.0
        assert metric_value(gateway, "sextant_ws_clients") == 0.0


def test_a_lagging_client_is_dropped_within_its_lag_limit_not_the_kernel_buffers(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """At 500 bars/s a stalled client used to be cut after 20-25 s (MBs of kernel buffers);
    with bounded buffers it falls behind at once and is dropped for lag within seconds."""
    with running_services(
        kafka_bootstrap,
        tmp_path,
        ["gateway"],
        SEXTANT_WS_QUEUE_SIZE="1000000",  # only the lag rule may drop it
        SEXTANT_WS_PING_INTERVAL_SECONDS="600",
        SEXTANT_WS_MAX_LAG_SECONDS="1",
    ) as ports:
        gateway = f"http://127.0.0.1:{ports.gateway}"
        stalled = stalled_ws_client(ports.gateway, "FLOOD")
        time.sleep(0.3)
        started = time.monotonic()

        async def flood() -> None:
            await publish_live_bars(kafka_bootstrap, "FLOOD", 4_000, per_second=500)

        publisher = asyncio.new_event_loop()
        task = publisher.create_task(flood())
        try:
            dropped_after = None
            while not task.done():
                publisher.run_until_complete(asyncio.sleep(0.1))
                if metric_value(gateway, "sextant_ws_client_drops_total", 'cause="lagging"'):
                    dropped_after = time.monotonic() - started
                    break
            assert dropped_after is not None, "the stalled client was never dropped for lag"
            assert dropped_after < 6.0, f"dropped only after {dropped_after:.1f}s"
            assert _closed_by_server(stalled, 5), "the stalled socket must be closed or reset"
            task.cancel()
            publisher.run_until_complete(asyncio.gather(task, return_exceptions=True))
        finally:
            publisher.close()


def test_the_websocket_refuses_other_origins(kafka_bootstrap: str, tmp_path: Path) -> None:
    with running_services(
        kafka_bootstrap,
        tmp_path,
        ["gateway"],
        SEXTANT_CORS_ORIGINS='["https://research.example.com"]',
    ) as ports:
        port = ports.gateway
        with pytest.raises(ConnectionRefusedError, match="403"):
            ws_handshake(port, origin="https://evil.example")
        with pytest.raises(ConnectionRefusedError, match="403"):
            ws_handshake(port, origin=f"http://127.0.0.1:{port}.evil.example")
        for allowed in (f"http://127.0.0.1:{port}", "https://research.example.com", None):
            ws_handshake(port, origin=allowed).close()
        gateway = f"http://127.0.0.1:{port}"
        assert metric_value(gateway, "sextant_ws_origin_rejected_total") == 2.0

        async def browser_from_elsewhere() -> None:
            url = f"ws://127.0.0.1:{port}/ws"
            async with websockets.connect(url, origin="http://localhost:1"):  # type: ignore[arg-type]
                pass

        with pytest.raises(InvalidStatus, match="403"):
            asyncio.run(browser_from_elsewhere())


def test_an_oversized_client_message_closes_only_that_connection(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    with running_services(kafka_bootstrap, tmp_path, ["gateway"]) as ports:
        url = f"ws://127.0.0.1:{ports.gateway}/ws"

        async def scenario() -> int | None:
            async with websockets.connect(url, max_size=None) as other:
                await ws_authenticate(other, url)
                async with websockets.connect(url) as hostile:
                    await ws_authenticate(hostile, url)
                    await hostile.send('{"subscribe": ["' + "A" * 200_000 + '"]}')
                    with pytest.raises(websockets.ConnectionClosed):
                        await asyncio.wait_for(hostile.recv(), 10)
                    code = hostile.close_code
                await other.send('{"subscribe": ["SPX"]}')  # the gateway is unharmed
                assert orjson.loads(await other.recv())["type"] == "subscribed"
                return code

        assert asyncio.run(scenario()) == 1009  # message too big
