"""Hostile HTTP through the gateway: undeclared methods, NaN bodies, overflowing and mistyped
numbers, reused job ids, missing provider params, query strings too long to relay, and upstream
headers the client needs."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from sextant_gateway.api.deps import MAX_QUERY_BYTES
from sextant_gateway.auth.policy import Role
from tests.conftest import Stack
from tests.support import in_process_gateway

JSON = {"content-type": "application/json"}


@pytest.mark.integration
def test_an_undeclared_method_is_a_405_listing_the_paths_methods(full_stack: Stack) -> None:
    gateway = full_stack.gateway_url
    for method, path, allowed in (
        ("PUT", "/api/v1/backtests/abcdefgh12", "GET"),  # before the JSON content-type rule
        ("DELETE", "/api/v1/quant/risk/var", "POST"),  # through a relay
        ("PATCH", "/api/v1/datasets/snapshots", "GET, POST"),
    ):
        response = httpx.request(method, f"{gateway}{path}", timeout=30, auth=full_stack.auth())
        assert response.status_code == 405, (method, path, response.text)
        assert sorted(response.headers["allow"].split(", ")) == sorted(allowed.split(", "))
        assert response.json()["detail"]
    missing = httpx.get(f"{gateway}/api/v1/quant/no-such-thing", timeout=30, auth=full_stack.auth())
    assert missing.status_code == 404


@pytest.mark.integration
def test_a_query_too_long_to_relay_is_a_414_naming_the_limit(full_stack: Stack) -> None:
    """Repeated parameters are relayed as sent, so a long query could reach a service's HTTP
    parser over its 16 KiB head limit (a bare 400 there); the gateway answers 414 first."""
    symbols = ",".join(f"SYM{i:05d}" for i in range(1_800))  # ~16 KB
    url = f"{full_stack.gateway_url}/api/v1/quant/correlations"
    auth = full_stack.auth("viewer")
    response = httpx.get(url, params={"symbols": symbols[: 15 * 1024]}, timeout=30, auth=auth)
    assert response.status_code == 414, response.text
    assert str(MAX_QUERY_BYTES) in response.json()["detail"]
    fits = httpx.get(url, params={"symbols": "SPX,COMP", "window": "20"}, timeout=30, auth=auth)
    assert fits.status_code == 200, fits.text


@pytest.mark.integration
@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/datasets/snapshots", b'{"symbols": [NaN]}', "symbols"),
        ("/api/v1/fetch", b'{"kind": NaN, "params": {}}', "kind"),
        ("/api/v1/quant/risk/var", b'{"symbols": ["SPX"], "weights": [NaN]}', "weights"),
        ("/api/v1/backtests", b'{"symbol": "SPX", "strategy": "BH", "fees": NaN}', "fees"),
    ],
)
def test_a_nan_in_a_body_is_a_422_naming_the_field(
    full_stack: Stack, path: str, body: bytes, field: str
) -> None:
    response = httpx.post(
        f"{full_stack.gateway_url}{path}",
        content=body,
        headers=JSON,
        timeout=30,
        auth=full_stack.auth(),
    )
    assert response.status_code == 422, response.text
    assert field in response.json()["detail"][0]["loc"], response.text


@pytest.mark.integration
def test_stress_refuses_booleans_for_numbers_and_overflowing_positions(full_stack: Stack) -> None:
    url = f"{full_stack.gateway_url}/api/v1/quant/risk/stress"
    boolean = httpx.post(
        url,
        json={
            "positions": [{"id": "a", "market_value": 1, "asset_class": "fx", "fx_exposure": False}]
        },
        timeout=30,
        auth=full_stack.auth("viewer"),
    )
    assert boolean.status_code == 422, boolean.text
    assert boolean.json()["detail"][0]["loc"][-1] == "fx_exposure"
    huge = {"id": "a", "market_value": 1e308, "asset_class": "equity", "beta": 1e308}
    overflow = httpx.post(url, json={"positions": [huge]}, timeout=30, auth=full_stack.auth())
    assert overflow.status_code == 422, overflow.text
    assert overflow.json()["detail"][0]["loc"] == ["body", "positions"]
    assert "not a finite number" in overflow.text


@pytest.mark.integration
def test_a_job_id_used_by_another_kind_is_a_409(full_stack: Stack) -> None:
    gateway = full_stack.gateway_url
    job_id = "reusedjob0001"
    queued = httpx.post(
        f"{gateway}/api/v1/backtests?job_id={job_id}",
        json={"symbol": "SPX", "strategy": "BH"},
        timeout=30,
        auth=full_stack.auth(),
    )
    assert queued.status_code == 202, queued.text
    clash = httpx.post(
        f"{gateway}/api/v1/sweeps?job_id={job_id}",
        json={"symbols": ["SPX"], "fast": [10], "slow": [50]},
        timeout=30,
        auth=full_stack.auth(),
    )
    assert clash.status_code == 409, clash.text
    assert "backtest" in clash.json()["detail"]


@pytest.mark.integration
def test_a_missing_provider_param_is_a_422_not_a_503(full_stack: Stack) -> None:
    response = httpx.post(
        f"{full_stack.gateway_url}/api/v1/fetch",
        json={"kind": "sentiment", "params": {}},
        timeout=30,
        auth=full_stack.auth(),
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "params", "keywords"]


def test_the_gateway_relays_retry_after_from_a_service(tmp_path: Path) -> None:
    """A service's 429 (job queue full) reaches the client with its Retry-After."""

    def quant(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, json={"detail": "job queue full"}, headers={"Retry-After": "7"})

    client = in_process_gateway(tmp_path)  # no lifespan: no broker needed
    client.app.state.services = {  # type: ignore[attr-defined]
        "quant": httpx.AsyncClient(transport=httpx.MockTransport(quant), base_url="http://quant")
    }
    response = client.post("/api/v1/backtests", json={"symbol": "SPX", "strategy": "BH"})
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert response.json() == {"detail": "job queue full"}


def test_concurrent_misses_of_the_bars_cache_ask_the_service_once(tmp_path: Path) -> None:
    """An expired entry under load: the requests arriving while one refreshes it share its
    answer instead of each going to the datasets service."""
    calls = 0

    async def datasets(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.2)
        return httpx.Response(200, json={"count": 253})

    app = in_process_gateway(tmp_path, role="viewer").app
    app.state.services = {
        "datasets": httpx.AsyncClient(
            transport=httpx.MockTransport(datasets), base_url="http://datasets"
        )
    }
    token, _ = app.state.auth.keys.issue("v", Role.viewer)

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://gateway",
            headers={"Authorization": f"Bearer {token}"},
        ) as client:
            return await asyncio.gather(
                *(client.get("/api/v1/bars", params={"symbol": "SPX"}) for _ in range(20))
            )

    answers = asyncio.run(burst())
    assert [a.status_code for a in answers] == [200] * 20
    assert all(a.json() == {"count": 253} for a in answers)
    assert calls == 1
