"""The ``reddit`` provider against wire-format fixtures (tests/resources/reddit/) with respx."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import respx
from pydantic import SecretStr

from sextant_common.events import AltSignal
from sextant_ingest import sentiment
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
from sextant_ingest.providers.reddit import (
    CLIENT_ID,
    CLIENT_SECRET,
    DEFAULT_USER_AGENT,
    FETCHERS,
    PROVIDER,
    TOKEN_URL,
    USER_AGENT,
    RedditSubredditSentimentFetcher,
    RedditTickerSentimentFetcher,
)

RESOURCES = Path(__file__).parents[1] / "resources" / "reddit"
ID, SECRET = "p-jcoLKBynTLew", "gko_LXELoV07ZBNUXrvWZfzE3aI"
UA = "python:sextant-tests:0.1 (by /u/sextant_dev)"
CREDENTIALS: dict[str, SecretStr | str] = {
    CLIENT_ID: ID,
    CLIENT_SECRET: SecretStr(SECRET),
    USER_AGENT: UA,
}
NEW = f"{PROVIDER.base_url}/r/wallstreetbets/new"
SEARCH_STOCKS = f"{PROVIDER.base_url}/r/stocks/search"
SEARCH_INVESTING = f"{PROVIDER.base_url}/r/investing/search"


def fixture(name: str) -> bytes:
    return (RESOURCES / name).read_bytes()


def token_of(name: str) -> str:
    return str(json.loads(fixture(name))["access_token"])


TOKEN = token_of("token.json")
SECRETS = (ID, SECRET, TOKEN, token_of("token_renewed.json"))


def reply(name: str, status: int = 200, headers: dict[str, str] | None = None) -> httpx.Response:
    kind = "text/html" if name.endswith(".html") else "application/json; charset=UTF-8"
    return httpx.Response(
        status, content=fixture(name), headers={"Content-Type": kind, **(headers or {})}
    )


def day(d: int, hour: int = 0) -> datetime:
    return datetime(2024, 9 if d > 15 else 10, d, hour, tzinfo=UTC)


@pytest.fixture
def token(respx_mock: respx.MockRouter) -> respx.Route:
    return respx_mock.post(TOKEN_URL).mock(return_value=reply("token.json"))


def mock_new(respx_mock: respx.MockRouter) -> respx.Route:
    """/r/wallstreetbets/new: page 1, then page 2 when asked with page 1's ``after``."""
    return respx_mock.get(NEW).mock(
        side_effect=lambda request: reply(
            "new_wallstreetbets_page2.json"
            if request.url.params.get("after") == "t3_1fuf7x1"
            else "new_wallstreetbets_page1.json"
        )
    )


async def fetch(
    fetcher: Fetcher[Any, AltSignal], params: dict[str, Any], http: ProviderHttp
) -> Transformed[AltSignal]:
    query = fetcher.transform_query(params)
    raw = await fetcher.aextract_data(query, http)
    return fetcher.transform_data(query, raw)


def by_signal(out: Transformed[AltSignal], signal: str) -> dict[tuple[str, datetime], AltSignal]:
    return {(s.subject, s.ts_event): s for s in out.records if s.signal == signal}


def assert_no_secret(error: BaseException) -> None:
    for secret in SECRETS:
        assert secret not in str(error) and secret not in repr(error)


# -- module contract ------------------------------------------------------------------------


def test_provider_declares_its_datasets_and_credentials() -> None:
    assert PROVIDER.name == "reddit"
    assert PROVIDER.credentials == ("SEXTANT_REDDIT_CLIENT_ID", "SEXTANT_REDDIT_CLIENT_SECRET")
    assert {f.dataset for f in FETCHERS} == {"subreddit_sentiment", "ticker_sentiment"}
    assert all(f.kind is DataKind.SENTIMENT and f.provider is PROVIDER for f in FETCHERS)


# -- subreddit_sentiment --------------------------------------------------------------------


async def test_subreddit_pages_are_followed_and_aggregated_per_day(
    http: ProviderHttp, respx_mock: respx.MockRouter, token: respx.Route
) -> None:
    first = mock_new(respx_mock)
    fetcher = RedditSubredditSentimentFetcher(CREDENTIALS)
    before = datetime.now(UTC)

    out = await fetch(fetcher, {"subreddits": ["wallstreetbets"]}, http)

    # One token, then two listing pages chained by `after`.
    assert token.call_count == 1
    grant = token.calls.last.request
    assert (
        grant.headers["Authorization"]
        == "Basic " + base64.b64encode(f"{ID}:{SECRET}".encode()).decode()
    )
    assert parse_qs(grant.content.decode()) == {"grant_type": ["client_credentials"]}
    assert grant.headers["User-Agent"] == UA
    assert first.call_count == 2
    page1, page2 = (call.request for call in first.calls)
    assert page1.headers["Authorization"] == f"bearer {TOKEN}"
    assert page1.headers["User-Agent"] == UA
    assert dict(page1.url.params) == {"limit": "100", "raw_json": "1"}
    assert page2.url.params["after"] == "t3_1fuf7x1"

    assert out.rejects == []
    sentiments = by_signal(out, "reddit.sentiment")
    mentions = by_signal(out, "reddit.mentions")
    subject = "r/wallstreetbets"
    assert sorted(sentiments) == [(subject, day(30)), (subject, day(1)), (subject, day(2))]
    assert [mentions[(subject, d)].raw_value for d in (day(30), day(1), day(2))] == [1, 2, 3]
    oct2 = sentiments[(subject, day(2))]
    expected = [
        sentiment.compound(
            "NVDA calls printing, best week ever!\n"
            "Up 300% on my calls. Love this market, amazing gains."
        ),
        sentiment.compound(
            "Lost everything on SPY puts\nTerrible timing, I am devastated. Worst trade of my life."
        ),
        sentiment.compound("What are your moves tomorrow?"),
    ]
    assert oct2.raw_value == pytest.approx(sum(expected) / 3)
    assert oct2.value == pytest.approx((sum(expected) / 3 + 1) / 2)
    assert oct2.samples == 3
    assert oct2.method.startswith("VADER compound mean over title+selftext")
    assert mentions[(subject, day(2))].value == pytest.approx(0.03)
    for signal in out.records:
        assert 0.0 <= signal.value <= 1.0
        assert signal.source == "reddit"
        assert before <= signal.ts_known <= datetime.now(UTC)
        AltSignal.from_bytes(signal.to_bytes())


async def test_removed_selftext_is_not_scored(
    http: ProviderHttp, respx_mock: respx.MockRouter, token: respx.Route
) -> None:
    mock_new(respx_mock)
    params = {"subreddits": ["wallstreetbets"], "bucket": "1h"}
    out = await fetch(RedditSubredditSentimentFetcher(CREDENTIALS), params, http)
    hour = by_signal(out, "reddit.sentiment")[("r/wallstreetbets", day(1, 16))]
    assert hour.raw_value == pytest.approx(sentiment.compound("Market crash incoming?"))


async def test_hour_buckets_and_start_stop_paging(
    http: ProviderHttp, respx_mock: respx.MockRouter, token: respx.Route
) -> None:
    first = mock_new(respx_mock)
    params = {"subreddits": ["wallstreetbets"], "bucket": "1h", "start": day(1)}
    out = await fetch(RedditSubredditSentimentFetcher(CREDENTIALS), params, http)
    assert first.call_count == 2  # page 2 reaches back past start: no page 3
    hours = sorted(ts for _, ts in by_signal(out, "reddit.mentions"))
    assert hours == [day(1, 16), day(1, 21), day(2, 9), day(2, 14), day(2, 15)]


async def test_truncated_paging_drops_the_partial_oldest_bucket(
    http: ProviderHttp, respx_mock: respx.MockRouter, token: respx.Route
) -> None:
    first = mock_new(respx_mock)
    params = {"subreddits": ["wallstreetbets"], "bucket": "1h", "max_pages": 1}
    out = await fetch(RedditSubredditSentimentFetcher(CREDENTIALS), params, http)
    assert first.call_count == 1
    # Page 1 ends at 09:00 with older posts left: the 09:00 hour may be incomplete.
    assert sorted(ts for _, ts in by_signal(out, "reddit.mentions")) == [day(2, 14), day(2, 15)]


async def test_empty_listing_gives_no_signals(
    http: ProviderHttp, respx_mock: respx.MockRouter, token: respx.Route
) -> None:
    route = respx_mock.get(NEW).mock(return_value=reply("listing_empty.json"))
    out = await fetch(
        RedditSubredditSentimentFetcher(CREDENTIALS), {"subreddits": ["wallstreetbets"]}, http
    )
    assert out.records == [] and out.rejects == []
    assert route.call_count == 1


# -- ticker_sentiment -----------------------------------------------------------------------


async def test_ticker_search_keeps_posts_naming_it_and_rejects_bad_records(
    http: ProviderHttp, respx_mock: respx.MockRouter, token: respx.Route
) -> None:
    stocks = respx_mock.get(SEARCH_STOCKS).mock(return_value=reply("search_TSLA_stocks.json"))
    investing = respx_mock.get(SEARCH_INVESTING).mock(return_value=reply("listing_empty.json"))
    params = {"tickers": ["TSLA"], "subreddits": ["stocks", "investing"]}

    out = await fetch(RedditTickerSentimentFetcher(CREDENTIALS), params, http)

    assert stocks.call_count == investing.call_count == 1
    assert dict(stocks.calls.last.request.url.params) == {
        "q": "$TSLA",
        "restrict_sr": "1",
        "sort": "new",
        "type": "link",
        "limit": "100",
        "raw_json": "1",
    }
    assert [r.reason for r in out.rejects] == [
        "not a post (kind 't1')",
        "post 1fusbdd has no numeric created_utc (None)",
    ]
    counts = {ts: s.raw_value for (_, ts), s in by_signal(out, "reddit.mentions").items()}
    assert counts == {day(1): 1, day(2): 2}  # the post not naming TSLA is left out
    oct2 = by_signal(out, "reddit.sentiment")[("TSLA", day(2))]
    assert oct2.samples == 2
    assert {s.subject for s in out.records} == {"TSLA"}


def test_mentions_match_cashtags_in_any_case_and_bare_tickers_in_capitals() -> None:
    fetcher = RedditTickerSentimentFetcher()
    assert fetcher.keeps("TSLA", "bought $tsla today")
    assert fetcher.keeps("TSLA", "TSLA down 5%")
    assert not fetcher.keeps("TSLA", "tsla is fine")
    assert not fetcher.keeps("TSLA", "TSLAQ crowd")
    assert fetcher.keeps("F", "Sold $F, bought GM")
    assert not fetcher.keeps("F", "F this market")  # short tickers need the cashtag
    assert not fetcher.keeps("AI", "AI is everywhere")
    assert fetcher.keeps("NOW", "BUY NOW")  # documented limit: all-caps words that are tickers


# -- auth, errors and rate limits -----------------------------------------------------------


async def test_expired_token_is_renewed_once(
    http: ProviderHttp, respx_mock: respx.MockRouter
) -> None:
    token = respx_mock.post(TOKEN_URL).mock(
        side_effect=[reply("token.json"), reply("token_renewed.json")]
    )
    listing = respx_mock.get(NEW).mock(
        side_effect=[
            reply("listing_empty.json"),
            reply("error_401.json", 401, headers={"www-authenticate": 'Bearer realm="reddit"'}),
            reply("listing_empty.json"),
        ]
    )
    fetcher = RedditSubredditSentimentFetcher(CREDENTIALS)
    query = fetcher.transform_query({"subreddits": ["wallstreetbets"]})
    await fetcher.aextract_data(query, http)
    await fetcher.aextract_data(query, http)  # the cached token is refused: renew, retry
    assert token.call_count == 2
    auths = [call.request.headers["Authorization"] for call in listing.calls]
    renewed = token_of("token_renewed.json")
    assert auths == [f"bearer {TOKEN}", f"bearer {TOKEN}", f"bearer {renewed}"]


@pytest.mark.parametrize(
    ("name", "status", "headers", "error", "says"),
    [
        ("error_401.json", 401, {}, Unauthorized, CLIENT_SECRET),
        ("token_unsupported_grant_type.json", 200, {}, Unauthorized, "unsupported_grant_type"),
        ("error_429.json", 429, {"Retry-After": "30"}, RateLimited, "30"),
        ("error_503.html", 503, {}, ProviderUnavailable, "HTTP 503"),
        ("error_503.html", 200, {}, MalformedResponse, "not JSON"),
    ],
)
async def test_token_errors_are_typed_and_stop_before_listings(
    http: ProviderHttp,
    respx_mock: respx.MockRouter,
    name: str,
    status: int,
    headers: dict[str, str],
    error: type[ProviderError],
    says: str,
) -> None:
    respx_mock.post(TOKEN_URL).mock(return_value=reply(name, status, headers))
    listing = respx_mock.get(NEW).mock(return_value=reply("listing_empty.json"))
    with pytest.raises(error) as caught:
        await fetch(RedditSubredditSentimentFetcher(CREDENTIALS), {}, http)
    assert says in str(caught.value)
    assert listing.call_count == 0
    assert_no_secret(caught.value)


@pytest.mark.parametrize(
    ("name", "status", "headers", "error", "says"),
    [
        ("error_401.json", 401, {}, Unauthorized, "HTTP 401"),
        ("error_403_private.json", 403, {}, Unauthorized, "private"),
        ("error_429.json", 429, {"Retry-After": "7"}, RateLimited, "7"),
        ("error_503.html", 503, {}, ProviderUnavailable, "HTTP 503"),
        ("error_503.html", 200, {}, MalformedResponse, "not JSON"),
        ("not_a_listing.json", 200, {}, MalformedResponse, "expected a Listing"),
    ],
)
async def test_listing_errors_are_typed_and_never_show_secrets(
    http: ProviderHttp,
    respx_mock: respx.MockRouter,
    token: respx.Route,
    name: str,
    status: int,
    headers: dict[str, str],
    error: type[ProviderError],
    says: str,
) -> None:
    listing = respx_mock.get(NEW).mock(return_value=reply(name, status, headers))
    with pytest.raises(error) as caught:
        await fetch(
            RedditSubredditSentimentFetcher(CREDENTIALS), {"subreddits": ["wallstreetbets"]}, http
        )
    assert says in str(caught.value)
    assert listing.call_count == 1  # a fresh token refused is not retried
    assert_no_secret(caught.value)


async def test_spent_rate_limit_window_raises_before_the_next_request(
    http: ProviderHttp, respx_mock: respx.MockRouter, token: respx.Route
) -> None:
    quota = {"X-Ratelimit-Used": "100", "X-Ratelimit-Remaining": "0.0", "X-Ratelimit-Reset": "42"}
    route = respx_mock.get(NEW).mock(
        return_value=reply("new_wallstreetbets_page1.json", headers=quota)
    )
    with pytest.raises(RateLimited) as caught:
        await fetch(
            RedditSubredditSentimentFetcher(CREDENTIALS), {"subreddits": ["wallstreetbets"]}, http
        )
    assert route.call_count == 1
    assert caught.value.retry_after is not None and 40 < caught.value.retry_after <= 42


@pytest.mark.parametrize(
    ("credentials", "variable"),
    [
        ({}, CLIENT_ID),
        ({CLIENT_ID: ID}, CLIENT_SECRET),
        ({CLIENT_ID: SecretStr(""), CLIENT_SECRET: SECRET}, CLIENT_ID),
    ],
)
async def test_missing_credentials_raise_before_any_request(
    http: ProviderHttp,
    respx_mock: respx.MockRouter,
    token: respx.Route,
    credentials: dict[str, Any],
    variable: str,
) -> None:
    listing = respx_mock.get(NEW).mock(return_value=reply("listing_empty.json"))
    fetcher = RedditSubredditSentimentFetcher(credentials)
    with pytest.raises(MissingCredentials) as caught:
        await fetcher.aextract_data(fetcher.transform_query({}), http)
    assert caught.value.variable == variable
    assert token.call_count == 0 and listing.call_count == 0
    assert_no_secret(caught.value)


async def test_default_user_agent_is_descriptive(
    http: ProviderHttp, respx_mock: respx.MockRouter, token: respx.Route
) -> None:
    route = respx_mock.get(NEW).mock(return_value=reply("listing_empty.json"))
    fetcher = RedditSubredditSentimentFetcher({CLIENT_ID: ID, CLIENT_SECRET: SECRET})
    await fetch(fetcher, {"subreddits": ["wallstreetbets"]}, http)
    assert route.calls.last.request.headers["User-Agent"] == DEFAULT_USER_AGENT
    assert "python-httpx" not in DEFAULT_USER_AGENT


# -- queries --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"subreddits": []}, "subreddits"),
        ({"subreddits": ["r/stocks"]}, "subreddits"),
        ({"bucket": "5m"}, "bucket"),
        ({"max_pages": 11}, "max_pages"),
        ({"mentions_reference": 0}, "mentions_reference"),
        ({"start": "2024-10-01T00:00:00"}, "start"),
    ],
)
def test_bad_queries_name_the_field(params: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        RedditSubredditSentimentFetcher().transform_query(params)


def test_ticker_query_needs_tickers() -> None:
    with pytest.raises(ValueError, match="tickers"):
        RedditTickerSentimentFetcher().transform_query({})
    with pytest.raises(ValueError, match="tickers"):
        RedditTickerSentimentFetcher().transform_query({"tickers": ["no spaces"]})
