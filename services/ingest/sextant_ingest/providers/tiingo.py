"""Tiingo: end-of-day prices of US equities/ETFs and intraday bars from the IEX exchange.

Datasets (query params of :class:`TiingoQuery`: ``instrument_id`` a ticker like ``AAPL`` or
``BRK.B``, ``interval``, ``start``/``end`` aware datetimes ``[start, end)``, ``asset_class``
equity or etf, ``adjusted`` for daily):

* ``eod_prices`` (:class:`TiingoDailyFetcher`, ``1d`` only): ``GET /tiingo/daily/{ticker}/prices
  ?startDate=&endDate=`` -> a JSON list of ``{date, open, high, low, close, volume, adjOpen,
  adjHigh, adjLow, adjClose, adjVolume, divCash, splitFactor}``. ``date`` is 00:00 UTC of the
  session date, Sextant's daily convention. ``adjusted`` (default true) picks the ``adj*``
  fields (split and dividend adjusted, CRSP method) over the raw ones.
* ``iex_prices`` (:class:`TiingoIexFetcher`, ``1m``, ``5m``, ``1h``): ``GET /iex/{ticker}/prices
  ?startDate=&endDate=&resampleFreq=5min&columns=open,high,low,close,volume`` -> a list of
  ``{date, open, high, low, close, volume}``, ``date`` being the bar's start in UTC. These are
  trades on the IEX exchange only, so ``volume`` is IEX's share of the consolidated volume. The
  backlog names IEX Cloud, which shut down in August 2024; Tiingo's IEX endpoint is a live
  source of that exchange's data. A bar that is not on the interval's grid (Tiingo aligns
  resampled bars itself) becomes a Reject rather than a mislabelled bar.

The key goes in the documented ``Authorization: Token <key>`` header (never in the URL).
Tiingo does not paginate: one request per query. The free plan allows 50 requests an hour (and
1000 a day). A bar is served when it lies in ``[start, end)`` and has ended by the time the
response arrived (``ts_known``); an empty answer raises :class:`NoData`; a row that fails
validation (a null price, high below low) becomes a :class:`Reject`.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

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

API_KEY_VARIABLE = "SEXTANT_TIINGO_API_KEY"

PROVIDER = ProviderInfo(
    name="tiingo",
    base_url="https://api.tiingo.com",
    kinds=frozenset({DataKind.BARS}),
    rate_limit=RateLimit(requests=50, per_seconds=3600.0),  # free plan: 50/hour, 1000/day
    asset_classes=frozenset({AssetClass.EQUITY, AssetClass.ETF}),
    credentials=(API_KEY_VARIABLE,),
    docs_url="https://www.tiingo.com/documentation/end-of-day",
)

_RESAMPLE_FREQ = {Interval.M1: "1min", Interval.M5: "5min", Interval.H1: "1hour"}


class TiingoQuery(BaseModel):
    """Bars of one US equity or ETF over ``[start, end)``."""

    model_config = ConfigDict(frozen=True)

    instrument_id: str = Field(min_length=1, max_length=16, pattern=r"^[A-Za-z0-9.\-]+$")
    interval: Interval
    start: UtcBound
    end: UtcEndBound
    asset_class: AssetClass = AssetClass.EQUITY
    adjusted: bool = True

    @model_validator(mode="after")
    def _check(self) -> TiingoQuery:
        if self.end <= self.start:
            raise ValueError(f"end ({self.end}) must be after start ({self.start})")
        if self.asset_class not in PROVIDER.asset_classes:
            raise ValueError(f"asset_class must be equity or etf, got {self.asset_class.value}")
        return self

    @property
    def ticker(self) -> str:
        """Tiingo's spelling: share classes with a dash (``BRK.B`` -> ``BRK-B``)."""
        return self.instrument_id.replace(".", "-")

    @property
    def dates(self) -> tuple[str, str]:
        """``startDate`` and ``endDate`` (inclusive UTC dates) covering ``[start, end)``."""
        last = self.end.astimezone(UTC) - timedelta(microseconds=1)
        return self.start.astimezone(UTC).date().isoformat(), last.date().isoformat()


@dataclass(frozen=True)
class TiingoRows:
    """The rows of one response and when it arrived (knowledge time)."""

    rows: list[Any]
    fetched_at: datetime


class _TiingoFetcher(KeyedFetcher[TiingoQuery, Bar]):
    """What both Tiingo datasets share: the key, the request, the row -> Bar step.

    Built as ``cls(credentials=None, *, clock=utc_now)``.
    """

    provider = PROVIDER
    kind = DataKind.BARS
    query_model = TiingoQuery
    api_key_variable = API_KEY_VARIABLE
    intervals: frozenset[Interval]

    def transform_query(self, params: Mapping[str, Any]) -> TiingoQuery:
        """Validate ``params`` (see :class:`TiingoQuery`) and the interval this dataset serves."""
        query = super().transform_query(params)
        if query.interval not in self.intervals:
            served = ", ".join(sorted(i.value for i in self.intervals))
            raise ValueError(
                f"interval {query.interval.value!r} is not served by tiingo {self.dataset} "
                f"(serves {served})"
            )
        return query

    @abc.abstractmethod
    def _path_and_params(self, query: TiingoQuery) -> tuple[str, dict[str, str]]:
        """The endpoint path and query string of ``query``."""

    @abc.abstractmethod
    def _prices(self, query: TiingoQuery, row: dict[str, Any]) -> tuple[Any, ...]:
        """open, high, low, close, volume of a row."""

    async def aextract_data(self, query: TiingoQuery, http: ProviderHttp) -> TiingoRows:
        """The rows of ``query`` (one request); NoData when there are none."""
        headers = {"Authorization": f"Token {self._api_key()}"}
        path, params = self._path_and_params(query)
        body = await http.get_json(path, params=params, headers=headers)
        rows = _rows(body)
        if not rows:
            raise NoData(
                PROVIDER.name,
                f"no {query.interval.value} bars for {query.ticker} "
                f"in [{query.start.isoformat()}, {query.end.isoformat()})",
            )
        return TiingoRows(rows, self._clock())

    def transform_data(self, query: TiingoQuery, raw: TiingoRows) -> Transformed[Bar]:
        """Bars of the rows; invalid rows become Rejects."""
        return collect(self._bar(query, row, raw.fetched_at) for row in _rows(raw.rows))

    def _bar(self, query: TiingoQuery, row: Any, fetched_at: datetime) -> Bar | Reject | None:
        if not isinstance(row, dict):
            return Reject(f"row is {type(row).__name__}, not an object", row)
        try:
            ts_event = datetime.fromisoformat(row["date"])
        except (KeyError, TypeError, ValueError):
            return Reject(f"missing or unreadable 'date': {row.get('date')!r}", row)
        if ts_event.tzinfo is None:
            return Reject(f"'date' has no UTC offset: {row['date']!r}", row)
        if ts_event.timestamp() % query.interval.duration.total_seconds():
            return Reject(f"'date' {row['date']} is not on the {query.interval.value} grid", row)
        if not query.start <= ts_event < query.end:
            return None
        if ts_event + query.interval.duration > fetched_at:
            return None  # still forming when fetched
        return bar_or_reject(
            row,
            instrument_id=query.instrument_id,
            asset_class=query.asset_class,
            interval=query.interval,
            ts_event=ts_event,
            ohlcv=self._prices(query, row),
            source=PROVIDER.name,
            ts_known=fetched_at,
        )


class TiingoDailyFetcher(_TiingoFetcher):
    """End-of-day prices (``/tiingo/daily/{ticker}/prices``), adjusted by default."""

    dataset = "eod_prices"
    intervals = frozenset({Interval.D1})

    def _path_and_params(self, query: TiingoQuery) -> tuple[str, dict[str, str]]:
        first, last = query.dates
        return f"/tiingo/daily/{query.ticker}/prices", {"startDate": first, "endDate": last}

    def _prices(self, query: TiingoQuery, row: dict[str, Any]) -> tuple[Any, ...]:
        names = ("open", "high", "low", "close", "volume")
        if query.adjusted:
            names = ("adjOpen", "adjHigh", "adjLow", "adjClose", "adjVolume")
        return tuple(row.get(name) for name in names)


class TiingoIexFetcher(_TiingoFetcher):
    """Intraday bars of IEX exchange trades (``/iex/{ticker}/prices``), regular hours."""

    dataset = "iex_prices"
    intervals = frozenset(_RESAMPLE_FREQ)

    def _path_and_params(self, query: TiingoQuery) -> tuple[str, dict[str, str]]:
        first, last = query.dates
        return f"/iex/{query.ticker}/prices", {
            "startDate": first,
            "endDate": last,
            "resampleFreq": _RESAMPLE_FREQ[query.interval],
            "columns": "open,high,low,close,volume",
        }

    def _prices(self, query: TiingoQuery, row: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(row.get(name) for name in ("open", "high", "low", "close", "volume"))


def _rows(body: Any) -> list[Any]:
    """A response's rows: Tiingo answers a JSON list (an object carries an error ``detail``)."""
    if isinstance(body, list):
        return body
    detail = body.get("detail") if isinstance(body, dict) else None
    raise MalformedResponse(
        PROVIDER.name,
        f"expected a list of prices, got {type(body).__name__}"
        + (f": {str(detail)[:120]}" if detail else ""),
    )


FETCHERS: tuple[type[Fetcher[Any, Any]], ...] = (TiingoDailyFetcher, TiingoIexFetcher)
