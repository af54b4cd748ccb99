"""Polygon.io (rebranded Massive in 2025; ``api.polygon.io`` still serves): aggregate bars and
option chain snapshots.

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

Dataset ``option_chain`` (:class:`PolygonOptionChainQuery`: ``underlying``, ``asset_class``
``index`` for index options, optional ``expiry``): ``GET /v3/snapshot/options/{ticker}?limit=250``
(``expiration_date`` when an expiry is given), paged by ``next_url`` like the aggregates. Each
result becomes an :class:`OptionQuote`: ``details.ticker`` (``O:`` + OCC symbol; the contract id
is the OCC symbol, Sextant's option id), ``details.contract_type``/``expiration_date``/
``strike_price``/``exercise_style``/``shares_per_contract``, ``last_quote.bid``/``ask`` (None
when Polygon has no quote), ``last_trade.price`` (else ``day.close``) as ``last``, ``day.volume``,
``open_interest``, ``implied_volatility`` (Polygon's, annualized fraction; 0 means none) and
``underlying_asset.price``. Polygon's own ``greeks`` are not kept: the quant service computes
Greeks from the quotes. ``ts_event`` and ``ts_known`` are both the time the last page arrived
(the snapshot time). A row without ``details``, with a ticker that is not an option's, or with
a field the quote refuses (bid above ask, a strike <= 0) becomes a :class:`Reject`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sextant_common.events import AssetClass, Bar, Interval, OptionQuote
from sextant_common.timeparse import UtcBound, UtcEndBound
from sextant_ingest.providers._common import (
    KeyedFetcher,
    bar_or_reject,
    collect,
    validation_reason,
)
from sextant_ingest.providers.errors import MalformedResponse, NoData
from sextant_ingest.providers.fetcher import (
    DataKind,
    Fetcher,
    ProviderInfo,
    Q,
    R,
    RateLimit,
    Reject,
    Transformed,
)
from sextant_ingest.providers.http import ProviderHttp

API_KEY_VARIABLE = "SEXTANT_POLYGON_API_KEY"

PROVIDER = ProviderInfo(
    name="polygon",
    base_url="https://api.polygon.io",
    kinds=frozenset({DataKind.BARS, DataKind.OPTIONS}),
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


class PolygonKeyedFetcher(KeyedFetcher[Q, R]):
    """A Polygon dataset: the key travels as ``Authorization: Bearer``."""

    provider = PROVIDER
    api_key_variable = API_KEY_VARIABLE

    def _headers(self) -> dict[str, str]:
        """The auth header; MissingCredentials (naming the variable) without a key."""
        return {"Authorization": f"Bearer {self._api_key()}"}


class PolygonAggregatesFetcher(PolygonKeyedFetcher[PolygonAggregatesQuery, Bar]):
    """Custom aggregate bars (``/v2/aggs``) of one ticker, all pages.

    Built as ``PolygonAggregatesFetcher(credentials=None, *, clock=utc_now)``; ``params`` are
    validated by :class:`PolygonAggregatesQuery`.
    """

    kind = DataKind.BARS
    dataset = "aggregates"
    query_model = PolygonAggregatesQuery

    async def aextract_data(
        self, query: PolygonAggregatesQuery, http: ProviderHttp
    ) -> PolygonPages:
        """Every page of the aggregates of ``query``; NoData when none holds a bar."""
        headers = self._headers()
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
        pages = await _all_pages(http, path, params, headers)
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


class PolygonOptionChainQuery(BaseModel):
    """Every listed contract of one underlying (optionally one expiry), one snapshot."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    underlying: str = Field(min_length=1, max_length=64, description="Sextant id, e.g. SPY, SPX")
    asset_class: AssetClass = AssetClass.EQUITY
    """``index`` for index options (SPX -> I:SPX)."""
    expiry: date | None = None
    limit: int = Field(250, ge=1, le=250)

    @model_validator(mode="after")
    def _check(self) -> PolygonOptionChainQuery:
        if self.asset_class not in (AssetClass.EQUITY, AssetClass.ETF, AssetClass.INDEX):
            raise ValueError(f"asset_class: no option chains for {self.asset_class.value}")
        to_polygon_ticker(self.underlying, self.asset_class)  # raises if unmappable
        return self

    @property
    def ticker(self) -> str:
        """Polygon's ticker of the underlying."""
        return to_polygon_ticker(self.underlying, self.asset_class)


class PolygonOptionChainFetcher(PolygonKeyedFetcher[PolygonOptionChainQuery, OptionQuote]):
    """The option chain snapshot (``/v3/snapshot/options``) of one underlying, all pages.

    Built as ``PolygonOptionChainFetcher(credentials=None, *, clock=utc_now)``; ``params`` are
    validated by :class:`PolygonOptionChainQuery`.
    """

    kind = DataKind.OPTIONS
    dataset = "option_chain"
    query_model = PolygonOptionChainQuery

    async def aextract_data(
        self, query: PolygonOptionChainQuery, http: ProviderHttp
    ) -> PolygonPages:
        """Every page of the chain; NoData when none holds a contract."""
        headers = self._headers()
        params: dict[str, Any] = {"limit": query.limit}
        if query.expiry is not None:
            params["expiration_date"] = query.expiry.isoformat()
        pages = await _all_pages(http, f"/v3/snapshot/options/{query.ticker}", params, headers)
        if not any(_results(p) for p in pages):
            expiry = f" expiring {query.expiry}" if query.expiry else ""
            raise NoData(PROVIDER.name, f"no option contracts on {query.ticker}{expiry}")
        return PolygonPages(pages, self._clock())

    def transform_data(
        self, query: PolygonOptionChainQuery, raw: PolygonPages
    ) -> Transformed[OptionQuote]:
        """One quote per contract, ``ts_event`` = ``ts_known`` = when the last page arrived;
        a row without contract details or with invalid fields becomes a Reject."""
        return collect(
            _option_quote(query.underlying, row, raw.fetched_at)
            for page in raw.pages
            for row in _results(page)
        )


def _option_quote(underlying: str, row: Any, fetched_at: datetime) -> OptionQuote | Reject:
    """One snapshot row as a quote; a missing ``last_quote`` leaves bid and ask None."""
    if not isinstance(row, dict) or not isinstance(row.get("details"), dict):
        return Reject("missing 'details'", row, key=underlying)
    details = row["details"]
    ticker = details.get("ticker")
    if not isinstance(ticker, str) or not _OCC.match(ticker.removeprefix("O:")):
        return Reject(f"details.ticker: not an OCC option ticker: {ticker!r}", row, key=underlying)
    quote, day = _object(row, "last_quote"), _object(row, "day")
    trade, asset = _object(row, "last_trade"), _object(row, "underlying_asset")
    try:
        return OptionQuote(
            contract=ticker.removeprefix("O:"),
            underlying=underlying,
            expiry=details.get("expiration_date"),
            strike=details.get("strike_price"),
            right=details.get("contract_type"),
            style=details.get("exercise_style", "american"),
            multiplier=details.get("shares_per_contract", 100),
            ts_event=fetched_at,
            bid=quote.get("bid"),
            ask=quote.get("ask"),
            last=trade.get("price", day.get("close")),
            volume=day.get("volume"),
            open_interest=row.get("open_interest"),
            implied_vol=row.get("implied_volatility") or None,  # 0 means none computed
            underlying_price=asset.get("price"),
            source=PROVIDER.name,
            ts_known=fetched_at,
        )
    except ValidationError as exc:
        return Reject(validation_reason(exc, default="quote"), row, key=underlying)


def _object(row: dict[str, Any], name: str) -> dict[str, Any]:
    """``row[name]`` when it is an object, else empty (Polygon omits what it lacks)."""
    value = row.get(name)
    return value if isinstance(value, dict) else {}


async def _all_pages(
    http: ProviderHttp, path: str, params: dict[str, Any] | None, headers: dict[str, str]
) -> list[Any]:
    """Every page of a paged Polygon endpoint, following ``next_url`` on the configured host;
    MalformedResponse on a bad envelope or a ``next_url`` that does not advance."""
    pages: list[Any] = []
    seen: set[str] = set()
    while True:
        page = await http.get_json(path, params=params, headers=headers)
        _results(page)  # the envelope is checked now, so a bad page stops the paging
        pages.append(page)
        next_url = page.get("next_url")
        if not next_url:
            return pages
        path, params = _relative(next_url), None
        if path in seen or len(pages) >= _MAX_PAGES:
            raise MalformedResponse(PROVIDER.name, f"next_url does not advance: {path[:80]}")
        seen.add(path)


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


FETCHERS: tuple[type[Fetcher[Any, Any]], ...] = (
    PolygonAggregatesFetcher,
    PolygonOptionChainFetcher,
)
