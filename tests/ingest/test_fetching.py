"""The unified fetcher: routing and fallback, retries, rate limits, coalescing, caches, audit,
credentials and the DLQ. Real fetcher code over real httpx; only the network edge is faked
(respx), with the fake Polygon-shaped providers of ``test_fetching_fakes``."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import respx
from pydantic import SecretStr, ValidationError

from sextant_common import topics
from sextant_common.events import Bar, DeadLetter, Event
from sextant_ingest.fetching import (
    FetchFailed,
    FetchSettings,
    NoProvider,
    ProviderRegistry,
    RateWaitTooLong,
    UnifiedFetcher,
)
from sextant_ingest.fetching.audit import public_query
from sextant_ingest.fetching.limiter import TokenBucket, retry_delay
from sextant_ingest.providers.errors import (
    MissingCredentials,
    NoData,
    NotFound,
    ProviderUnavailable,
    RateLimited,
    Unauthorized,
)
from sextant_ingest.providers.fetcher import RateLimit
from tests.ingest.test_fetching_fakes import (
    SECRET,
    FakeClock,
    aggs_payload,
    aggs_rows,
    provider_module,
)

ACME = "https://api.acme.test"
BACKUP = "https://api.backup.test"
DATASETS = "http://datasets.test"
BACKUP_SECRET = "backup-5ecret-key-DO-NOT-LEAK"
KEYS = {"SEXTANT_ACME_API_KEY": SECRET, "SEXTANT_BACKUP_API_KEY": BACKUP_SECRET}
PARAMS = {"symbol": "AAPL", "start": "2024-01-02", "end": "2024-01-08"}


def aggs_url(base: str, symbol: str = "AAPL", start: str = "2024-01-02", end: str = "2024-01-08"):
    return f"{base}/v2/aggs/ticker/{symbol}/range/1/day/{start}/{end}"


def ok(symbol: str = "AAPL", days: int = 5, start: date = date(2024, 1, 2)) -> httpx.Response:
    return httpx.Response(200, json=aggs_payload(symbol, aggs_rows(symbol, start, days)))


class ListSink:
    """An EventSink that keeps what it is given."""

    def __init__(self) -> None:
        self.records: list[Event] = []

    async def publish(self, records: Sequence[Event]) -> int:
        self.records += records
        return len(records)


def make_settings(tmp_path: Path, **overrides: Any) -> FetchSettings:
    """Settings isolated from the machine: no env keys, no Redis, no datasets service."""
    values: dict[str, Any] = {
        "data_dir": tmp_path,
        "fetch_providers": [],
        "routes": {},
        "credentials": KEYS,
        "redis_url": None,
        "datasets_url": None,
        "secrets_file": None,
        "fetch_backoff_base_s": 0.01,
        "fetch_cache_ttl_s": {},
    }
    return FetchSettings(**{**values, **overrides})


def make_fetcher(
    tmp_path: Path,
    *providers: str,
    clock: FakeClock | None = None,
    publisher: ListSink | None = None,
    rates: dict[str, RateLimit] | None = None,
    **overrides: Any,
) -> UnifiedFetcher:
    registry = ProviderRegistry()
    for name in providers or ("acme", "backup"):
        base = {"acme": ACME, "backup": BACKUP}.get(name, f"https://api.{name}.test")
        extra = {"rate": rates[name]} if rates and name in rates else {}
        registry.add_module(provider_module(name, base, **extra))
    return UnifiedFetcher(
        make_settings(tmp_path, **overrides), registry=registry, clock=clock, publisher=publisher
    )


def audit_lines(tmp_path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for f in (tmp_path / "audit").glob("*.jsonl") for line in f.open()]


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


# -- routing and fallback ---------------------------------------------------------------------


async def test_primary_answers_and_the_records_are_bars(tmp_path: Path, mock: respx.MockRouter):
    route = mock.get(aggs_url(ACME)).mock(return_value=ok())
    async with make_fetcher(tmp_path) as fetcher:
        result = await fetcher.fetch("bars", PARAMS, asset_class="equity")
    assert (result.provider, result.dataset, result.cache, result.attempts) == (
        "acme",
        "aggregates",
        "miss",
        1,
    )
    assert len(result.records) == 5 and all(isinstance(b, Bar) for b in result.records)
    assert route.calls.last.request.url.params["apiKey"] == SECRET


async def test_route_from_settings_sets_the_primary(tmp_path: Path, mock: respx.MockRouter):
    mock.get(aggs_url(BACKUP)).mock(return_value=ok())
    acme = mock.get(aggs_url(ACME)).mock(return_value=ok())
    routes = {"bars:equity": ["backup", "acme"]}
    async with make_fetcher(tmp_path, routes=routes) as fetcher:
        result = await fetcher.fetch("bars", PARAMS, asset_class="equity")
    assert result.provider == "backup" and not acme.called


async def test_a_base_url_setting_replaces_the_declared_one(tmp_path: Path, mock: respx.MockRouter):
    declared = mock.get(aggs_url(ACME)).mock(return_value=ok())
    mirror = mock.get(aggs_url("http://mirror.test/acme")).mock(return_value=ok())
    base_urls = {"acme": "http://mirror.test/acme/"}
    async with make_fetcher(tmp_path, "acme", provider_base_urls=base_urls) as fetcher:
        result = await fetcher.fetch("bars", PARAMS, asset_class="equity")
    assert len(result.records) == 5 and mirror.called and not declared.called


@pytest.mark.parametrize(
    ("status", "error"),
    [(503, "ProviderUnavailable"), (401, "Unauthorized"), (500, "ProviderUnavailable")],
)
async def test_falls_back_when_the_primary_fails(
    tmp_path: Path, mock: respx.MockRouter, status: int, error: str
):
    primary = mock.get(aggs_url(ACME)).mock(return_value=httpx.Response(status, text="down"))
    mock.get(aggs_url(BACKUP)).mock(return_value=ok())
    async with make_fetcher(tmp_path) as fetcher:
        result = await fetcher.fetch("bars", PARAMS, asset_class="equity")
    assert result.provider == "backup"
    retried = status >= 500
    assert primary.call_count == (3 if retried else 1)  # 5xx retried up to max attempts
    (line,) = audit_lines(tmp_path)
    assert line["provider"] == "backup" and line["status"] == "ok"
    assert [(f["provider"], f["status"]) for f in line["fallbacks"]] == [("acme", f"error:{error}")]


async def test_falls_back_when_the_primary_has_no_key(tmp_path: Path, mock: respx.MockRouter):
    primary = mock.get(aggs_url(ACME)).mock(return_value=ok())
    mock.get(aggs_url(BACKUP)).mock(return_value=ok())
    keys = {"SEXTANT_BACKUP_API_KEY": BACKUP_SECRET}
    async with make_fetcher(tmp_path, credentials=keys) as fetcher:
        result = await fetcher.fetch("bars", PARAMS, asset_class="equity")
    assert result.provider == "backup" and not primary.called
    (line,) = audit_lines(tmp_path)
    assert line["fallbacks"][0]["error"] == "acme: unavailable: set SEXTANT_ACME_API_KEY"


async def test_not_found_at_the_primary_tries_the_fallback(tmp_path: Path, mock: respx.MockRouter):
    mock.get(aggs_url(ACME)).mock(return_value=httpx.Response(404, json={"status": "NOT_FOUND"}))
    mock.get(aggs_url(BACKUP)).mock(return_value=ok())
    async with make_fetcher(tmp_path) as fetcher:
        result = await fetcher.fetch("bars", PARAMS, asset_class="equity")
    assert result.provider == "backup"


async def test_not_found_everywhere_is_a_typed_not_found(tmp_path: Path, mock: respx.MockRouter):
    for base in (ACME, BACKUP):
        mock.get(aggs_url(base)).mock(return_value=httpx.Response(404, json={"status": "NF"}))
    async with make_fetcher(tmp_path) as fetcher:
        with pytest.raises(NotFound, match="not found at any provider") as caught:
            await fetcher.fetch("bars", PARAMS, asset_class="equity")
    assert caught.value.provider == "acme,backup"
    assert audit_lines(tmp_path)[0]["status"] == "not_found"


async def test_no_data_everywhere_is_no_data(tmp_path: Path, mock: respx.MockRouter):
    for base in (ACME, BACKUP):
        mock.get(aggs_url(base)).mock(return_value=httpx.Response(200, json=aggs_payload("X", [])))
    async with make_fetcher(tmp_path) as fetcher:
        with pytest.raises(NoData):
            await fetcher.fetch("bars", PARAMS, asset_class="equity")


async def test_everything_failing_lists_each_provider(tmp_path: Path, mock: respx.MockRouter):
    mock.get(aggs_url(ACME)).mock(return_value=httpx.Response(401, text="bad key"))
    mock.get(aggs_url(BACKUP)).mock(return_value=httpx.Response(200, text="<html>oops</html>"))
    async with make_fetcher(tmp_path) as fetcher:
        with pytest.raises(FetchFailed) as caught:
            await fetcher.fetch("bars", PARAMS, asset_class="equity")
    kinds = [(name, type(exc)) for name, exc in caught.value.failures]
    assert kinds[0] == ("acme", Unauthorized) and kinds[1][0] == "backup"
    assert "body is not JSON" in str(caught.value)


async def test_an_explicit_provider_never_falls_back(tmp_path: Path, mock: respx.MockRouter):
    mock.get(aggs_url(ACME)).mock(return_value=httpx.Response(401, text="bad key"))
    backup = mock.get(aggs_url(BACKUP)).mock(return_value=ok())
    async with make_fetcher(tmp_path) as fetcher:
        with pytest.raises(Unauthorized):
            await fetcher.fetch("bars", PARAMS, provider="acme")
        with pytest.raises(NoProvider, match="loaded providers"):
            await fetcher.fetch("bars", PARAMS, provider="nobody")
    assert not backup.called


async def test_asset_class_filters_providers(tmp_path: Path, mock: respx.MockRouter):
    async with make_fetcher(tmp_path) as fetcher:
        with pytest.raises(NoProvider, match="no loaded provider serves bars:crypto"):
            await fetcher.fetch("bars", PARAMS, asset_class="crypto")
        with pytest.raises(ValueError, match="asset_class"):
            await fetcher.fetch("bars", PARAMS, asset_class="stonks")


async def test_bad_params_are_a_value_error_naming_the_field(
    tmp_path: Path, mock: respx.MockRouter
):
    async with make_fetcher(tmp_path) as fetcher:
        with pytest.raises(ValueError, match="symbol"):
            await fetcher.fetch("bars", {**PARAMS, "symbol": "not a ticker"})
    assert not mock.calls


# -- retries and rate limits ------------------------------------------------------------------


async def test_429_waits_the_retry_after_then_succeeds(tmp_path: Path, mock: respx.MockRouter):
    clock = FakeClock()
    mock.get(aggs_url(ACME)).mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "7"}, text="slow down"), ok()]
    )
    async with make_fetcher(tmp_path, clock=clock) as fetcher:
        start = clock.now
        result = await fetcher.fetch("bars", PARAMS, asset_class="equity")
        limiter = fetcher.limiter("acme")
    assert result.provider == "acme" and result.attempts == 2
    assert clock.now - start >= 7.0  # the wait happened, on the fetcher's clock
    assert limiter is not None and limiter.waited_s >= 7.0


async def test_retry_after_beyond_the_max_wait_fails_fast_and_falls_back(
    tmp_path: Path, mock: respx.MockRouter
):
    clock = FakeClock()
    primary = mock.get(aggs_url(ACME)).mock(
        return_value=httpx.Response(429, headers={"Retry-After": "3600"})
    )
    mock.get(aggs_url(BACKUP)).mock(return_value=ok())
    async with make_fetcher(tmp_path, clock=clock, fetch_max_wait_s=30) as fetcher:
        result = await fetcher.fetch("bars", PARAMS, asset_class="equity")
    assert result.provider == "backup" and primary.call_count == 1
    assert clock.now == 1000.0  # nobody slept an hour
    fallback = audit_lines(tmp_path)[0]["fallbacks"][0]
    assert fallback["status"] == "error:RateWaitTooLong"
    assert "SEXTANT_FETCH_MAX_WAIT_S" in fallback["error"]


async def test_5xx_backoff_grows_exponentially_with_jitter(tmp_path: Path, mock: respx.MockRouter):
    clock = FakeClock()
    mock.get(aggs_url(ACME)).mock(return_value=httpx.Response(503))
    async with make_fetcher(
        tmp_path, "acme", clock=clock, fetch_backoff_base_s=1.0, fetch_max_attempts=4
    ) as fetcher:
        with pytest.raises(ProviderUnavailable):
            await fetcher.fetch("bars", PARAMS)
    assert len(clock.slept) == 3
    for n, slept in enumerate(clock.slept):
        assert 2**n <= slept <= 1.5 * 2**n


def test_retry_delay_honours_retry_after_and_the_cap() -> None:
    assert retry_delay(RateLimited("p", 12.0), 1, base_s=0.5, max_s=30) == 12.0
    assert retry_delay(ProviderUnavailable("p", "x"), 10, base_s=0.5, max_s=30) == 30
    assert retry_delay(RateLimited("p", 90.0), 10, base_s=0.5, max_s=30) == 90.0


async def test_token_bucket_lets_n_through_per_window_and_the_rest_wait() -> None:
    clock = FakeClock()
    bucket = TokenBucket("p", RateLimit(5, 1.0), clock=clock)
    grants = []
    for _ in range(12):
        await bucket.acquire()
        grants.append(clock.now - 1000.0)
    assert grants == [0.0] * 5 + [1.0] * 5 + [2.0] * 2


async def test_token_bucket_fails_fast_past_the_max_wait() -> None:
    clock = FakeClock()
    bucket = TokenBucket("p", RateLimit(1, 10.0), max_wait_s=0.5, clock=clock)
    await bucket.acquire()
    for _ in range(2):  # a refused request reserves nothing
        with pytest.raises(RateWaitTooLong, match=r"10\.0s wait"):
            await bucket.acquire()
    assert clock.now == 1000.0
    clock.now += 10
    await bucket.acquire()


async def test_concurrent_fetches_respect_the_rate_limit_in_real_time(
    tmp_path: Path, mock: respx.MockRouter
):
    sent: list[float] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(time.monotonic())
        return ok(request.url.path.split("/")[4])

    mock.get(url__startswith=f"{ACME}/v2/aggs/").mock(side_effect=answer)
    rates = {"acme": RateLimit(5, 0.25)}
    async with make_fetcher(tmp_path, "acme", rates=rates) as fetcher:
        started = time.monotonic()
        results = await asyncio.gather(
            *(fetcher.fetch("bars", {**PARAMS, "symbol": f"S{i}"}) for i in range(12))
        )
    assert len(results) == 12 and len(sent) == 12
    assert time.monotonic() - started >= 0.5  # 5 now, 5 after 0.25 s, 2 after 0.5 s
    for i in range(len(sent) - 5):
        assert sent[i + 5] - sent[i] >= 0.25 - 0.01  # no 0.25 s window holds 6 requests


async def test_the_safety_margin_keeps_tokens_out_a_little_longer() -> None:
    clock = FakeClock()
    bucket = TokenBucket("p", RateLimit(2, 1.0), margin=0.1, clock=clock)
    for _ in range(3):
        await bucket.acquire()
    assert clock.now - 1000.0 == pytest.approx(1.1)


async def test_requests_in_flight_per_provider_are_capped(tmp_path: Path, mock: respx.MockRouter):
    in_flight = peak = 0

    async def answer(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.02)
        in_flight -= 1
        return ok(request.url.path.split("/")[4])

    mock.get(url__startswith=f"{ACME}/v2/aggs/").mock(side_effect=answer)
    async with make_fetcher(tmp_path, "acme", fetch_max_concurrency=2) as fetcher:
        await asyncio.gather(
            *(fetcher.fetch("bars", {**PARAMS, "symbol": f"C{i}"}) for i in range(6))
        )
    assert peak == 2


async def test_a_queue_longer_than_the_max_wait_fails_fast(tmp_path: Path, mock: respx.MockRouter):
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.1)
        return ok(request.url.path.split("/")[4])

    mock.get(url__startswith=f"{ACME}/v2/aggs/").mock(side_effect=slow)
    rates = {"acme": RateLimit(1, 10.0)}
    async with make_fetcher(
        tmp_path, "acme", rates=rates, fetch_max_concurrency=1, fetch_max_wait_s=5
    ) as fetcher:
        started = time.monotonic()
        first, second = await asyncio.gather(
            fetcher.fetch("bars", PARAMS),
            fetcher.fetch("bars", {**PARAMS, "symbol": "MSFT"}),
            return_exceptions=True,
        )
    assert not isinstance(first, BaseException) and first.provider == "acme"
    assert isinstance(second, RateWaitTooLong)
    assert time.monotonic() - started < 1.0


async def test_a_429_holds_back_every_request_of_that_provider() -> None:
    clock = FakeClock()
    bucket = TokenBucket("p", RateLimit(100, 1.0), clock=clock)
    bucket.pause(5.0)
    await bucket.acquire()
    assert clock.now == 1005.0


# -- coalescing and caches --------------------------------------------------------------------


async def test_ten_identical_concurrent_fetches_make_one_request(
    tmp_path: Path, mock: respx.MockRouter
):
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.05)
        return ok()

    route = mock.get(aggs_url(ACME)).mock(side_effect=slow)
    async with make_fetcher(tmp_path) as fetcher:
        results = await asyncio.gather(*(fetcher.fetch("bars", PARAMS) for _ in range(10)))
    assert route.call_count == 1
    assert sum(r.coalesced for r in results) == 9
    assert all(r.records == results[0].records for r in results)
    assert len(audit_lines(tmp_path)) == 10


async def test_coalesced_failures_reach_every_awaiter(tmp_path: Path, mock: respx.MockRouter):
    async def gone(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.02)
        return httpx.Response(404)

    route = mock.get(aggs_url(ACME)).mock(side_effect=gone)
    async with make_fetcher(tmp_path, "acme") as fetcher:
        results = await asyncio.gather(
            *(fetcher.fetch("bars", PARAMS) for _ in range(5)), return_exceptions=True
        )
    assert route.call_count == 1 and all(isinstance(r, NotFound) for r in results)


async def test_hot_cache_hits_then_expires_after_the_ttl(tmp_path: Path, mock: respx.MockRouter):
    clock = FakeClock()
    route = mock.get(aggs_url(ACME)).mock(return_value=ok())
    ttl = {"acme/aggregates": 60.0}
    async with make_fetcher(tmp_path, clock=clock, fetch_cache_ttl_s=ttl) as fetcher:
        first = await fetcher.fetch("bars", PARAMS)
        second = await fetcher.fetch("bars", PARAMS)
        clock.now += 59
        third = await fetcher.fetch("bars", PARAMS)
        clock.now += 2
        fourth = await fetcher.fetch("bars", PARAMS)
    assert [r.cache for r in (first, second, third, fourth)] == ["miss", "hot", "hot", "miss"]
    assert second.records == first.records and route.call_count == 2
    statuses = [line["status"] for line in audit_lines(tmp_path)]
    assert statuses == ["ok", "cache_hit", "cache_hit", "ok"]


async def test_a_zero_ttl_disables_the_cache(tmp_path: Path, mock: respx.MockRouter):
    route = mock.get(aggs_url(ACME)).mock(return_value=ok())
    async with make_fetcher(tmp_path, fetch_cache_ttl_s={"bars": 0}) as fetcher:
        for _ in range(3):
            assert (await fetcher.fetch("bars", PARAMS)).cache == "miss"
    assert route.call_count == 3


async def test_a_cached_answer_of_the_fallback_is_found_next_time(
    tmp_path: Path, mock: respx.MockRouter
):
    primary = mock.get(aggs_url(ACME)).mock(return_value=httpx.Response(401))
    mock.get(aggs_url(BACKUP)).mock(return_value=ok())
    async with make_fetcher(tmp_path) as fetcher:
        await fetcher.fetch("bars", PARAMS)
        again = await fetcher.fetch("bars", PARAMS)
    assert (again.provider, again.cache) == ("backup", "hot") and primary.call_count == 1


# -- cold layer: the datasets service ---------------------------------------------------------


def lake_answer(source: str = "acme", days: int = 5) -> httpx.Response:
    bars = [
        {
            "ts_event": f"2024-01-0{2 + i}T00:00:00Z",
            "open": 99.0,
            "high": 101.0,
            "low": 98.0,
            "close": 100.0,
            "volume": 1000.0,
            "source": source,
            "revision": 0,
            "ts_known": "2024-02-01T00:00:00Z",
        }
        for i in range(days)
    ]
    body = {"symbol": "AAPL", "interval": "1d", "source": source, "count": days, "bars": bars}
    return httpx.Response(200, json=body)


async def test_bars_in_the_lake_are_served_cold_without_a_provider(
    tmp_path: Path, mock: respx.MockRouter
):
    lake = mock.get(f"{DATASETS}/v1/bars").mock(return_value=lake_answer())
    provider = mock.get(aggs_url(ACME)).mock(return_value=ok())
    async with make_fetcher(tmp_path, datasets_url=DATASETS) as fetcher:
        cold = await fetcher.fetch("bars", PARAMS, asset_class="equity")
        hot = await fetcher.fetch("bars", PARAMS, asset_class="equity")
    assert (cold.provider, cold.cache, hot.cache) == ("datasets", "cold", "hot")
    assert len(cold.records) == 5 and cold.records[0].source == "acme"
    assert not provider.called and lake.call_count == 1
    assert dict(lake.calls.last.request.url.params) == {
        "symbol": "AAPL",
        "interval": "1d",
        "start": "2024-01-02",
        "end": "2024-01-08",
    }


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(404, json={"detail": "no bars for AAPL"}),
        lake_answer(source="simulated"),
        lake_answer(days=1),  # covers 2024-01-02 only, the query runs to 2024-01-08
    ],
    ids=["404", "simulated-only", "partial-range"],
)
async def test_a_lake_miss_falls_through_to_the_providers(
    tmp_path: Path, mock: respx.MockRouter, answer: httpx.Response
):
    mock.get(f"{DATASETS}/v1/bars").mock(return_value=answer)
    mock.get(aggs_url(ACME)).mock(return_value=ok())
    async with make_fetcher(tmp_path, datasets_url=DATASETS) as fetcher:
        result = await fetcher.fetch("bars", PARAMS, asset_class="equity")
    assert (result.provider, result.cache) == ("acme", "miss")


async def test_an_unreachable_datasets_service_is_skipped_for_a_while(
    tmp_path: Path, mock: respx.MockRouter
):
    lake = mock.get(f"{DATASETS}/v1/bars").mock(side_effect=httpx.ConnectError("refused"))
    mock.get(url__startswith=f"{ACME}/v2/aggs/").mock(return_value=ok())
    async with make_fetcher(tmp_path, datasets_url=DATASETS) as fetcher:
        for symbol in ("AAPL", "MSFT"):
            result = await fetcher.fetch("bars", {**PARAMS, "symbol": symbol}, asset_class="equity")
            assert result.provider == "acme"
    assert lake.call_count == 1


# -- audit, secrets, DLQ ----------------------------------------------------------------------


async def test_audit_lines_have_every_field_and_no_secret(tmp_path: Path, mock: respx.MockRouter):
    mock.get(aggs_url(ACME)).mock(
        return_value=httpx.Response(401, text=f"invalid apiKey {SECRET} for this plan")
    )
    mock.get(aggs_url(BACKUP)).mock(return_value=ok())
    async with make_fetcher(tmp_path) as fetcher:
        await fetcher.fetch("bars", PARAMS, asset_class="equity")
        await fetcher.fetch("bars", PARAMS, asset_class="equity")
    files = list((tmp_path / "audit").glob("fetch-*.jsonl"))
    assert [f.name for f in files] == [f"fetch-{datetime.now(UTC).date()}.jsonl"]
    text = files[0].read_text()
    assert SECRET not in text and BACKUP_SECRET not in text and "***" in text
    miss, hit = audit_lines(tmp_path)
    assert {"ts", "provider", "dataset", "query", "status", "rows", "rejects", "latency_ms"} <= set(
        miss
    )
    assert {"cache", "attempts"} <= set(miss)
    assert miss["query"] == {**PARAMS, "interval": "1d", "asset_class": "equity"}
    assert (miss["status"], miss["rows"], miss["cache"], miss["attempts"]) == ("ok", 5, "miss", 1)
    assert (hit["status"], hit["cache"], hit["attempts"]) == ("cache_hit", "hot", 0)
    assert miss["latency_ms"] > 0 and datetime.fromisoformat(miss["ts"]).tzinfo is not None


async def test_error_messages_carry_no_secret(tmp_path: Path, mock: respx.MockRouter, caplog):
    mock.get(aggs_url(ACME)).mock(return_value=httpx.Response(401, text=f"bad key {SECRET}"))
    caplog.set_level(logging.DEBUG)
    async with make_fetcher(tmp_path, "acme") as fetcher:
        with pytest.raises(Unauthorized) as caught:
            await fetcher.fetch("bars", PARAMS)
    assert SECRET not in str(caught.value) and SECRET not in caplog.text


def test_query_fields_that_look_secret_are_masked() -> None:
    masked = public_query({"symbol": "AAPL", "api_key": "x", "token": "y", "Authorization": "z"})
    assert masked == {"symbol": "AAPL", "api_key": "***", "token": "***", "Authorization": "***"}


async def test_rejected_records_go_to_the_audit_and_the_dlq(tmp_path: Path, mock: respx.MockRouter):
    rows = aggs_rows("AAPL", date(2024, 1, 2), 3)
    rows[1] = {**rows[1], "h": 1.0}  # high below open and close
    del rows[2]["c"]  # no close at all
    mock.get(aggs_url(ACME)).mock(return_value=httpx.Response(200, json=aggs_payload("AAPL", rows)))
    sink = ListSink()
    async with make_fetcher(tmp_path, publisher=sink) as fetcher:
        result = await fetcher.fetch("bars", PARAMS)
    assert len(result.records) == 1 and len(result.rejects) == 2
    letters = [r for r in sink.records if isinstance(r, DeadLetter)]
    assert len(letters) == 2
    for letter, row in zip(letters, rows[1:], strict=True):
        assert (letter.topic, letter.partition, letter.offset) == (topics.MD_BARS, -1, -1)
        assert letter.error.startswith("acme/aggregates: ")
        assert orjson.loads(letter.raw) == row
    assert "high/low do not bound" in letters[0].error
    (line,) = audit_lines(tmp_path)
    assert line["rejects"] == 2 and len(line["reject_reasons"]) == 2


async def test_publish_sends_records_to_the_publisher(tmp_path: Path, mock: respx.MockRouter):
    mock.get(aggs_url(ACME)).mock(return_value=ok())
    sink = ListSink()
    async with make_fetcher(tmp_path, publisher=sink) as fetcher:
        result = await fetcher.fetch("bars", PARAMS)
        assert await fetcher.publish(result.records) == 5
    assert sink.records == result.records
    async with make_fetcher(tmp_path) as fetcher:
        with pytest.raises(RuntimeError, match="publisher="):
            await fetcher.publish(result.records)


# -- credentials and status -------------------------------------------------------------------


async def test_status_lists_unavailable_providers_with_the_variable_and_warns_once(
    tmp_path: Path, mock: respx.MockRouter, caplog, monkeypatch
):
    monkeypatch.delenv("SEXTANT_ACME_API_KEY", raising=False)
    mock.get(aggs_url(BACKUP)).mock(return_value=ok())
    keys = {"SEXTANT_BACKUP_API_KEY": BACKUP_SECRET}
    caplog.set_level(logging.WARNING)
    async with make_fetcher(tmp_path, credentials=keys, fetch_cache_ttl_s={"bars": 0}) as fetcher:
        for _ in range(3):
            await fetcher.fetch("bars", PARAMS)
        status = {s.name: s.as_dict() for s in fetcher.status()}
    assert status["acme"]["available"] is False
    assert status["acme"]["missing"] == ("SEXTANT_ACME_API_KEY",)
    assert status["backup"]["available"] is True and status["backup"]["rate_limit"] == "100/1s"
    assert caplog.text.count("set SEXTANT_ACME_API_KEY") == 1
    assert BACKUP_SECRET not in repr(status) and BACKUP_SECRET not in repr(fetcher.settings)


async def test_keys_come_from_the_environment(tmp_path: Path, mock: respx.MockRouter, monkeypatch):
    monkeypatch.setenv("SEXTANT_ACME_API_KEY", "from-the-environment")
    route = mock.get(aggs_url(ACME)).mock(return_value=ok())
    async with make_fetcher(tmp_path, "acme", credentials={}) as fetcher:
        await fetcher.fetch("bars", PARAMS)
    assert route.calls.last.request.url.params["apiKey"] == "from-the-environment"


@pytest.mark.parametrize(
    "content",
    [
        '# provider keys\nexport SEXTANT_ACME_API_KEY="from-the-file"\nOTHER=1\n',
        '{"SEXTANT_ACME_API_KEY": "from-the-file"}',
    ],
    ids=["dotenv", "json"],
)
async def test_keys_come_from_a_secrets_file(
    tmp_path: Path, mock: respx.MockRouter, monkeypatch, content: str
):
    monkeypatch.delenv("SEXTANT_ACME_API_KEY", raising=False)
    secrets = tmp_path / "secrets"
    secrets.write_text(content)
    route = mock.get(aggs_url(ACME)).mock(return_value=ok())
    async with make_fetcher(tmp_path, "acme", credentials={}, secrets_file=secrets) as fetcher:
        await fetcher.fetch("bars", PARAMS)
    assert route.calls.last.request.url.params["apiKey"] == "from-the-file"


def test_settings_parse_routes_and_reject_bad_ones(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SEXTANT_ROUTES", '{"bars:crypto": ["coingecko", "polygon"]}')
    monkeypatch.setenv("SEXTANT_REDIS_URL", "redis://:hunter2@cache:6379/0")
    settings = FetchSettings()
    assert settings.routes == {"bars:crypto": ["coingecko", "polygon"]}
    assert isinstance(settings.redis_url, SecretStr) and "hunter2" not in repr(settings)
    with pytest.raises(ValidationError, match="kind must be one of"):
        FetchSettings(routes={"candles": ["polygon"]})
    with pytest.raises(ValidationError, match="asset class must be one of"):
        FetchSettings(routes={"bars:stocks": ["polygon"]})
    with pytest.raises(ValidationError, match="SEXTANT_SECRETS_FILE"):
        FetchSettings(secrets_file=tmp_path / "missing.env")


# -- loading provider modules -----------------------------------------------------------------


async def test_modules_load_by_name_and_absent_or_broken_ones_are_reported(
    tmp_path: Path, mock: respx.MockRouter, monkeypatch, caplog
):
    package = tmp_path / "extra_providers"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "broken.py").write_text("import no_such_dependency_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    mock.get(aggs_url(ACME)).mock(return_value=ok())
    caplog.set_level(logging.DEBUG, logger="sextant_ingest.fetching")
    settings = make_settings(
        tmp_path,
        fetch_providers=[
            "tests.ingest.test_fetching_fakes",
            "not_written_yet",
            "extra_providers.broken",
        ],
    )
    async with UnifiedFetcher(settings) as fetcher:
        result = await fetcher.fetch("bars", PARAMS, asset_class="equity")
        status = {s.name: s for s in fetcher.status()}
    assert result.provider == "acme"
    assert set(status) == {"acme", "extra_providers.broken"}
    assert not status["extra_providers.broken"].available
    assert "no_such_dependency_xyz" in status["extra_providers.broken"].reason
    assert "sextant_ingest.providers.not_written_yet does not exist yet" in caplog.text


def test_provider_modules_get_their_keys_in_the_constructor() -> None:
    registry = ProviderRegistry()
    entry = registry.add_module(provider_module("acme", ACME))
    (fetcher,) = entry.build_fetchers({"SEXTANT_ACME_API_KEY": SecretStr(SECRET)})
    assert fetcher._credentials["SEXTANT_ACME_API_KEY"].get_secret_value() == SECRET
    with pytest.raises(ValueError, match="registered twice"):
        registry.add_module(provider_module("acme", ACME))


async def test_missing_credentials_error_names_the_variable() -> None:
    error = MissingCredentials("acme", "SEXTANT_ACME_API_KEY")
    assert str(error) == "acme: unavailable: set SEXTANT_ACME_API_KEY"


# -- a real provider module behind the fetcher ------------------------------------------------


async def test_the_real_polygon_module_gets_its_key_through_the_fetcher(
    tmp_path: Path, mock: respx.MockRouter
):
    polygon = pytest.importorskip("sextant_ingest.providers.polygon")
    fixture = Path(__file__).parents[1] / "resources" / "polygon" / "aggs_aapl_day.json"
    if not fixture.exists():
        pytest.skip("polygon fixtures not written yet")
    url = f"{polygon.PROVIDER.base_url}/v2/aggs/ticker/AAPL/range/1/day/2024-01-02/2024-01-05"
    route = mock.get(url).mock(return_value=httpx.Response(200, content=fixture.read_bytes()))
    settings = make_settings(
        tmp_path,
        fetch_providers=["polygon"],
        credentials={polygon.API_KEY_VARIABLE: "pk-real-5ecret"},
    )
    params = {
        "instrument_id": "AAPL",
        "interval": "1d",
        "start": "2024-01-02T00:00:00Z",
        "end": "2024-01-06T00:00:00Z",
    }
    async with UnifiedFetcher(settings) as fetcher:
        result = await fetcher.fetch("bars", params, asset_class="equity")
    assert result.provider == "polygon" and len(result.records) == 4
    assert route.calls.last.request.headers["Authorization"] == "Bearer pk-real-5ecret"
    assert (
        "pk-real-5ecret"
        not in (tmp_path / "audit").joinpath(f"fetch-{datetime.now(UTC).date()}.jsonl").read_text()
    )
