"""Unified fetcher benchmark: cached fetches, and uncached fetches under a provider rate limit.

A replay server (the fake Polygon-shaped provider of tests/ingest/test_fetching_fakes.py, on
uvicorn in its own process) answers every request. Measured:
- cached: 1,000 fetches of one query already in the in-process hot cache (target < 50 ms);
- uncached: 1,000 distinct queries fired at once with the provider limited to 200 requests/s
  (requests/s achieved vs the limit, and the most requests seen in any 1 s window);
- reference: raw httpx, the same 1,000 requests to the same server, no fetcher.
Prints one JSON object; never asserts wall-clock numbers.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sextant_common.broker_launcher import free_port, wait_for_port
from sextant_ingest.fetching import FetchSettings, ProviderRegistry, UnifiedFetcher
from sextant_ingest.providers.fetcher import RateLimit
from tests.ingest.test_fetching_fakes import SECRET, provider_module

ROOT = Path(__file__).resolve().parents[1]
REQUESTS = 1_000
LIMIT = RateLimit(200, 1.0)
RANGE = {"start": "2024-01-02", "end": "2024-01-08"}


def start_server(port: int) -> subprocess.Popen[bytes]:
    """The replay server in its own process, so it does not share the client's GIL."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "tests.ingest.test_fetching_fakes:replay_app",
            "--factory",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=ROOT,
    )
    if not wait_for_port("127.0.0.1", port, 15):
        process.kill()
        raise RuntimeError(f"replay server did not start on port {port}")
    return process


def fetcher_for(url: str, data_dir: Path, client: httpx.AsyncClient) -> UnifiedFetcher:
    registry = ProviderRegistry()
    registry.add_module(provider_module("acme", url, rate=LIMIT))
    settings = FetchSettings(
        data_dir=data_dir,
        fetch_providers=[],
        routes={},
        credentials={"SEXTANT_ACME_API_KEY": SECRET},
        redis_url=None,
        datasets_url=None,
        secrets_file=None,
        fetch_max_wait_s=60,
    )
    return UnifiedFetcher(settings, client, registry=registry)


def max_in_window(times: list[float], window: float) -> int:
    """The most events of sorted ``times`` inside any window of ``window`` seconds."""
    return max(
        (bisect.bisect_left(times, t + window - 1e-9) - i for i, t in enumerate(times)), default=0
    )


async def cached(url: str, data_dir: Path) -> dict[str, float]:
    async with (
        httpx.AsyncClient(timeout=30) as client,
        fetcher_for(url, data_dir, client) as fetcher,
    ):
        params = {"symbol": "AAPL", **RANGE}
        await fetcher.fetch("bars", params)  # warm the cache
        started = time.perf_counter()
        for _ in range(REQUESTS):
            result = await fetcher.fetch("bars", params)
        elapsed = time.perf_counter() - started
        assert result.cache == "hot"
    return {
        "requests": REQUESTS,
        "seconds": round(elapsed, 4),
        "per_fetch_us": round(elapsed / REQUESTS * 1e6, 1),
        "target_s": 0.05,
        "seed_target_s": 5.0,
    }


async def uncached(url: str, data_dir: Path) -> dict[str, float | str | int]:
    sent: list[float] = []

    async def on_request(request: httpx.Request) -> None:
        sent.append(time.monotonic())

    async with (
        httpx.AsyncClient(timeout=30, event_hooks={"request": [on_request]}) as client,
        fetcher_for(url, data_dir, client) as fetcher,
    ):
        started = time.perf_counter()
        results = await asyncio.gather(
            *(fetcher.fetch("bars", {"symbol": f"S{i:04d}", **RANGE}) for i in range(REQUESTS))
        )
        elapsed = time.perf_counter() - started
        limiter = fetcher.limiter("acme")
    assert limiter is not None
    assert all(r.cache == "miss" and len(r.records) == 5 for r in results)
    sent.sort()
    return {
        "requests": REQUESTS,
        "seconds": round(elapsed, 3),
        "requests_per_s": round(REQUESTS / elapsed, 1),
        "limit": f"{LIMIT.requests}/{LIMIT.per_seconds:g}s",
        "effective_limit_per_s": round(LIMIT.requests / limiter.window_s, 1),
        "max_in_any_window": max_in_window(sent, LIMIT.per_seconds),
        "ideal_seconds": round((REQUESTS - LIMIT.requests) / LIMIT.requests * limiter.window_s, 3),
        "note": "a full bucket goes at once, then the limit less the safety margin",
    }


async def raw_httpx(url: str) -> dict[str, float]:
    gate = asyncio.Semaphore(100)  # httpx's default pool size; more waiters time the pool out

    async with httpx.AsyncClient(timeout=30) as client:

        async def get(i: int) -> httpx.Response:
            async with gate:
                return await client.get(
                    f"{url}/v2/aggs/ticker/S{i:04d}/range/1/day/2024-01-02/2024-01-08",
                    params={"adjusted": "true", "sort": "asc", "apiKey": SECRET},
                )

        started = time.perf_counter()
        responses = await asyncio.gather(*(get(i) for i in range(REQUESTS)))
        elapsed = time.perf_counter() - started
    assert all(r.status_code == 200 for r in responses)
    return {
        "requests": REQUESTS,
        "seconds": round(elapsed, 3),
        "requests_per_s": round(REQUESTS / elapsed, 1),
    }


async def run(url: str, data_dir: Path) -> dict[str, object]:
    results: dict[str, object] = {"raw_httpx": await raw_httpx(url)}
    results["cached"] = await cached(url, data_dir)
    results["uncached_rate_limited"] = await uncached(url, data_dir)
    return results


def main() -> None:
    port = free_port()
    server = start_server(port)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            results = asyncio.run(run(f"http://127.0.0.1:{port}", Path(tmp)))
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(json.dumps({"bench": "fetcher", **results}))


if __name__ == "__main__":
    main()
