"""Polygon.io (rebranded Massive in 2025; ``api.polygon.io`` still serves) aggregate bars.

Dataset ``aggregates``: ``GET /v2/aggs/ticker/{ticker}/range/{multiplier}/{timespan}/{from}/{to}
?adjusted=true&sort=asc&limit=50000``, one page of up to ``limit`` bars plus ``next_url`` when
more remain. The key travels in the documented ``Authorization: Bearer`` header rather than the
``apiKey`` query parameter, so it never appears in a URL (next_url, logs, exception texts) and
``next_url`` needs nothing appended.

Query params (:class:`PolygonAggregatesQuery`): ``instrument_id`` (a Sextant id), ``interval``
(any :class:`Interval`), ``start``/``end`` (aware datetimes, ``[start, end)``), optional
``asset_class`` (inferred from the id when absent), ``adjusted`` (split-adjusted, default true)
and ``limit`` (page size, at most 50000).

Tickers: equities/ETFs ``AAPL`` <-> ``AAPL``, indices ``SPX`` <-> ``I:SPX`` (asset_class index
only), FX ``EURUSD`` <-> ``C:EURUSD``, crypto ``BTC-USD`` <-> ``X:BTCUSD``, options in OCC
symbology ``SPY251219C00650000`` <-> ``O:SPY251219C00650000``.

Times: ``t`` is the window start in ms since the epoch (UTC). Intraday bars keep it. Daily bars
of US stocks start at midnight New York time (04:00/05:00 UTC); every daily bar is relabelled to
00:00 UTC of its date, the Sextant convention for daily bars (see ``shipped``).

Records: a bar is served when ``start <= ts_event < end`` and it has ended by the time the
response arrived (Polygon includes today's unfinished bar). ``ts_known`` is that arrival time,
``volume`` is shares (or contracts, or base-currency units; FX volume is a tick count).
A response with no bar at all raises :class:`NoData`; a bar that fails validation (a null price,
high below low) becomes a :class:`Reject` and the rest of the page is kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sextant_common.events import AssetClass, Bar, Interval
from sextant_common.timeparse import UtcBound, UtcEndBound
from sextant_ingest.providers._common import KeyedFetcher, bar_or_reject, collect
from sextant_ingest.providers.errors import MalformedResponse, NoData
from sextant_ingest.providers.fetcher import (
    DataKind,
    Fetcher,
    ProviderInfo,
    RateLimit,
    Reject,
    Transformed,
)
from sextant_ingest.providers.http import ProviderHttp

API_KEY_VARIABLE = "SEXTANT_POLYGON_API_KEY"

PROVIDER = ProviderInfo(
    name="polygon",
    base_url="https://api.polygon.io",
    kinds=frozenset({DataKind.BARS}),
    rate_limit=RateLimit(requests=5, per_seconds=60.0),  # the free ("Basic") plan
    asset_classes=frozenset(
        {
            AssetClass.EQUITY,
            AssetClass.ETF,
            AssetClass.INDEX,
            AssetClass.FX,
            AssetClass.CRYPTO,
            AssetClass.OPTION,
        }
    ),
    credentials=(API_KEY_VARIABLE,),
    docs_url="https://polygon.io/docs/rest/stocks/aggregates/custom-bars",
)

_TIMESPANS: dict[Interval, tuple[int, str]] = {
    Interval.S1: (1, "second"),
    Interval.S5: (5, "second"),
    Interval.M1: (1, "minute"),
    Interval.M5: (5, "minute"),
    Interval.H1: (1, "hour"),
    Interval.D1: (1, "day"),
}
_MAX_PAGES = 10_000
"""A guard against a server that keeps sending next_url (50k bars a page: 500M bars)."""
_OCC = re.compile(r"^[A-Z0-9]{1,6}\d{6}[CP]\d{8}$")
_FX = re.compile(r"^[A-Z]{6}$")
_CRYPTO = re.compile(r"^([A-Z0-9]{2,10})-([A-Z]{3,4})$")
# Quote currencies Polygon's crypto tickers end with, longest first (X:BTCUSDT before X:BTCUSD).
_CRYPTO_QUOTES = ("USDT", "USDC", "USD", "EUR", "GBP", "JPY", "BTC", "ETH")
_ISO_CODES = "USD EUR JPY GBP CHF AUD CAD NZD SEK NOK DKK HKD SGD CNH CNY MXN ZAR TRY PLN HUF CZK"
_ISO_CURRENCIES = frozenset(_ISO_CODES.split())
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class PolygonAggregatesQuery(BaseModel):
    """Bars of one instrument over ``[start, end)``."""

    model_config = ConfigDict(frozen=True)

    instrument_id: str = Field(min_length=1, max_length=64)
    interval: Interval
    start: UtcBound
    end: UtcEndBound
    asset_class: AssetClass | None = None
    adjusted: bool = True
    limit: int = Field(50_000, ge=1, le=50_000)

    @model_validator(mode="after")
    def _check(self) -> PolygonAggregatesQuery:
        if self.end <= self.start:
            raise ValueError(f"end ({self.end}) must be after start ({self.start})")
        if self.asset_class is None:
            object.__setattr__(self, "asset_class", infer_asset_class(self.instrument_id))
        to_polygon_ticker(self.instrument_id, self.resolved_asset_class)  # raises if unmappable
        return self

    @property
    def resolved_asset_class(self) -> AssetClass:
        """The asset class given or inferred from the id."""
        return self.asset_class or infer_asset_class(self.instrument_id)

    @property
    def ticker(self) -> str:
        """Polygon's ticker for the instrument."""
        return to_polygon_ticker(self.instrument_id, self.resolved_asset_class)


@dataclass(frozen=True)
class PolygonPages:
    """Every page of one aggregates request, and when the last one arrived (knowledge time)."""

    pages: list[Any]
    fetched_at: datetime


def infer_asset_class(instrument_id: str) -> AssetClass:
    """The asset class a Sextant id implies: OCC option, ``BASE-QUOTE`` crypto, six-letter
    currency pair FX, anything else equity (pass ``asset_class`` for ETFs and indices)."""
    if _OCC.match(instrument_id):
        return AssetClass.OPTION
    if _CRYPTO.match(instrument_id):
        return AssetClass.CRYPTO
    if (
        _FX.match(instrument_id)
        and instrument_id[:3] in _ISO_CURRENCIES
        and instrument_id[3:] in _ISO_CURRENCIES
    ):
        return AssetClass.FX
    return AssetClass.EQUITY


def to_polygon_ticker(instrument_id: str, asset_class: AssetClass) -> str:
    """Polygon's ticker for a Sextant id, e.g. ``BTC-USD`` (crypto) -> ``X:BTCUSD``."""
    if asset_class in (AssetClass.EQUITY, AssetClass.ETF):
        return instrument_id
    if asset_class is AssetClass.INDEX:
        return f"I:{instrument_id}"
    if asset_class is AssetClass.FX and _FX.match(instrument_id):
        return f"C:{instrument_id}"
    if asset_class is AssetClass.CRYPTO and (pair := _CRYPTO.match(instrument_id)):
        return f"X:{pair[1]}{pair[2]}"
    if asset_class is AssetClass.OPTION and _OCC.match(instrument_id):
        return f"O:{instrument_id}"
    raise ValueError(
        f"instrument_id {instrument_id!r} is not a Sextant {asset_class.value} id "
        "(FX: EURUSD, crypto: BTC-USD, option: OCC symbol like SPY251219C00650000)"
    )


def from_polygon_ticker(ticker: str) -> tuple[str, AssetClass]:
    """The Sextant id and asset class of a Polygon ticker, e.g. ``C:EURUSD`` -> EURUSD, fx."""
    prefix, _, symbol = ticker.rpartition(":")
    if prefix == "":
        return ticker, AssetClass.EQUITY
    if prefix == "I":
        return symbol, AssetClass.INDEX
    if prefix == "C":
        return symbol, AssetClass.FX
    if prefix == "O":
        return symbol, AssetClass.OPTION
    if prefix == "X":
        for quote in _CRYPTO_QUOTES:
            if symbol.endswith(quote) and len(symbol) > len(quote):
                return f"{symbol[: -len(quote)]}-{quote}", AssetClass.CRYPTO
    raise ValueError(f"unknown Polygon ticker {ticker!r}")


class PolygonAggregatesFetcher(KeyedFetcher[PolygonAggregatesQuery, Bar]):
    """Custom aggregate bars (``/v2/aggs``) of one ticker, all pages.

    Built as ``PolygonAggregatesFetcher(credentials=None, *, clock=utc_now)``; ``params`` are
    validated by :class:`PolygonAggregatesQuery`.
    """

    provider = PROVIDER
    kind = DataKind.BARS
    dataset = "aggregates"
    query_model = PolygonAggregatesQuery
    api_key_variable = API_KEY_VARIABLE

    async def aextract_data(
        self, query: PolygonAggregatesQuery, http: ProviderHttp
    ) -> PolygonPages:
        """Every page of the aggregates of ``query``; NoData when none holds a bar."""
        headers = {"Authorization": f"Bearer {self._api_key()}"}
        multiplier, timespan = _TIMESPANS[query.interval]
        if query.interval is Interval.D1:
            first: str = query.start.astimezone(UTC).date().isoformat()
            last: str = (query.end.astimezone(UTC) - timedelta(milliseconds=1)).date().isoformat()
        else:
            first, last = str(_ms(query.start)), str(_ms(query.end) - 1)
        path = f"/v2/aggs/ticker/{query.ticker}/range/{multiplier}/{timespan}/{first}/{last}"
        params: dict[str, Any] | None = {
            "adjusted": str(query.adjusted).lower(),
            "sort": "asc",
            "limit": query.limit,
        }
        pages: list[Any] = []
        seen: set[str] = set()
        while True:
            page = await http.get_json(path, params=params, headers=headers)
            _results(page)  # the envelope is checked now, so a bad page stops the paging
            pages.append(page)
            next_url = page.get("next_url")
            if not next_url:
                break
            path, params = _relative(next_url), None
            if path in seen or len(pages) >= _MAX_PAGES:
                raise MalformedResponse(PROVIDER.name, f"next_url does not advance: {path[:80]}")
            seen.add(path)
        if not any(_results(p) for p in pages):
            raise NoData(
                PROVIDER.name,
                f"no {query.interval.value} bars for {query.ticker} "
                f"in [{query.start.isoformat()}, {query.end.isoformat()})",
            )
        return PolygonPages(pages, self._clock())

    def transform_data(self, query: PolygonAggregatesQuery, raw: PolygonPages) -> Transformed[Bar]:
        """Bars of every page; invalid rows become Rejects."""
        return collect(
            self._bar(query, row, raw.fetched_at) for page in raw.pages for row in _results(page)
        )

    def _bar(
        self, query: PolygonAggregatesQuery, row: Any, fetched_at: datetime
    ) -> Bar | Reject | None:
        t = row.get("t") if isinstance(row, dict) else None
        if not isinstance(t, int) or isinstance(t, bool):
            return Reject("missing or non-integer timestamp 't'", row)
        ts_event = _EPOCH + timedelta(milliseconds=t)
        if query.interval is Interval.D1:
            ts_event = datetime.combine(ts_event.date(), time(), UTC)
        if not query.start <= ts_event < query.end:
            return None
        if ts_event + query.interval.duration > fetched_at:
            return None  # still forming when fetched
        return bar_or_reject(
            row,
            instrument_id=query.instrument_id,
            asset_class=query.resolved_asset_class,
            interval=query.interval,
            ts_event=ts_event,
            ohlcv=(row.get("o"), row.get("h"), row.get("l"), row.get("c"), row.get("v")),
            source=PROVIDER.name,
            ts_known=fetched_at,
        )


def _results(page: Any) -> list[Any]:
    """The ``results`` of a page whose envelope is sound, else MalformedResponse."""
    if not isinstance(page, dict):
        raise MalformedResponse(PROVIDER.name, f"expected an object, got {type(page).__name__}")
    status = page.get("status")
    if status not in ("OK", "DELAYED"):
        detail = page.get("error") or page.get("message") or "no status"
        raise MalformedResponse(PROVIDER.name, f"status {status!r}: {str(detail)[:120]}")
    results = page.get("results", [])  # absent when a page holds no bar
    if not isinstance(results, list):
        raise MalformedResponse(PROVIDER.name, f"'results' is {type(results).__name__}, not a list")
    next_url = page.get("next_url")
    if next_url is not None and not isinstance(next_url, str):
        raise MalformedResponse(PROVIDER.name, "'next_url' is not a string")
    return results


def _relative(next_url: str) -> str:
    """``next_url`` as a path on the configured host, so the key never goes to another one."""
    parts = urlsplit(next_url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def _ms(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(milliseconds=1)


FETCHERS: tuple[type[Fetcher[Any, Any]], ...] = (PolygonAggregatesFetcher,)
