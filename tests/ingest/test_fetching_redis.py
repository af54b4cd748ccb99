"""The unified fetcher's hot cache in a real Redis (SEXTANT_REDIS_URL).

Uses the Redis on 127.0.0.1:6379 when one answers, else starts ``redis-server`` on a free port.
Skipped only when neither exists, and then failed instead when ``CI`` is set.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from pathlib import Path

import orjson
import pytest
import redis
import respx

from sextant_common.broker_launcher import free_port
from sextant_ingest.fetching import ProviderRegistry, UnifiedFetcher
from sextant_ingest.fetching.cache import RedisCache
from tests.ingest.test_fetching import ACME, make_settings, ok
from tests.ingest.test_fetching_fakes import provider_module

PREFIX = "sextant:fetch:acme/aggregates/"


def fetcher_for(tmp_path: Path, url: str, **overrides: object) -> UnifiedFetcher:
    registry = ProviderRegistry()
    registry.add_module(provider_module("acme", ACME))
    settings = make_settings(tmp_path, redis_url=url, **overrides)
    return UnifiedFetcher(settings, registry=registry)


def unique_params() -> dict[str, str]:
    """A symbol no other run used, so a shared Redis holds no answer for it yet."""
    symbol = "R" + uuid.uuid4().hex[:8].upper()
    return {"symbol": symbol, "start": "2024-01-02", "end": "2024-01-08"}


def stored(url: str, symbol: str) -> tuple[bytes | str, int]:
    """The cached payload holding ``symbol`` and its TTL in seconds."""
    client = redis.Redis.from_url(url)
    for key in client.scan_iter(match=PREFIX + "*", count=1000):
        payload = client.get(key)
        if payload and symbol.encode() in payload:
            return payload, int(client.ttl(key))
    raise AssertionError(f"no cached value for {symbol}")


def route_for(mock: respx.MockRouter, params: dict[str, str]) -> respx.Route:
    url = f"{ACME}/v2/aggs/ticker/{params['symbol']}/range/1/day/2024-01-02/2024-01-08"
    return mock.get(url).mock(return_value=ok(params["symbol"]))


async def test_results_are_shared_through_redis_as_json_with_a_ttl(
    tmp_path: Path, redis_url: str
) -> None:
    params = unique_params()
    with respx.mock(assert_all_called=False) as mock:
        route = route_for(mock, params)
        async with fetcher_for(tmp_path, redis_url, fetch_cache_ttl_s={"bars": 120}) as first:
            assert isinstance(first.cache, RedisCache)
            fetched = await first.fetch("bars", params)
        # another process (a fresh fetcher, nothing in memory) finds it in Redis
        async with fetcher_for(tmp_path, redis_url) as second:
            cached = await second.fetch("bars", params)
    assert (fetched.cache, cached.cache) == ("miss", "hot")
    assert cached.records == fetched.records and route.call_count == 1
    payload, ttl = stored(redis_url, params["symbol"])
    assert 110 <= ttl <= 120
    items = orjson.loads(payload)
    assert isinstance(items, list) and len(items) == 5
    assert items[0]["model"] == "Bar" and items[0]["data"]["instrument_id"] == params["symbol"]


async def test_redis_entries_expire_after_their_ttl(tmp_path: Path, redis_url: str) -> None:
    params = unique_params()
    with respx.mock(assert_all_called=False) as mock:
        route = route_for(mock, params)
        async with fetcher_for(tmp_path, redis_url, fetch_cache_ttl_s={"bars": 1}) as fetcher:
            assert (await fetcher.fetch("bars", params)).cache == "miss"
            assert (await fetcher.fetch("bars", params)).cache == "hot"
            await asyncio.sleep(1.2)
            assert (await fetcher.fetch("bars", params)).cache == "miss"
    assert route.call_count == 2


async def test_a_redis_outage_degrades_to_misses_and_warns_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    closed = f"redis://127.0.0.1:{free_port()}/0"
    params = unique_params()
    caplog.set_level(logging.WARNING)
    with respx.mock(assert_all_called=False) as mock:
        route = route_for(mock, params)
        async with fetcher_for(tmp_path, closed) as fetcher:
            for _ in range(3):
                result = await fetcher.fetch("bars", params)
                assert result.cache == "miss" and len(result.records) == 5
    assert route.call_count == 3
    assert caplog.text.count("redis hot cache unavailable") == 1
