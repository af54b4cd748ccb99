"""The ``newsapi`` provider against wire-format fixtures (tests/resources/newsapi/) with respx."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from pydantic import SecretStr

from sextant_common.events import NewsItem
from sextant_ingest.providers.errors import (
    MalformedResponse,
    MissingCredentials,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
    Unauthorized,
)
from sextant_ingest.providers.fetcher import DataKind, Fetcher, Transformed
from sextant_ingest.providers.http import ProviderHttp
from sextant_ingest.providers.newsapi import (
    API_KEY,
    FETCHERS,
    PROVIDER,
    NewsApiEverythingFetcher,
    NewsApiTopHeadlinesFetcher,
)

RESOURCES = Path(__file__).parents[1] / "resources" / "newsapi"
KEY = "newsapi-test-key-5f2b9c0d1e"
EVERYTHING = f"{PROVIDER.base_url}/everything"
TOP = f"{PROVIDER.base_url}/top-headlines"


def fixture(name: str) -> bytes:
    return (RESOURCES / name).read_bytes()


def reply(name: str, status: int = 200, **headers: str) -> httpx.Response:
    kind = "text/html" if name.endswith(".html") else "application/json; charset=utf-8"
    return httpx.Response(status, content=fixture(name), headers={"Content-Type": kind, **headers})


async def fetch(
    fetcher: Fetcher[Any, NewsItem], params: dict[str, Any], http: ProviderHttp
) -> Transformed[NewsItem]:
    query = fetcher.transform_query(params)
    raw = await fetcher.aextract_data(query, http)
    return fetcher.transform_data(query, raw)


def everything() -> NewsApiEverythingFetcher:
    return NewsApiEverythingFetcher({API_KEY: SecretStr(KEY)})


# -- module contract ------------------------------------------------------------------------


def test_provider_declares_its_datasets_and_key() -> None:
    assert PROVIDER.name == "newsapi"
    assert PROVIDER.credentials == (API_KEY,) == ("SEXTANT_NEWSAPI_API_KEY",)
    assert {f.dataset for f in FETCHERS} == {"everything", "top_headlines"}
    assert all(f.kind is DataKind.NEWS and f.provider is PROVIDER for f in FETCHERS)


# -- everything: pages, schema, normalization -----------------------------------------------


async def test_everything_follows_pages_until_total_results(
    http: ProviderHttp, respx_mock: respx.MockRouter
) -> None:
    pages = [
        respx_mock.get(EVERYTHING, params={"page": str(n)}).mock(
            return_value=reply(f"everything_page{n}.json")
        )
        for n in (1, 2, 3)
    ]
    before = datetime.now(UTC)
    start, end = datetime(2024, 9, 28, tzinfo=UTC), datetime(2024, 10, 3, tzinfo=UTC)
    params = {"tickers": ["TSLA"], "start": start, "end": end, "page_size": 3}

    out = await fetch(everything(), params, http)

    assert [route.call_count for route in pages] == [1, 1, 1]
    assert http.requests == 3
    sent = pages[0].calls.last.request
    assert sent.headers["X-Api-Key"] == KEY
    assert KEY not in str(sent.url)
    assert dict(sent.url.params) == {
        "q": "TSLA",
        "language": "en",
        "sortBy": "publishedAt",
        "from": "2024-09-28T00:00:00",
        "to": "2024-10-03T00:00:00",
        "pageSize": "3",
        "page": "1",
    }
    # 7 articles, one a syndicated copy of another URL: 6 items and 1 reject.
    assert len(out.records) == 6
    assert [r.reason for r in out.rejects] == [
        "duplicate url https://www.reuters.com/business/autos-transportation/"
        "tesla-quarterly-deliveries-beat-estimates-2024-10-02/"
    ]
    first = out.records[0]
    assert isinstance(first, NewsItem)
    assert first.item_id == hashlib.sha256(first.url.encode()).hexdigest()[:32]
    assert first.ts_published == datetime(2024, 10, 2, 14, 31, 5, tzinfo=UTC)
    assert first.title == "Tesla quarterly deliveries beat estimates, shares jump"
    assert first.summary.startswith("Tesla delivered more vehicles")
    assert first.publisher == "Reuters"
    assert first.source == "newsapi"
    for item in out.records:
        assert item.instruments == ("TSLA",)
        assert item.sentiment is not None and 0.0 <= item.sentiment <= 1.0
        assert before <= item.ts_known <= datetime.now(UTC)
        NewsItem.from_bytes(item.to_bytes())  # round-trips the bus format


async def test_sentiment_orders_good_and_bad_news(
    http: ProviderHttp, respx_mock: respx.MockRouter
) -> None:
    for n in (1, 2, 3):
        respx_mock.get(EVERYTHING, params={"page": str(n)}).mock(
            return_value=reply(f"everything_page{n}.json")
        )
    out = await fetch(everything(), {"q": "Tesla", "page_size": 3}, http)
    by_title = {item.title: item.sentiment or 0.0 for item in out.records}
    good = by_title["Tesla quarterly deliveries beat estimates, shares jump"]
    bad = by_title["Tesla's robotaxi event leaves investors disappointed"]
    neutral = by_title["Tesla to Report Third-Quarter Results on October 23"]
    assert good > 0.6 > neutral > 0.4 > bad
    assert all(item.instruments == () for item in out.records)  # q without tickers: no tagging


async def test_result_cap_stops_paging_without_a_request(
    http: ProviderHttp, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.get(EVERYTHING).mock(return_value=reply("everything_page1.json"))
    out = await fetch(everything(), {"q": "Tesla", "page_size": 3, "max_results": 3}, http)
    assert route.call_count == 1
    assert len(out.records) == 3


async def test_maximum_results_reached_on_a_later_page_keeps_earlier_pages(
    http: ProviderHttp, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(EVERYTHING, params={"page": "1"}).mock(
        return_value=reply("everything_page1.json")
    )
    respx_mock.get(EVERYTHING, params={"page": "2"}).mock(
        return_value=reply("error_maximumResultsReached.json", 426)
    )
    out = await fetch(everything(), {"q": "Tesla", "page_size": 3, "max_results": 500}, http)
    assert len(out.records) == 3
    assert http.requests == 2


async def test_empty_result_is_no_records(http: ProviderHttp, respx_mock: respx.MockRouter) -> None:
    route = respx_mock.get(EVERYTHING).mock(return_value=reply("everything_empty.json"))
    out = await fetch(everything(), {"q": "nothing matches this"}, http)
    assert out.records == [] and out.rejects == []
    assert route.call_count == 1


async def test_bad_articles_are_rejected_and_the_rest_kept(
    http: ProviderHttp, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(EVERYTHING).mock(return_value=reply("everything_mixed.json"))
    out = await fetch(everything(), {"tickers": ["AAPL"]}, http)
    assert [item.publisher for item in out.records] == ["Reuters", "Associated Press"]
    reasons = [r.reason for r in out.rejects]
    assert reasons[0] == "article removed by its publisher ([Removed])"
    assert reasons[1] == "article has no url"
    assert reasons[2].startswith("bad publishedAt 'yesterday'")
    assert out.rejects[1].raw["title"] == "Apple Watch Series 10 hands-on"
    assert (out.records[0].sentiment or 0) > 0.5 > (out.records[1].sentiment or 1)


async def test_top_headlines_of_business_in_the_us(
    http: ProviderHttp, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.get(TOP).mock(return_value=reply("top_headlines_business_us.json"))
    fetcher = NewsApiTopHeadlinesFetcher({API_KEY: KEY})
    out = await fetch(fetcher, {}, http)
    assert dict(route.calls.last.request.url.params) == {
        "category": "business",
        "country": "us",
        "pageSize": "100",
        "page": "1",
    }
    assert [item.publisher for item in out.records] == ["The Wall Street Journal", "CNBC"]
    assert out.records[1].ts_published == datetime(2024, 9, 19, 20, 5, tzinfo=UTC)
    assert all(item.instruments == () for item in out.records)


# -- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "status", "headers", "error", "says"),
    [
        ("error_apiKeyInvalid.json", 401, {}, Unauthorized, "apiKeyInvalid"),
        ("error_rateLimited.json", 429, {"Retry-After": "3600"}, RateLimited, "3600"),
        ("error_parameterInvalid.json", 400, {}, MalformedResponse, "parameterInvalid"),
        ("error_maximumResultsReached.json", 426, {}, MalformedResponse, "maximumResults"),
        ("error_unexpectedError.json", 500, {}, ProviderUnavailable, "HTTP 500"),
        ("malformed_gateway.html", 502, {}, ProviderUnavailable, "HTTP 502"),
        ("malformed_gateway.html", 200, {}, MalformedResponse, "not JSON"),
        ("malformed_truncated.json", 200, {}, MalformedResponse, "not JSON"),
    ],
)
async def test_errors_are_typed_and_never_show_the_key(
    http: ProviderHttp,
    respx_mock: respx.MockRouter,
    name: str,
    status: int,
    headers: dict[str, str],
    error: type[ProviderError],
    says: str,
) -> None:
    respx_mock.get(EVERYTHING).mock(return_value=reply(name, status, **headers))
    with pytest.raises(error) as caught:
        await fetch(everything(), {"q": "Tesla"}, http)
    assert says in str(caught.value)
    assert KEY not in str(caught.value) and KEY not in repr(caught.value)
    if isinstance(caught.value, RateLimited):
        assert caught.value.retry_after == 3600.0


async def test_error_status_in_a_200_body_is_still_typed(
    http: ProviderHttp, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(EVERYTHING).mock(return_value=reply("error_apiKeyInvalid.json", 200))
    with pytest.raises(Unauthorized, match="apiKeyInvalid"):
        await fetch(everything(), {"q": "Tesla"}, http)


@pytest.mark.parametrize("credentials", [{}, {API_KEY: ""}, {API_KEY: SecretStr("")}])
async def test_missing_key_raises_before_any_request(
    http: ProviderHttp, respx_mock: respx.MockRouter, credentials: dict[str, Any]
) -> None:
    route = respx_mock.get(EVERYTHING).mock(return_value=reply("everything_empty.json"))
    fetcher = NewsApiEverythingFetcher(credentials)
    with pytest.raises(MissingCredentials) as caught:
        await fetcher.aextract_data(fetcher.transform_query({"q": "Tesla"}), http)
    assert caught.value.variable == "SEXTANT_NEWSAPI_API_KEY"
    assert route.call_count == 0 and http.requests == 0


# -- queries --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "q or tickers"),
        ({"tickers": ["TSLA", "bad ticker!"]}, "tickers"),
        ({"q": "Tesla", "page_size": 101}, "page_size"),
        ({"q": "Tesla", "language": "english"}, "language"),
        ({"q": "Tesla", "start": "2024-10-02T00:00:00"}, "start"),  # naive: not UTC
        (
            {"q": "Tesla", "start": "2024-10-02T00:00:00Z", "end": "2024-10-01T00:00:00Z"},
            "after end",
        ),
        ({"q": "Tesla", "unknown": 1}, "unknown"),
    ],
)
def test_bad_queries_name_the_field(params: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        everything().transform_query(params)


def test_tickers_become_the_query() -> None:
    query = everything().transform_query({"tickers": ["AAPL", "MSFT"]})
    assert query.q == "AAPL OR MSFT"
    assert query.tickers == ("AAPL", "MSFT")
    headlines = NewsApiTopHeadlinesFetcher().transform_query({"category": "technology"})
    assert headlines.q is None and headlines.country == "us"
