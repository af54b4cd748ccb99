"""The ``newsapi`` provider: news articles from NewsAPI.org as :class:`NewsItem` events.

Two datasets (https://newsapi.org/docs/endpoints):

* ``everything`` — ``GET /v2/everything``: articles matching ``q`` (or the asked tickers, joined
  with ``OR``) in a time range, newest first.
* ``top_headlines`` — ``GET /v2/top-headlines``: current headlines of a category and country
  (``business`` / ``us`` by default).

The key (``SEXTANT_NEWSAPI_API_KEY``) travels in the ``X-Api-Key`` header, never in the URL.
Both endpoints page with ``page`` / ``pageSize`` (at most 100). The free Developer plan serves at
most 100 results per query (asking past them answers HTTP 426 ``maximumResultsReached``), articles
up to a month old, and 100 requests a day; ``max_results`` (default 100) stops paging before
the cap, and a ``maximumResultsReached`` answer after the first page ends paging quietly.

Normalization: ``item_id`` is the first 32 hex digits of sha256(url); ``instruments`` are the
tickers given in the query (articles are not tagged with symbols here: NewsAPI does not say
which instruments an article is about); ``sentiment`` is the VADER compound of title and
description mapped to 0..1 (see :mod:`sextant_ingest.sentiment`); ``ts_known`` is the fetch time.
Articles NewsAPI has withdrawn (title ``"[Removed]"``), without URL, or invalid become Rejects.
"""

from __future__ import annotations

import abc
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from sextant_common.events import INSTRUMENT_ID_PATTERN, NewsItem
from sextant_common.timeparse import UtcBound, UtcEndBound
from sextant_ingest import sentiment
from sextant_ingest.providers._common import ModelFetcher, require_secret, validation_reason
from sextant_ingest.providers.errors import (
    MalformedResponse,
    RateLimited,
    Unauthorized,
)
from sextant_ingest.providers.fetcher import (
    DataKind,
    Fetcher,
    ProviderInfo,
    RateLimit,
    Reject,
    Transformed,
)
from sextant_ingest.providers.http import ProviderHttp, utc_now

API_KEY = "SEXTANT_NEWSAPI_API_KEY"

PROVIDER = ProviderInfo(
    name="newsapi",
    base_url="https://newsapi.org/v2",
    kinds=frozenset({DataKind.NEWS}),
    rate_limit=RateLimit(requests=100, per_seconds=86_400.0),  # Developer plan: 100 a day
    credentials=(API_KEY,),
    docs_url="https://newsapi.org/docs",
)

MAX_PAGE_SIZE = 100
FREE_TIER_MAX_RESULTS = 100
"""Results one query can page through on the Developer plan."""
REMOVED = "[Removed]"
"""Title (and source name) NewsAPI gives articles withdrawn by their publisher."""

_NO_CREDENTIALS: Mapping[str, SecretStr | str] = MappingProxyType({})
_UNAUTHORIZED_CODES = frozenset(
    {"apiKeyDisabled", "apiKeyExhausted", "apiKeyInvalid", "apiKeyMissing"}
)
Ticker = Annotated[str, Field(pattern=INSTRUMENT_ID_PATTERN)]


class _NewsApiQuery(BaseModel):
    """Fields both endpoints share."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    q: str | None = Field(None, min_length=1, max_length=500, description="NewsAPI query syntax")
    tickers: tuple[Ticker, ...] = Field((), description="instruments the articles are attached to")
    page_size: int = Field(MAX_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    max_results: int = Field(
        FREE_TIER_MAX_RESULTS, ge=1, description="stop paging after this many articles"
    )


class EverythingQuery(_NewsApiQuery):
    """``/v2/everything``: ``q`` or ``tickers`` (then ``q`` = the tickers joined with OR)."""

    start: UtcBound | None = Field(None, description="oldest publish time (NewsAPI 'from')")
    end: UtcEndBound | None = Field(None, description="newest publish time (NewsAPI 'to')")
    language: str = Field("en", pattern=r"^[a-z]{2}$")
    sort_by: Literal["publishedAt", "relevancy", "popularity"] = "publishedAt"

    @model_validator(mode="after")
    def _fill_q(self) -> EverythingQuery:
        if self.q is None:
            if not self.tickers:
                raise ValueError("q or tickers is required for newsapi everything")
            object.__setattr__(self, "q", " OR ".join(self.tickers))
        if self.start and self.end and self.start > self.end:
            raise ValueError(f"start {self.start} is after end {self.end}")
        return self


class TopHeadlinesQuery(_NewsApiQuery):
    """``/v2/top-headlines`` of one category and country, optionally filtered by ``q``."""

    category: Literal[
        "business", "entertainment", "general", "health", "science", "sports", "technology"
    ] = "business"
    country: str = Field("us", pattern=r"^[a-z]{2}$")

    @model_validator(mode="after")
    def _fill_q(self) -> TopHeadlinesQuery:
        if self.q is None and self.tickers:
            object.__setattr__(self, "q", " OR ".join(self.tickers))
        return self


@dataclass(frozen=True)
class NewsApiPages:
    """The raw answer of one fetch: every page's JSON body and when they were fetched."""

    fetched_at: datetime
    pages: list[dict[str, Any]]


QueryT = TypeVar("QueryT", bound=_NewsApiQuery)


class _NewsApiFetcher(ModelFetcher[QueryT, NewsItem]):
    """Paging, errors and normalization shared by both endpoints."""

    provider = PROVIDER
    kind = DataKind.NEWS
    path: ClassVar[str]

    def __init__(self, credentials: Mapping[str, SecretStr | str] = _NO_CREDENTIALS) -> None:
        self._credentials = dict(credentials)

    @abc.abstractmethod
    def request_params(self, query: QueryT) -> dict[str, str]:
        """Endpoint parameters other than paging."""

    async def aextract_data(self, query: QueryT, http: ProviderHttp) -> NewsApiPages:
        """Every page of the query, until ``totalResults``, ``max_results`` or the plan's cap."""
        headers = {"X-Api-Key": require_secret(self._credentials, API_KEY, PROVIDER.name)}
        pages: list[dict[str, Any]] = []
        params = self.request_params(query)
        limit = query.max_results
        page = 1
        while True:
            body = await _get_page(
                http,
                self.path,
                {**params, "pageSize": str(query.page_size), "page": str(page)},
                headers,
                first=page == 1,
            )
            if body is None:  # the plan's result cap: keep what we have
                break
            pages.append(body)
            served = page * query.page_size
            if len(body["articles"]) < query.page_size or served >= min(
                body["totalResults"], limit
            ):
                break
            page += 1
        return NewsApiPages(utc_now(), pages)  # known once every page is in

    def transform_data(self, query: QueryT, raw: NewsApiPages) -> Transformed[NewsItem]:
        """NewsItems of every article; withdrawn, URL-less, invalid or repeated ones are Rejects."""
        records: list[NewsItem] = []
        rejects: list[Reject] = []
        seen: set[str] = set()
        for body in raw.pages:
            for article in body.get("articles", []):
                try:
                    item = _news_item(article, query.tickers, raw.fetched_at)
                except _BadArticle as exc:
                    rejects.append(Reject(str(exc), article))
                    continue
                if item.item_id in seen:
                    rejects.append(Reject(f"duplicate url {item.url}", article))
                    continue
                seen.add(item.item_id)
                records.append(item)
        return Transformed(records, rejects)


class NewsApiEverythingFetcher(_NewsApiFetcher[EverythingQuery]):
    """Articles matching a query in a time range (``/v2/everything``)."""

    dataset = "everything"
    path = "everything"
    query_model = EverythingQuery

    def request_params(self, query: EverythingQuery) -> dict[str, str]:
        """``q``, ``from``/``to`` (ISO 8601, UTC), ``language`` and ``sortBy``."""
        params = {"q": query.q or "", "language": query.language, "sortBy": query.sort_by}
        if query.start is not None:
            params["from"] = _iso(query.start)
        if query.end is not None:
            params["to"] = _iso(query.end)
        return params


class NewsApiTopHeadlinesFetcher(_NewsApiFetcher[TopHeadlinesQuery]):
    """Current top headlines of a category and country (``/v2/top-headlines``)."""

    dataset = "top_headlines"
    path = "top-headlines"
    query_model = TopHeadlinesQuery

    def request_params(self, query: TopHeadlinesQuery) -> dict[str, str]:
        """``category``, ``country`` and ``q`` when given."""
        params = {"category": query.category, "country": query.country}
        if query.q:
            params["q"] = query.q
        return params


FETCHERS: tuple[type[Fetcher[Any, Any]], ...] = (
    NewsApiEverythingFetcher,
    NewsApiTopHeadlinesFetcher,
)


# -- helpers --------------------------------------------------------------------------------


class _BadArticle(ValueError):
    """An article that cannot become a NewsItem; the message is the Reject's reason."""


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


async def _get_page(
    http: ProviderHttp,
    path: str,
    params: Mapping[str, str],
    headers: Mapping[str, str],
    *,
    first: bool,
) -> dict[str, Any] | None:
    """One page's body, checked; None when a later page hits the plan's result cap."""
    try:
        body = await http.get_json(path, params=params, headers=headers)
    except MalformedResponse as exc:
        # ProviderHttp raises MalformedResponse for other 4xx (NewsAPI answers the cap with 426)
        # and keeps the body in the message; the error code is the only way to tell.
        if not first and "maximumResultsReached" in str(exc):
            return None
        raise
    if not isinstance(body, dict):
        raise MalformedResponse(PROVIDER.name, f"expected a JSON object, got {type(body).__name__}")
    if body.get("status") == "error":  # documented with 4xx/5xx, but be safe on a 200
        code = str(body.get("code", ""))
        if code == "maximumResultsReached" and not first:
            return None
        message = f"{code}: {body.get('message', '')}"
        if code in _UNAUTHORIZED_CODES:
            raise Unauthorized(PROVIDER.name, message)
        if code == "rateLimited":
            raise RateLimited(PROVIDER.name, None)
        raise MalformedResponse(PROVIDER.name, message)
    articles = body.get("articles")
    total = body.get("totalResults")
    if body.get("status") != "ok" or not isinstance(articles, list) or not isinstance(total, int):
        raise MalformedResponse(
            PROVIDER.name, f"expected status ok, totalResults and articles; got keys {sorted(body)}"
        )
    return body


def _news_item(article: Any, tickers: tuple[str, ...], fetched_at: datetime) -> NewsItem:
    if not isinstance(article, dict):
        raise _BadArticle(f"article is not an object: {type(article).__name__}")
    title = article.get("title")
    if title == REMOVED:
        raise _BadArticle("article removed by its publisher ([Removed])")
    url = article.get("url")
    if not isinstance(url, str) or not url.strip():
        raise _BadArticle("article has no url")
    if not isinstance(title, str) or not title.strip():
        raise _BadArticle(f"article has no title: {url}")
    published = article.get("publishedAt")
    try:
        ts_published = datetime.fromisoformat(str(published))
    except ValueError:
        raise _BadArticle(f"bad publishedAt {published!r}: {url}") from None
    description = article.get("description") or ""
    source = article.get("source") or {}
    publisher = source.get("name") if isinstance(source, dict) else None
    try:
        return NewsItem(
            item_id=hashlib.sha256(url.encode()).hexdigest()[:32],
            ts_published=ts_published,
            title=title.strip(),
            summary=str(description).strip(),
            url=url,
            publisher=str(publisher or ""),
            instruments=tickers,
            sentiment=sentiment.score(sentiment.join_text(title, str(description))),
            source=PROVIDER.name,
            ts_known=fetched_at,
        )
    except ValidationError as exc:
        problems = validation_reason(exc, default="")
        raise _BadArticle(f"invalid article ({problems}): {url}") from None
