"""Backtests as jobs, end to end: gateway -> quant -> jobs.requests.v1 -> runner -> result."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import orjson
import pytest
import websockets

from tests.conftest import Stack
from tests.integration.test_stack import spx_2008
from tests.support import wait_for, ws_authenticate

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def stack(full_stack: Stack) -> Stack:
    wait_for(lambda: spx_2008(full_stack), 90, "SPX history stored")
    return full_stack


def test_a_backtest_job_streams_progress_and_returns_metrics(stack: Stack) -> None:
    job_id = uuid.uuid4().hex
    body = {"symbol": "SPX", "strategy": "50SMA.200EMA", "fees": 0.001}

    async def run() -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        url = f"ws://127.0.0.1:{stack.ports.gateway}/ws"
        async with websockets.connect(url) as ws:
            await ws_authenticate(ws, url, "viewer")  # following a job needs no more
            await ws.send(orjson.dumps({"subscribe": [f"job:{job_id}"]}).decode())
            await ws.recv()  # subscribed
            async with httpx.AsyncClient(
                base_url=stack.gateway_url, timeout=30, auth=stack.auth("researcher")
            ) as http:
                queued = await http.post("/api/v1/backtests", params={"job_id": job_id}, json=body)
                assert queued.status_code == 202, queued.text
                assert queued.json()["status"] == "queued"
            async with asyncio.timeout(90):
                while not events or events[-1]["status"] not in ("succeeded", "failed"):
                    message = orjson.loads(await ws.recv())
                    if message["type"] == "job":
                        events.append(message["event"])
        return events

    events = asyncio.run(run())
    assert events[-1]["status"] == "succeeded", events[-1]
    assert any(e["status"] == "running" for e in events)
    final = httpx.get(f"{stack.gateway_url}/api/v1/backtests/{job_id}", auth=stack.auth())
    result = final.json()["result"]
    assert result["bars"] == 5031
    summary = result["summary"]
    assert summary["n_trades"] == len(result["trades"]) > 0
    assert -1 < summary["max_drawdown"] < 0
    assert result["equity"]["values"][0] == pytest.approx(100_000)


def test_bad_backtests_are_refused_with_the_reason(stack: Stack) -> None:
    bad_spec = httpx.post(
        f"{stack.gateway_url}/api/v1/backtests",
        json={"symbol": "SPX", "strategy": "50SMMA.200EMA"},
        auth=stack.auth(),
    )
    assert bad_spec.status_code == 422
    assert bad_spec.json()["detail"][0]["loc"][-1] == "strategy"
    assert "SMMA" in bad_spec.text
    missing = httpx.get(
        f"{stack.gateway_url}/api/v1/backtests/{uuid.uuid4().hex}", auth=stack.auth()
    )
    assert missing.status_code == 404
    unknown_symbol = httpx.post(
        f"{stack.gateway_url}/api/v1/backtests",
        json={"symbol": "NOSUCH", "strategy": "BH"},
        auth=stack.auth(),
    )
    assert unknown_symbol.status_code == 404, unknown_symbol.text
    assert unknown_symbol.json()["detail"][0]["loc"][-1] == "symbol"
    assert "NOSUCH" in unknown_symbol.text


def test_a_parameter_sweep_job_returns_the_grid(stack: Stack) -> None:
    body = {"symbols": ["SPX", "COMP"], "fast": [10, 20, 50], "slow": [50, 100, 200]}
    queued = httpx.post(f"{stack.gateway_url}/api/v1/sweeps", json=body, auth=stack.auth())
    assert queued.status_code == 202, queued.text
    job_id = queued.json()["job_id"]
    final = wait_for(
        lambda: (
            (
                e := httpx.get(
                    f"{stack.gateway_url}/api/v1/sweeps/{job_id}", auth=stack.auth()
                ).json()
            )["status"]
            in ("succeeded", "failed")
            and e
        ),
        90,
        "sweep to finish",
    )
    assert final["status"] == "succeeded", final
    result = final["result"]
    assert len(result["pairs"]) == 8  # (50, 50) is not a cross
    assert len(result["total_return"]) == 8 and len(result["total_return"][0]) == 2
    assert result["best"]["symbol"] in ("SPX", "COMP")
    no_pair = httpx.post(
        f"{stack.gateway_url}/api/v1/sweeps",
        json={"symbols": ["SPX"], "fast": [200], "slow": [50]},
        auth=stack.auth(),
    )
    assert no_pair.status_code == 422
    assert "fast < slow" in no_pair.text


def test_event_engine_through_the_api_matches_the_vectorized_one(stack: Stack) -> None:
    def run(engine: str) -> dict[str, Any]:
        job = httpx.post(
            f"{stack.gateway_url}/api/v1/backtests",
            json={"symbol": "SPX", "strategy": "50SMA.200EMA", "fees": 0.001, "engine": engine},
            auth=stack.auth(),
        ).json()
        final: dict[str, Any] = wait_for(
            lambda: (
                (
                    e := httpx.get(
                        f"{stack.gateway_url}/api/v1/backtests/{job['job_id']}", auth=stack.auth()
                    ).json()
                )["status"]
                in ("succeeded", "failed")
                and e
            ),
            90,
            f"{engine} backtest",
        )
        assert final["status"] == "succeeded", final
        return dict(final["result"])

    vectorized, event = run("vectorized"), run("event")
    assert event["engine"].startswith("event-driven")
    assert event["summary"]["total_return"] == pytest.approx(
        vectorized["summary"]["total_return"], rel=1e-9
    )
    assert [t["entry"] for t in event["trades"]] == [t["entry"] for t in vectorized["trades"]]
    assert event["summary"]["exposure"] == pytest.approx(vectorized["summary"]["exposure"])
