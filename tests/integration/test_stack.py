"""The walking skeleton end to end: provider -> broker -> lake -> gateway -> WebSocket."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
import pytest
import websockets
from arch.data import sp500

from tests.conftest import Stack
from tests.support import wait_for, ws_authenticate

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def get(stack: Stack, path: str, **params: str) -> httpx.Response:
    """``GET path`` at the stack's gateway as a viewer (every read here needs no more)."""
    return httpx.get(
        f"{stack.gateway_url}{path}", params=params, timeout=30, auth=stack.auth("viewer")
    )


def spx_2008(stack: Stack) -> dict[str, Any] | None:
    response = get(stack, "/api/v1/bars", symbol="SPX", start="2008-01-01", end="2008-12-31")
    if response.status_code != 200:
        return None
    body: dict[str, Any] = response.json()
    return body if body["count"] == 253 else None


def test_real_2008_sp500_history_is_served_through_the_gateway(full_stack: Stack) -> None:
    body = wait_for(lambda: spx_2008(full_stack), 90, "253 SPX bars of 2008")
    assert body["source"] == "shipped"
    assert {bar["source"] for bar in body["bars"]} == {"shipped"}
    expected = sp500.load().loc["2008"]
    assert [bar["ts_event"][:10] for bar in body["bars"]] == [
        d.strftime("%Y-%m-%d") for d in expected.index
    ]
    assert [bar["close"] for bar in body["bars"]] == pytest.approx(list(expected["Close"]))


def test_instruments_list_the_shipped_index_and_the_simulated_market(full_stack: Stack) -> None:
    def listing() -> list[dict[str, Any]] | None:
        entries: list[dict[str, Any]] = get(full_stack, "/api/v1/instruments").json()["instruments"]
        simulated = [e for e in entries if e["source"] == "simulated" and "1d" in e["intervals"]]
        return entries if len(simulated) >= 50 else None

    entries = wait_for(listing, 90, "50 simulated instruments in the lake")
    by_key = {(e["instrument_id"], e["source"]): e for e in entries}
    assert by_key[("SPX", "shipped")]["rows"] == 5031
    classes = {e["asset_class"] for e in entries if e["source"] == "simulated"}
    assert {"equity", "index", "fx", "crypto"} <= classes


def test_bad_requests_are_named_and_unknown_symbols_are_404(full_stack: Stack) -> None:
    wait_for(lambda: spx_2008(full_stack), 90, "SPX stored")
    unknown = get(full_stack, "/api/v1/bars", symbol="NOSUCH")
    assert unknown.status_code == 404
    assert "NOSUCH" in unknown.json()["detail"]
    for params, field in [
        ({"symbol": "SPX", "interval": "7d"}, "interval"),
        ({"symbol": "SPX", "start": "yesterday"}, "start"),
        ({"symbol": "SPX", "start": "2009-01-01", "end": "2008-01-01"}, "end"),
        ({}, "symbol"),
        ({"symbol": "SPX", "limit": "5"}, "limit"),
    ]:
        response = get(full_stack, "/api/v1/bars", **params)
        assert response.status_code == 422, params
        assert response.json()["detail"][0]["loc"] == ["query", field]


def test_every_service_reports_health_and_metrics(full_stack: Stack) -> None:
    # The gateway's /metrics needs an admin; the internal services' take no token.
    for port, auth in (
        (full_stack.ports.gateway, full_stack.auth("admin")),
        (full_stack.ports.datasets, None),
        (full_stack.ports.ingest, None),
    ):
        health = httpx.get(f"http://127.0.0.1:{port}/health")
        assert health.status_code == 200 and health.json()["status"] == "ok"
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", auth=auth)
        assert "process_cpu_seconds_total" in metrics.text


def test_a_websocket_client_receives_live_simulated_bars(full_stack: Stack) -> None:
    async def first_live_bar() -> dict[str, Any]:
        url = f"ws://127.0.0.1:{full_stack.ports.gateway}/ws"
        async with websockets.connect(url) as ws:
            await ws_authenticate(ws, url, "viewer")
            await ws.send(orjson.dumps({"subscribe": ["BTC-USD"]}).decode())
            async with asyncio.timeout(20):
                while True:
                    message = orjson.loads(await ws.recv())
                    if message["type"] == "bar":
                        return dict(message["bar"])

    bar = asyncio.run(first_live_bar())
    assert bar["instrument_id"] == "BTC-USD"
    assert bar["source"] == "simulated"
    assert bar["interval"] == "1s"
