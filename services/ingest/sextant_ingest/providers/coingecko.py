"""CoinGecko: hourly and daily crypto OHLC bars built from the public ``/coins/{id}/ohlc``.

Dataset ``ohlc`` (:class:`CoinGeckoOhlcFetcher`): ``GET /api/v3/coins/{id}/ohlc?vs_currency=usd
&days=N`` -> ``[[ms, open, high, low, close], ...]`` where ``ms`` is the candle's *close* time.
Query params (:class:`CoinGeckoOhlcQuery`): ``instrument_id`` (``BTC-USD``; the quote becomes
``vs_currency``), ``interval`` (``1h`` or ``1d`` only), ``start``/``end`` (aware datetimes,
``[start, end)``) and an optional ``coin_id`` for coins outside :data:`COIN_IDS`.

Honest granularity: on the keyless and demo plans the candle length follows ``days`` (1-2 days:
30 minutes, 3-30 days: 4 hours, beyond: 4 days; ``interval=daily|hourly`` is for paid plans),
and none of those is a Sextant interval. So bars are aggregated from whole candles only:
``1h`` = two 30-minute candles (``days=1``, so the last 24 hours only), ``1d`` = six 4-hour
candles aligned on 00:00 UTC (``days`` of 7, 14 or 30, so the last 30 days only). A bucket
missing a candle (the partial first and last ones, or a gap) is dropped, never built from part
of its candles; a bucket holding a bad candle (null price, high below low) becomes a
:class:`Reject`. A query reaching further back raises ValueError naming ``start``: 4-day candles
cannot make daily bars.

Volume: the endpoint has none, and ``/market_chart``'s ``total_volumes`` is a trailing 24-hour
sum sampled at irregular times, not a bar's volume, so ``volume`` is 0 for every bar.

Keys: keyless works (IP-based limit, about 5-15 requests a minute); a demo key from
``SEXTANT_COINGECKO_API_KEY`` goes in the ``x-cg-demo-api-key`` header on the same host (demo
plan: 30 to 100 requests a minute by the docs' age). A bar is served when ``start <= ts_event <
end`` and it has ended when the response arrived (``ts_known``); an empty answer raises
:class:`NoData`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sextant_common.events import AssetClass, Bar, Interval
from sextant_common.timeparse import UtcBound, UtcEndBound
from sextant_ingest.providers._common import KeyedFetcher, bar_or_reject, secret_value
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

API_KEY_VARIABLE = "SEXTANT_COINGECKO_API_KEY"
"""Optional demo key; CoinGecko answers without one."""
API_KEY_HEADER = "x-cg-demo-api-key"

PROVIDER = ProviderInfo(
    name="coingecko",
    base_url="https://api.coingecko.com/api/v3",
    kinds=frozenset({DataKind.BARS}),
    rate_limit=RateLimit(requests=10, per_seconds=60.0),  # keyless: ~5-15/min, IP based
    asset_classes=frozenset({AssetClass.CRYPTO}),
    credentials=(),  # keyless; the optional demo key is API_KEY_VARIABLE
    docs_url="https://docs.coingecko.com/reference/coins-id-ohlc",
)

COIN_IDS = {
    "BTC": "bitcoin",
    "ETH": "ethereum",
    "SOL": "solana",
    "XRP": "ripple",
    "DOGE": "dogecoin",
    "ADA": "cardano",
    "AVAX": "avalanche-2",
    "BNB": "binancecoin",
    "DOT": "polkadot",
    "LINK": "chainlink",
    "LTC": "litecoin",
    "BCH": "bitcoin-cash",
    "TRX": "tron",
    "XLM": "stellar",
    "USDT": "tether",
    "USDC": "usd-coin",
}
"""Base currency of a Sextant crypto id -> CoinGecko API id (others: pass ``coin_id``)."""

_HALF_HOUR = timedelta(minutes=30)
_FOUR_HOURS = timedelta(hours=4)
_DAILY_DAYS = (7, 14, 30)
"""``days`` values whose candles are 4 hours long, smallest first."""
_PAIR = re.compile(r"^([A-Z0-9]{2,10})-([A-Z]{3,4})$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class CoinGeckoOhlcQuery(BaseModel):
    """Hourly or daily bars of one coin against one currency over ``[start, end)``.

    ``days`` (the request's look-back) is chosen by the fetcher from ``start`` and now.
    """

    model_config = ConfigDict(frozen=True)

    instrument_id: str = Field(pattern=_PAIR.pattern, description="BASE-QUOTE, e.g. BTC-USD")
    interval: Interval
    start: UtcBound
    end: UtcEndBound
    coin_id: str | None = Field(None, pattern=r"^[a-z0-9\-]+$")
    days: int = 1

    @model_validator(mode="after")
    def _check(self) -> CoinGeckoOhlcQuery:
        if self.end <= self.start:
            raise ValueError(f"end ({self.end}) must be after start ({self.start})")
        if self.interval not in (Interval.H1, Interval.D1):
            raise ValueError(
                f"interval {self.interval.value!r}: CoinGecko's free OHLC candles make only 1h "
                "and 1d bars"
            )
        base = self.instrument_id.split("-")[0]
        if self.coin_id is None and base not in COIN_IDS:
            raise ValueError(f"instrument_id {self.instrument_id!r}: unknown coin, pass coin_id")
        return self

    @property
    def coin(self) -> str:
        """CoinGecko's API id of the base currency."""
        return self.coin_id or COIN_IDS[self.instrument_id.split("-")[0]]

    @property
    def vs_currency(self) -> str:
        """The quote currency, lower case."""
        return self.instrument_id.split("-")[1].lower()

    @property
    def candle(self) -> timedelta:
        """Length of the candles CoinGecko returns for ``days``."""
        return _HALF_HOUR if self.days <= 2 else _FOUR_HOURS


@dataclass(frozen=True)
class CoinGeckoCandles:
    """The candle rows of one response and when it arrived (knowledge time)."""

    rows: list[Any]
    fetched_at: datetime


class CoinGeckoOhlcFetcher(KeyedFetcher[CoinGeckoOhlcQuery, Bar]):
    """OHLC candles (``/coins/{id}/ohlc``) aggregated into whole 1h or 1d bars.

    Built as ``CoinGeckoOhlcFetcher(credentials=None, *, clock=utc_now)``; the key is optional.
    """

    provider = PROVIDER
    kind = DataKind.BARS
    dataset = "ohlc"
    query_model = CoinGeckoOhlcQuery
    api_key_variable = API_KEY_VARIABLE

    def transform_query(self, params: Mapping[str, Any]) -> CoinGeckoOhlcQuery:
        """Validate ``params`` and choose ``days``; a start too far back for the interval
        raises ValueError naming ``start``."""
        query = super().transform_query({**params, "days": 1})
        needed = math.ceil((self._clock() - query.start) / timedelta(days=1))
        if query.interval is Interval.H1:
            if needed > 1:
                raise ValueError(
                    f"start {query.start.isoformat()} is more than 1 day ago: CoinGecko's free "
                    "30-minute candles (which make 1h bars) cover the last 24 hours only"
                )
            return query
        days = next((d for d in _DAILY_DAYS if d >= needed), None)
        if days is None:
            raise ValueError(
                f"start {query.start.isoformat()} is more than 30 days ago: beyond 30 days "
                "CoinGecko's free candles are 4 days long and cannot make 1d bars"
            )
        return query.model_copy(update={"days": days})

    async def aextract_data(
        self, query: CoinGeckoOhlcQuery, http: ProviderHttp
    ) -> CoinGeckoCandles:
        """The candles of ``query`` (one request); NoData when there are none."""
        key = secret_value(self._credentials, API_KEY_VARIABLE)
        headers = {API_KEY_HEADER: key} if key else {}
        body = await http.get_json(
            f"/coins/{query.coin}/ohlc",
            params={"vs_currency": query.vs_currency, "days": str(query.days)},
            headers=headers,
        )
        rows = _rows(body)
        if not rows:
            raise NoData(
                PROVIDER.name,
                f"no OHLC candles for {query.coin}/{query.vs_currency} ({query.days}d)",
            )
        return CoinGeckoCandles(rows, self._clock())

    def transform_data(self, query: CoinGeckoOhlcQuery, raw: CoinGeckoCandles) -> Transformed[Bar]:
        """Bars of the whole buckets of candles; a bucket with a bad candle is a Reject."""
        body, step = query.candle, query.interval.duration
        buckets: dict[datetime, dict[datetime, list[float]]] = {}
        bad: dict[datetime, Reject] = {}
        rejects: list[Reject] = []
        for row in _rows(raw.rows):
            if not (isinstance(row, list) and len(row) == 5 and _is_int(row[0])):
                rejects.append(Reject("expected [close_ms, open, high, low, close]", row))
                continue
            start = _EPOCH + timedelta(milliseconds=row[0]) - body
            if (start - _EPOCH) % body:
                rejects.append(Reject(f"candle close not on the {body} grid", row))
                continue
            bucket = _EPOCH + (start - _EPOCH) // step * step
            problem = _candle_problem(row[1:])
            if problem and bucket not in bad:
                bad[bucket] = Reject(f"{problem} in the candle closing {row[0]}", row)
            buckets.setdefault(bucket, {})[start] = row[1:]
        records: list[Bar] = []
        per_bucket = step // body
        for bucket in sorted(buckets):
            if not query.start <= bucket < query.end or bucket + step > raw.fetched_at:
                continue
            if bucket in bad:
                rejects.append(bad[bucket])
                continue
            candles = [buckets[bucket][t] for t in sorted(buckets[bucket])]
            if len(candles) != per_bucket:
                continue  # a partial bucket: the window's edges or a gap
            item = bar_or_reject(
                candles,
                instrument_id=query.instrument_id,
                asset_class=AssetClass.CRYPTO,
                interval=query.interval,
                ts_event=bucket,
                ohlcv=(
                    candles[0][0],
                    max(c[1] for c in candles),
                    min(c[2] for c in candles),
                    candles[-1][3],
                    0.0,
                ),
                source=PROVIDER.name,
                ts_known=raw.fetched_at,
            )
            if isinstance(item, Reject):
                rejects.append(item)
            else:
                records.append(item)
        return Transformed(records, rejects)


def _rows(body: Any) -> list[Any]:
    """A response's candle rows: CoinGecko answers a JSON list (an object is an error)."""
    if isinstance(body, list):
        return body
    raise MalformedResponse(
        PROVIDER.name, f"expected a list of candles, got {type(body).__name__}: {str(body)[:120]}"
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _candle_problem(prices: list[Any]) -> str | None:
    """Why a candle's ``[open, high, low, close]`` is unusable, or None."""
    if not all(isinstance(p, int | float) and not isinstance(p, bool) for p in prices):
        return "null or non-numeric price"
    open_, high, low, close = prices
    if not all(math.isfinite(p) and p > 0 for p in prices):
        return "non-positive or non-finite price"
    if high < max(open_, close) or low > min(open_, close):
        return f"high/low do not bound open/close (o={open_} h={high} l={low} c={close})"
    return None


FETCHERS: tuple[type[Fetcher[Any, Any]], ...] = (CoinGeckoOhlcFetcher,)
