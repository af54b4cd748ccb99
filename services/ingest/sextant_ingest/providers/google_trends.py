"""The ``google_trends`` provider: search interest over time from Google Trends as AltSignal.

**Unofficial.** Google publishes no Trends API. This module speaks the private JSON endpoints
the trends.google.com web page uses (the ones ``pytrends`` uses), so it may break without
notice when Google changes them, and Google rate-limits them hard: bursts answer HTTP 429
(usually without Retry-After) and may keep doing so for minutes, so the declared rate limit is
low. No key is needed.

One dataset, ``interest_over_time``, three GETs per fetch:

1. ``GET /trends/?geo=..`` sets the ``NID`` cookie in the client's jar (requests without it are
   refused far more often).
2. ``GET /trends/api/explore?hl=..&tz=0&req={comparisonItem: [...], category, property}``
   answers the page's widgets; the ``TIMESERIES`` widget carries the ``request`` and ``token``
   for step 3.
3. ``GET /trends/api/widgetdata/multiline?hl=..&tz=0&req=<widget request>&token=<token>``
   answers ``{"default": {"timelineData": [{"time": "<epoch s>", "value": [57], "hasData":
   [true], "isPartial": true?, ...}]}}``.

Both JSON answers start with an anti-XSSI prefix (``)]}'`` then ``,`` for widget data) that is
stripped before parsing. ``tz=0`` makes the periods UTC; ``time`` is the period's start.

Normalization: one ``google_trends.interest`` AltSignal per keyword and period, ``raw_value`` =
Google's interest (0..100) and ``value`` = interest / 100. Google scales the numbers so that 100
is the highest point of *all keywords of the query* over the *timeframe and geo* asked, so
values are only comparable within one query (``method`` records which); ask one keyword per
query for a series scaled to its own peak. Periods without data (``hasData`` false) are Rejects;
the last, still-incomplete period (``isPartial``) is left out unless ``include_partial``.
``ts_known`` is the fetch time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from sextant_common.events import AltSignal
from sextant_ingest.providers._common import ModelFetcher
from sextant_ingest.providers.errors import MalformedResponse
from sextant_ingest.providers.fetcher import (
    DataKind,
    Fetcher,
    ProviderInfo,
    RateLimit,
    Reject,
    Transformed,
)
from sextant_ingest.providers.http import ProviderHttp, utc_now

PROVIDER = ProviderInfo(
    name="google_trends",
    base_url="https://trends.google.com/trends",
    kinds=frozenset({DataKind.SENTIMENT}),
    # Unpublished; a few fetches (3 requests each) a minute keep clear of 429s in practice.
    rate_limit=RateLimit(requests=10, per_seconds=60.0),
    docs_url="https://support.google.com/trends/answer/4365533",
)

SIGNAL = "google_trends.interest"
MAX_KEYWORDS = 5
"""Google compares at most five terms at once."""
XSSI_PREFIX = ")]}'"
TIMEFRAME_PATTERN = (
    r"^(all|now [147]-H|now [17]-d|today (1|3|12)-m|today 5-y"
    r"|\d{4}-\d{2}-\d{2} \d{4}-\d{2}-\d{2}|\d{4}-\d{2}-\d{2}T\d{2} \d{4}-\d{2}-\d{2}T\d{2})$"
)
_NO_CREDENTIALS: Mapping[str, SecretStr | str] = MappingProxyType({})

Keyword = Annotated[str, Field(min_length=1, max_length=100)]


class InterestQuery(BaseModel):
    """Interest over time of up to five keywords, compared with each other."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    keywords: tuple[Keyword, ...] = Field(min_length=1, max_length=MAX_KEYWORDS)
    timeframe: str = Field(
        "today 3-m",
        pattern=TIMEFRAME_PATTERN,
        description="e.g. 'now 7-d' (hourly), 'today 3-m' (daily), 'today 5-y' (weekly), "
        "'2024-01-01 2024-03-31'",
    )
    geo: str = Field("", pattern=r"^([A-Z]{2}(-[A-Z0-9]{1,3})?)?$", description="'' = world")
    category: int = Field(0, ge=0, description="Trends category id, 0 = all")
    gprop: Literal["", "images", "news", "youtube", "froogle"] = Field(
        "", description="search property, '' = web search"
    )
    hl: str = Field("en-US", pattern=r"^[a-z]{2}(-[A-Z]{2})?$")
    include_partial: bool = False


@dataclass(frozen=True)
class TrendsTimeline:
    """The raw answer of one fetch: the multiline widget's body and when it was fetched."""

    fetched_at: datetime
    body: dict[str, Any]


class GoogleTrendsInterestFetcher(ModelFetcher[InterestQuery, AltSignal]):
    """Relative search interest (0..100) per keyword and period (``interest_over_time``)."""

    provider = PROVIDER
    kind = DataKind.SENTIMENT
    dataset = "interest_over_time"
    query_model = InterestQuery

    def __init__(self, credentials: Mapping[str, SecretStr | str] = _NO_CREDENTIALS) -> None:
        # Keyless; the argument keeps the constructor the same as every other fetcher's.
        del credentials

    async def aextract_data(self, query: InterestQuery, http: ProviderHttp) -> TrendsTimeline:
        """Cookie, explore (widget token), then the interest-over-time widget data."""
        await http.get("/", params={"geo": query.geo[:2] or "US"})
        explore = parse_xssi_json(
            (
                await http.get(
                    "api/explore",
                    params={"hl": query.hl, "tz": "0", "req": _dumps(_explore_request(query))},
                )
            ).text
        )
        widget = _timeseries_widget(explore)
        response = await http.get(
            "api/widgetdata/multiline",
            params={
                "hl": query.hl,
                "tz": "0",
                "req": _dumps(widget["request"]),
                "token": widget["token"],
            },
        )
        body = parse_xssi_json(response.text)
        if not isinstance(body.get("default"), dict) or not isinstance(
            body["default"].get("timelineData"), list
        ):
            raise MalformedResponse(PROVIDER.name, "widget data has no default.timelineData list")
        return TrendsTimeline(utc_now(), body)

    def transform_data(self, query: InterestQuery, raw: TrendsTimeline) -> Transformed[AltSignal]:
        """One signal per keyword and period; bad or data-less points become Rejects."""
        method = (
            f"Google Trends interest / 100 (100 = peak of {', '.join(query.keywords)} "
            f"in {query.geo or 'world'}, {query.timeframe})"
        )
        records: list[AltSignal] = []
        rejects: list[Reject] = []
        for point in raw.body["default"]["timelineData"]:
            try:
                ts_event, values, has_data, partial = _point(point, len(query.keywords))
            except _BadPoint as exc:
                rejects.append(Reject(str(exc), point))
                continue
            if partial and not query.include_partial:
                continue
            for keyword, value, has in zip(query.keywords, values, has_data, strict=True):
                if not has:
                    rejects.append(
                        Reject(f"no data for {keyword!r} at {ts_event.isoformat()}", point)
                    )
                    continue
                try:
                    records.append(
                        AltSignal(
                            signal=SIGNAL,
                            subject=keyword,
                            ts_event=ts_event,
                            value=value / 100.0,
                            raw_value=float(value),
                            method=method,
                            source=PROVIDER.name,
                            ts_known=raw.fetched_at,
                        )
                    )
                except ValidationError:
                    rejects.append(
                        Reject(f"interest {value} of {keyword!r} is outside 0..100", point)
                    )
        return Transformed(records, rejects)


FETCHERS: tuple[type[Fetcher[Any, Any]], ...] = (GoogleTrendsInterestFetcher,)


def parse_xssi_json(text: str) -> dict[str, Any]:
    """Decode a Google JSON body behind its anti-XSSI prefix (``)]}'`` and an optional ``,``)."""
    body = text.lstrip()
    if body.startswith(XSSI_PREFIX):
        body = body[len(XSSI_PREFIX) :].lstrip().removeprefix(",")
    try:
        decoded = json.loads(body)
    except ValueError:
        raise MalformedResponse(PROVIDER.name, f"body is not JSON ({text[:80]!r})") from None
    if not isinstance(decoded, dict):
        raise MalformedResponse(PROVIDER.name, f"expected a JSON object, got {text[:80]!r}")
    return decoded


class _BadPoint(ValueError):
    """A timeline point that cannot be read; the message is the Reject's reason."""


def _dumps(value: Any) -> str:
    # Compact, as the web page sends it (the token is bound to the request it was issued for).
    return json.dumps(value, separators=(",", ":"))


def _explore_request(query: InterestQuery) -> dict[str, Any]:
    return {
        "comparisonItem": [
            {"keyword": keyword, "geo": query.geo, "time": query.timeframe}
            for keyword in query.keywords
        ],
        "category": query.category,
        "property": query.gprop,
    }


def _timeseries_widget(explore: dict[str, Any]) -> dict[str, Any]:
    widgets = explore.get("widgets")
    if not isinstance(widgets, list):
        raise MalformedResponse(PROVIDER.name, "explore answer has no widgets list")
    for widget in widgets:
        if isinstance(widget, dict) and widget.get("id") == "TIMESERIES":
            if not isinstance(widget.get("token"), str) or "request" not in widget:
                raise MalformedResponse(PROVIDER.name, "TIMESERIES widget has no token/request")
            return widget
    raise MalformedResponse(PROVIDER.name, "explore answer has no TIMESERIES widget")


def _point(point: Any, n_keywords: int) -> tuple[datetime, list[int], list[bool], bool]:
    """(period start, values, hasData flags, isPartial) of one timeline point."""
    if not isinstance(point, dict):
        raise _BadPoint(f"timeline point is not an object: {type(point).__name__}")
    stamp = point.get("time")
    try:
        if isinstance(stamp, bool) or not isinstance(stamp, str | int):
            raise ValueError(stamp)
        ts_event = datetime.fromtimestamp(int(stamp), UTC)  # epoch seconds, as a string
    except (ValueError, OverflowError, OSError):
        raise _BadPoint(f"bad time {stamp!r}") from None
    values = point.get("value")
    if (
        not isinstance(values, list)
        or len(values) != n_keywords
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in values)
    ):
        raise _BadPoint(
            f"expected {n_keywords} integer values at {ts_event.isoformat()}, got {values!r}"
        )
    has_data = point.get("hasData", [True] * n_keywords)
    if not isinstance(has_data, list) or len(has_data) != n_keywords:
        raise _BadPoint(f"bad hasData {has_data!r} at {ts_event.isoformat()}")
    return ts_event, values, [bool(h) for h in has_data], bool(point.get("isPartial", False))
