"""The ``reddit`` provider: post sentiment and mention counts from Reddit as :class:`AltSignal`.

Two datasets, both scoring posts (title + selftext) with VADER (:mod:`sextant_ingest.sentiment`)
and aggregating them per subject and time bucket (UTC hour or day, ``ts_event`` = bucket start):

* ``subreddit_sentiment`` — ``GET /r/{subreddit}/new``: every new post of each subreddit;
  the subject is ``r/{subreddit}``.
* ``ticker_sentiment`` — ``GET /r/{subreddit}/search?q=$TSLA&restrict_sr=1&sort=new``: posts
  mentioning each ticker in each subreddit; the subject is the ticker. Reddit's search is fuzzy,
  so a post is kept only if its title or text names the ticker: ``$tsla`` in any case, or
  ``TSLA`` as a capitalized word for tickers of 3+ characters (``F``, ``GE`` or ``AI`` need the
  cashtag; all-caps words that are also tickers, like ``NOW`` or ``ALL``, still match).

Each (subject, bucket) gives two signals:

* ``reddit.sentiment``: ``raw_value`` = mean VADER compound (-1..1) of the bucket's posts,
  ``value`` = ``(raw_value + 1) / 2``, ``samples`` = posts scored.
* ``reddit.mentions``: ``raw_value`` = number of posts, ``value`` = ``min(1, posts /
  mentions_reference)`` (query field, default 100 posts per bucket), ``samples`` = posts.

``ts_known`` is the fetch time; the current bucket is partial when ``ts_event + bucket >
ts_known``. When paging stops at ``max_pages`` before reaching ``start``, the oldest bucket of
that subject is incomplete and is dropped, so a count is never silently low.

Auth is OAuth2 application-only (https://github.com/reddit-archive/reddit/wiki/OAuth2):
``POST https://www.reddit.com/api/v1/access_token`` with HTTP basic auth
``SEXTANT_REDDIT_CLIENT_ID:SEXTANT_REDDIT_CLIENT_SECRET`` and ``grant_type=client_credentials``
gives a bearer token (valid ~24 h, cached on the fetcher and renewed once on a 401); listings are
then read from ``https://oauth.reddit.com`` with ``Authorization: bearer <token>``. Reddit asks for
a descriptive User-Agent (``<platform>:<app id>:<version> (by /u/<username>)``), taken from
``SEXTANT_REDDIT_USER_AGENT`` when given. ProviderHttp only has GET, so the token POST goes
through its httpx client directly (the network edge still, inside ``aextract_data``).

Free OAuth clients may send ~100 requests per minute. Listing responses carry
``X-Ratelimit-Remaining`` / ``X-Ratelimit-Reset`` (seconds to the window's end); once the window
is spent the fetcher raises :class:`RateLimited` with that delay instead of sending a request
Reddit would refuse. Listings page with ``after`` (100 posts a page) and end after ~1000 posts.
"""

from __future__ import annotations

import abc
import re
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Annotated, Any, Literal, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from sextant_common.events import INSTRUMENT_ID_PATTERN, AltSignal
from sextant_common.timeparse import UtcBound, UtcEndBound
from sextant_ingest import sentiment
from sextant_ingest.providers._common import ModelFetcher, require_secret, secret_value
from sextant_ingest.providers.errors import (
    MalformedResponse,
    ProviderUnavailable,
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
from sextant_ingest.providers.http import ProviderHttp, parse_retry_after, utc_now

CLIENT_ID = "SEXTANT_REDDIT_CLIENT_ID"
CLIENT_SECRET = "SEXTANT_REDDIT_CLIENT_SECRET"  # noqa: S105 the variable's name, not a secret
USER_AGENT = "SEXTANT_REDDIT_USER_AGENT"
"""Optional: overrides :data:`DEFAULT_USER_AGENT` (put your Reddit username in it)."""
DEFAULT_USER_AGENT = "python:sextant-research-terminal:0.1 (financial research; alt-data ingest)"
TOKEN_URL = "https://www.reddit.com/api/v1/access_token"  # noqa: S105 a URL, not a secret

PROVIDER = ProviderInfo(
    name="reddit",
    base_url="https://oauth.reddit.com",
    kinds=frozenset({DataKind.SENTIMENT}),
    rate_limit=RateLimit(requests=100, per_seconds=60.0),
    credentials=(CLIENT_ID, CLIENT_SECRET),
    docs_url="https://www.reddit.com/dev/api/",
    user_agent=DEFAULT_USER_AGENT,
)

PAGE_SIZE = 100
SENTIMENT_SIGNAL = "reddit.sentiment"
MENTIONS_SIGNAL = "reddit.mentions"
SENTIMENT_METHOD = "VADER compound mean over title+selftext"
_BUCKETS = {"1h": timedelta(hours=1), "1d": timedelta(days=1)}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_REMOVED_TEXT = frozenset({"[removed]", "[deleted]"})
_TOKEN_MARGIN_S = 60.0
"""Renew a token this long before Reddit says it expires."""
_NO_CREDENTIALS: Mapping[str, SecretStr | str] = MappingProxyType({})

Subreddit = Annotated[str, Field(pattern=r"^[A-Za-z0-9_]{2,21}$")]
Ticker = Annotated[str, Field(pattern=INSTRUMENT_ID_PATTERN)]


class _RedditQuery(BaseModel):
    """Fields both datasets share."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    subreddits: tuple[Subreddit, ...] = Field(
        ("wallstreetbets", "stocks", "investing"), min_length=1
    )
    start: UtcBound | None = Field(None, description="oldest post time (inclusive)")
    end: UtcEndBound | None = Field(None, description="newest post time (exclusive)")
    bucket: Literal["1h", "1d"] = "1d"
    max_pages: int = Field(5, ge=1, le=10, description="pages of 100 posts per listing")
    mentions_reference: float = Field(
        100.0, gt=0, description="posts per bucket that map to reddit.mentions = 1"
    )


class SubredditQuery(_RedditQuery):
    """New posts of each subreddit; subject ``r/{subreddit}``."""


class TickerQuery(_RedditQuery):
    """Posts mentioning each ticker in each subreddit; subject = the ticker."""

    tickers: tuple[Ticker, ...] = Field(min_length=1)


@dataclass(frozen=True)
class RedditListing:
    """The pages of one listing (one subreddit, or one ticker in one subreddit)."""

    subject: str
    subreddit: str
    pages: list[dict[str, Any]]
    truncated: bool
    """Paging stopped at ``max_pages`` with older posts left: the oldest bucket is partial."""


@dataclass(frozen=True)
class RedditPages:
    """The raw answer of one fetch: every listing, and when the fetch finished."""

    fetched_at: datetime
    listings: list[RedditListing]


@dataclass
class _Token:
    value: str
    expires_at: float
    """``time.monotonic()`` after which it is renewed."""


@dataclass(frozen=True)
class _Search:
    subject: str
    subreddit: str
    path: str
    params: dict[str, str]


QueryT = TypeVar("QueryT", bound=_RedditQuery)


class _RedditFetcher(ModelFetcher[QueryT, AltSignal]):
    """Auth, paging, rate-limit headers and aggregation shared by both datasets."""

    provider = PROVIDER
    kind = DataKind.SENTIMENT

    def __init__(self, credentials: Mapping[str, SecretStr | str] = _NO_CREDENTIALS) -> None:
        self._credentials = dict(credentials)
        self._token: _Token | None = None
        self._exhausted_until: float | None = None
        """``time.monotonic()`` until which Reddit's rate-limit window is spent."""

    @abc.abstractmethod
    def searches(self, query: QueryT) -> list[_Search]:
        """The listings to page through for ``query``."""

    def keeps(self, subject: str, text: str) -> bool:
        """Whether a post of a listing belongs to its subject (all do, unless overridden)."""
        return True

    async def aextract_data(self, query: QueryT, http: ProviderHttp) -> RedditPages:
        """Every listing's pages: until ``start`` is passed, the listing ends or ``max_pages``."""
        auth = (
            require_secret(self._credentials, CLIENT_ID, PROVIDER.name),
            require_secret(self._credentials, CLIENT_SECRET, PROVIDER.name),
        )
        user_agent = secret_value(self._credentials, USER_AGENT) or DEFAULT_USER_AGENT
        listings = []
        for search in self.searches(query):
            pages: list[dict[str, Any]] = []
            after: str | None = None
            truncated = False
            for page in range(query.max_pages):
                params = {**search.params, "limit": str(PAGE_SIZE), "raw_json": "1"}
                if after:
                    params["after"] = after
                body = await self._get_listing(http, search.path, params, auth, user_agent)
                pages.append(body)
                after = body["data"].get("after")
                if not after or _reached(body, query.start):
                    break
                truncated = page == query.max_pages - 1
            listings.append(RedditListing(search.subject, search.subreddit, pages, truncated))
        return RedditPages(utc_now(), listings)

    def transform_data(self, query: QueryT, raw: RedditPages) -> Transformed[AltSignal]:
        """Two signals per (subject, bucket); non-posts and invalid posts become Rejects."""
        step = _BUCKETS[query.bucket]
        rejects: list[Reject] = []
        scores: dict[tuple[str, datetime], list[float]] = defaultdict(list)
        seen: set[tuple[str, str]] = set()
        cutoff: dict[str, datetime] = {}
        for listing in raw.listings:
            posts = []
            for child in _children(listing):
                try:
                    posts.append(_post(child))
                except _BadPost as exc:
                    rejects.append(Reject(str(exc), child))
            if listing.truncated and posts:
                oldest = _floor(min(created for _, created, _ in posts), step) + step
                cutoff[listing.subject] = max(oldest, cutoff.get(listing.subject, oldest))
            for post_id, created, text in posts:
                if (query.start and created < query.start) or (query.end and created >= query.end):
                    continue
                if (listing.subject, post_id) in seen or not self.keeps(listing.subject, text):
                    continue
                seen.add((listing.subject, post_id))
                scores[(listing.subject, _floor(created, step))].append(sentiment.compound(text))
        records: list[AltSignal] = []
        for (subject, bucket_start), compounds in sorted(scores.items()):
            if subject in cutoff and bucket_start < cutoff[subject]:
                continue
            records.extend(_signals(query, subject, bucket_start, compounds, raw.fetched_at))
        return Transformed(records, rejects)

    # -- the network edge ---------------------------------------------------------------------

    async def _get_listing(
        self,
        http: ProviderHttp,
        path: str,
        params: Mapping[str, str],
        auth: tuple[str, str],
        user_agent: str,
    ) -> dict[str, Any]:
        if self._exhausted_until is not None:
            wait = self._exhausted_until - time.monotonic()
            if wait > 0:
                raise RateLimited(PROVIDER.name, round(wait, 1))
            self._exhausted_until = None
        renewed = self._token is None or self._token.expires_at <= time.monotonic()
        token = await self._access_token(http, auth, user_agent)
        try:
            response = await http.get(path, params=params, headers=_headers(token, user_agent))
        except Unauthorized:
            if renewed:
                raise
            # The cached token was revoked or expired early: renew it once.
            self._token = None
            token = await self._access_token(http, auth, user_agent)
            response = await http.get(path, params=params, headers=_headers(token, user_agent))
        self._note_quota(response.headers)
        try:
            body = response.json()
        except ValueError:
            raise MalformedResponse(
                PROVIDER.name, f"listing is not JSON ({response.text[:80]!r})"
            ) from None
        if (
            not isinstance(body, dict)
            or body.get("kind") != "Listing"
            or not isinstance(body.get("data"), dict)
            or not isinstance(body["data"].get("children"), list)
        ):
            raise MalformedResponse(PROVIDER.name, f"expected a Listing from {path}")
        return body

    async def _access_token(
        self, http: ProviderHttp, auth: tuple[str, str], user_agent: str
    ) -> str:
        if self._token is not None and self._token.expires_at > time.monotonic():
            return self._token.value
        self._token = await _request_token(http, auth, user_agent)
        return self._token.value

    def _note_quota(self, headers: httpx.Headers) -> None:
        try:
            remaining = float(headers["x-ratelimit-remaining"])
            reset = float(headers["x-ratelimit-reset"])
        except (KeyError, ValueError):
            return
        if remaining < 1:
            self._exhausted_until = time.monotonic() + reset


class RedditSubredditSentimentFetcher(_RedditFetcher[SubredditQuery]):
    """Sentiment and post counts of subreddits (``/r/{subreddit}/new``)."""

    dataset = "subreddit_sentiment"
    query_model = SubredditQuery

    def searches(self, query: SubredditQuery) -> list[_Search]:
        """One ``new`` listing per subreddit."""
        return [_Search(f"r/{sub}", sub, f"r/{sub}/new", {}) for sub in query.subreddits]


class RedditTickerSentimentFetcher(_RedditFetcher[TickerQuery]):
    """Sentiment and mention counts of tickers (``/r/{subreddit}/search?q=$TICKER``)."""

    dataset = "ticker_sentiment"
    query_model = TickerQuery

    def searches(self, query: TickerQuery) -> list[_Search]:
        """One newest-first search per ticker and subreddit."""
        return [
            _Search(
                ticker,
                sub,
                f"r/{sub}/search",
                {"q": f"${ticker}", "restrict_sr": "1", "sort": "new", "type": "link"},
            )
            for ticker in query.tickers
            for sub in query.subreddits
        ]

    def keeps(self, subject: str, text: str) -> bool:
        """Whether ``text`` names ``subject``: a cashtag in any case, or the capitalized ticker
        as a word when it has 3+ characters (shorter ones collide with words and initials)."""
        return _mention_pattern(subject).search(text) is not None


FETCHERS: tuple[type[Fetcher[Any, Any]], ...] = (
    RedditSubredditSentimentFetcher,
    RedditTickerSentimentFetcher,
)


# -- helpers --------------------------------------------------------------------------------


class _BadPost(ValueError):
    """A listing child that cannot be scored; the message is the Reject's reason."""


def _headers(token: str, user_agent: str) -> dict[str, str]:
    return {"Authorization": f"bearer {token}", "User-Agent": user_agent}


async def _request_token(http: ProviderHttp, auth: tuple[str, str], user_agent: str) -> _Token:
    """POST the client-credentials grant. Errors never include the id, secret or token."""
    # ProviderHttp has no POST yet: use its client (same transport, cookies and test mocks).
    client: httpx.AsyncClient = http._client
    try:
        response = await client.post(
            TOKEN_URL,
            data={"grant_type": "client_credentials"},
            auth=auth,
            headers={"User-Agent": user_agent},
        )
    except httpx.TimeoutException as exc:
        raise ProviderUnavailable(PROVIDER.name, f"token timeout: {type(exc).__name__}") from None
    except httpx.TransportError as exc:
        raise ProviderUnavailable(PROVIDER.name, f"token connection error: {exc}") from None
    status = response.status_code
    if status in (401, 403):
        raise Unauthorized(
            PROVIDER.name,
            f"token request refused (HTTP {status}): check {CLIENT_ID} and {CLIENT_SECRET} "
            "(a 'script' or 'web' app's id and secret)",
        )
    if status == 429:
        raise RateLimited(PROVIDER.name, parse_retry_after(response.headers.get("Retry-After")))
    if status >= 500:
        raise ProviderUnavailable(PROVIDER.name, f"token request failed: HTTP {status}")
    if status >= 400:
        raise MalformedResponse(PROVIDER.name, f"token request failed: HTTP {status}")
    try:
        body = response.json()
    except ValueError:
        raise MalformedResponse(PROVIDER.name, "token response is not JSON") from None
    token = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        error = body.get("error") if isinstance(body, dict) else None
        # Reddit answers some refusals (e.g. a bad grant) with 200 and {"error": ...}.
        raise Unauthorized(PROVIDER.name, f"no access token in the token response ({error})")
    try:
        lifetime = float(body.get("expires_in", 3600))
    except (TypeError, ValueError):
        lifetime = 3600.0
    return _Token(token, time.monotonic() + max(0.0, lifetime - _TOKEN_MARGIN_S))


def _reached(body: dict[str, Any], start: datetime | None) -> bool:
    """Whether a newest-first page reaches back past ``start`` (older pages are not needed)."""
    if start is None:
        return False
    times = [
        child["data"]["created_utc"]
        for child in body["data"]["children"]
        if isinstance(child, dict)
        and isinstance(child.get("data"), dict)
        and isinstance(child["data"].get("created_utc"), int | float)
    ]
    return bool(times) and min(times) < start.timestamp()


def _children(listing: RedditListing) -> list[Any]:
    return [child for page in listing.pages for child in page["data"]["children"]]


def _post(child: Any) -> tuple[str, datetime, str]:
    """(id, created, text to score) of a post; raise _BadPost naming what is wrong."""
    if not isinstance(child, dict) or not isinstance(child.get("data"), dict):
        raise _BadPost("listing child is not an object with data")
    if child.get("kind") != "t3":
        raise _BadPost(f"not a post (kind {child.get('kind')!r})")
    data = child["data"]
    post_id = data.get("id")
    if not isinstance(post_id, str) or not post_id:
        raise _BadPost("post has no id")
    created = data.get("created_utc")
    if isinstance(created, bool) or not isinstance(created, int | float):
        raise _BadPost(f"post {post_id} has no numeric created_utc ({created!r})")
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        raise _BadPost(f"post {post_id} has no title")
    body = data.get("selftext")
    body = body if isinstance(body, str) and body.strip() not in _REMOVED_TEXT else ""
    return post_id, _EPOCH + timedelta(seconds=created), sentiment.join_text(title, body)


def _floor(moment: datetime, step: timedelta) -> datetime:
    return _EPOCH + ((moment - _EPOCH) // step) * step


def _mention_pattern(ticker: str) -> re.Pattern[str]:
    escaped = re.escape(ticker)
    bare = f"|{escaped}" if len(ticker) >= 3 else ""
    return re.compile(rf"(?<![\w$])(?:\$(?i:{escaped}){bare})(?![\w])")


def _signals(
    query: _RedditQuery,
    subject: str,
    bucket_start: datetime,
    compounds: list[float],
    fetched_at: datetime,
) -> list[AltSignal]:
    n = len(compounds)
    mean = sum(compounds) / n
    return [
        AltSignal(
            signal=SENTIMENT_SIGNAL,
            subject=subject,
            ts_event=bucket_start,
            value=sentiment.to_unit(mean),
            raw_value=mean,
            samples=n,
            method=f"{SENTIMENT_METHOD}, (c+1)/2, {query.bucket} buckets",
            source=PROVIDER.name,
            ts_known=fetched_at,
        ),
        AltSignal(
            signal=MENTIONS_SIGNAL,
            subject=subject,
            ts_event=bucket_start,
            value=min(1.0, n / query.mentions_reference),
            raw_value=float(n),
            samples=n,
            method=f"posts per {query.bucket} bucket / {query.mentions_reference:g}, capped at 1",
            source=PROVIDER.name,
            ts_known=fetched_at,
        ),
    ]
