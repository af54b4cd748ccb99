"""Coinbase Exchange: crypto OHLCV candles with real volumes over the whole listed history.

Dataset ``candles`` (:class:`CoinbaseCandlesFetcher`): ``GET /products/{product_id}/candles
?granularity=G&start=ISO&end=ISO`` (public, no key) -> ``[[time, low, high, open, close,
volume], ...]``, newest first, ``time`` being the bucket's *start* in Unix seconds. Granularity
is in seconds (60, 300, 900, 3600, 21600, 86400); Sextant's ``1m``, ``5m``, ``1h`` and ``1d``
map to 60, 300, 3600 and 86400. Daily buckets start at 00:00 UTC, Sextant's daily convention.

Ids: a Sextant crypto id is Coinbase's product id as it is (``BTC-USD``, ``ETH-USD``,
``SOL-EUR``, ``ETH-BTC``): the quote is a real US dollar (or euro, pound ...), not a stablecoin
standing in for one. A product Coinbase does not list answers HTTP 404 (:class:`NotFound`).

Volume: ``volume`` is in units of the *base* currency (bitcoins for ``BTC-USD``), the amount
traded on Coinbase Exchange in the bucket, not a quote-currency turnover and not a market-wide
total.

History and paging: one request returns at most 300 candles, so ``[start, end)`` is cut into
windows of 300 buckets, asked oldest first, one request each. The whole history of a product is
there (``BTC-USD`` daily from 2015-07-20); windows before the listing answer an empty list. A
query needing more than :data:`MAX_REQUESTS` requests (a minute-bar decade) is refused with a
ValueError naming ``start``: split it. Coinbase publishes nothing for a bucket without trades,
so a quiet minute is a missing bar, never a zero-volume one.

Records: a bar is served when ``start <= ts_event < end`` and it has ended when the response
arrived (``ts_known``); a candle that is not a six-number row, is off the granularity grid or
fails validation (high below low, a non-positive price) becomes a :class:`Reject` with the
reason. A range without any candle raises :class:`NoData`. Public endpoints allow 10 requests
a second per IP (bursts of 15); a 429 is retried by the unified fetcher after its backoff.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sextant_common.events import AssetClass, Bar, Interval
from sextant_common.timeparse import UtcBound, UtcEndBound
from sextant_ingest.providers._common import (
    ModelFetcher,
    bar_or_reject,
    check_bar_query,
    collect,
)
from sextant_ingest.providers.errors import MalformedResponse, NoData
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
    name="coinbase",
    base_url="https://api.exchange.coinbase.com",
    kinds=frozenset({DataKind.BARS}),
    rate_limit=RateLimit(requests=10, per_seconds=1.0),  # public endpoints: 10/s per IP
    asset_classes=frozenset({AssetClass.CRYPTO}),
    credentials=(),  # public market data
    docs_url="https://docs.cdp.coinbase.com/api-reference/exchange-api/rest-api/products/get-product-candles",
)

GRANULARITY_S: dict[Interval, int] = {
    Interval.M1: 60,
    Interval.M5: 300,
    Interval.H1: 3600,
    Interval.D1: 86400,
}
"""Sextant interval -> Coinbase granularity (seconds)."""
CANDLES_PER_REQUEST = 300
"""Coinbase refuses a request spanning more buckets than this."""
MAX_REQUESTS = 2_000
"""Most requests one query may take (600k candles, about 3.5 minutes at 10 a second)."""
_PRODUCT = re.compile(r"^[A-Z0-9]{2,10}-[A-Z0-9]{2,10}$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class CoinbaseCandlesQuery(BaseModel):
    """Bars of one Coinbase product over ``[start, end)``."""

    model_config = ConfigDict(frozen=True)

    instrument_id: str = Field(pattern=_PRODUCT.pattern, description="BASE-QUOTE, e.g. BTC-USD")
    interval: Interval = Interval.D1
    start: UtcBound
    end: UtcEndBound
    asset_class: AssetClass = AssetClass.CRYPTO

    @model_validator(mode="after")
    def _check(self) -> CoinbaseCandlesQuery:
        check_bar_query(
            self, asset_class=AssetClass.CRYPTO, intervals=GRANULARITY_S, provider="Coinbase"
        )
        return self

    @property
    def granularity(self) -> int:
        """Bucket length in seconds."""
        return GRANULARITY_S[self.interval]

    def windows(self, until: datetime) -> list[tuple[datetime, datetime]]:
        """``[first, last]`` bucket starts of each request, oldest first, covering the buckets
        that start in ``[start, min(end, until))`` (nothing is asked of the future)."""
        step = self.interval.duration
        first = _EPOCH + math.ceil((self.start - _EPOCH) / step) * step
        stop = min(self.end, until)
        windows = []
        while first < stop:
            last = min(first + (CANDLES_PER_REQUEST - 1) * step, stop - timedelta(microseconds=1))
            windows.append((first, last))
            first += CANDLES_PER_REQUEST * step
        return windows


@dataclass(frozen=True)
class CoinbasePages:
    """The candle rows of every request, oldest window first, and when the last arrived."""

    pages: list[list[Any]]
    fetched_at: datetime


class CoinbaseCandlesFetcher(ModelFetcher[CoinbaseCandlesQuery, Bar]):
    """Candles (``/products/{id}/candles``) of one product, every window of the range.

    Built as ``CoinbaseCandlesFetcher(clock=utc_now)``: public data, no key.
    """

    provider = PROVIDER
    kind = DataKind.BARS
    dataset = "candles"
    query_model = CoinbaseCandlesQuery

    def __init__(self, *, clock: Callable[[], datetime] = utc_now) -> None:
        self._clock = clock  # "now": the last window asked, and every bar's ts_known

    def transform_query(self, params: Mapping[str, Any]) -> CoinbaseCandlesQuery:
        """Validate ``params``; a range needing more than MAX_REQUESTS requests raises a
        ValueError naming ``start``."""
        query = super().transform_query(params)
        needed = len(query.windows(self._clock()))
        if needed > MAX_REQUESTS:
            raise ValueError(
                f"start {query.start.isoformat()}: {needed} requests of {CANDLES_PER_REQUEST} "
                f"{query.interval.value} candles, more than {MAX_REQUESTS}; split the range"
            )
        return query

    async def aextract_data(self, query: CoinbaseCandlesQuery, http: ProviderHttp) -> CoinbasePages:
        """Every window of ``query``, oldest first; NoData when none holds a candle."""
        pages = []
        for first, last in query.windows(self._clock()):
            body = await http.get_json(
                f"/products/{query.instrument_id}/candles",
                params={
                    "granularity": str(query.granularity),
                    "start": _iso(first),
                    "end": _iso(last),
                },
            )
            pages.append(_rows(body))
        if not any(pages):
            raise NoData(
                PROVIDER.name,
                f"no {query.interval.value} candles for {query.instrument_id} "
                f"in [{query.start.isoformat()}, {query.end.isoformat()})",
            )
        return CoinbasePages(pages, self._clock())

    def transform_data(self, query: CoinbaseCandlesQuery, raw: CoinbasePages) -> Transformed[Bar]:
        """Bars in time order (a bucket repeated by two windows is kept once); bad candles
        become Rejects."""
        rows: dict[datetime, Any] = {}
        rejects: list[Reject] = []
        for page in raw.pages:
            for row in page:
                start = _bucket_start(row, query.granularity)
                if isinstance(start, Reject):
                    rejects.append(start)
                else:
                    rows.setdefault(start, row)
        out = collect(
            self._bar(query, start, rows[start], raw.fetched_at) for start in sorted(rows)
        )
        return Transformed(out.records, rejects + out.rejects)

    def _bar(
        self, query: CoinbaseCandlesQuery, start: datetime, row: list[Any], fetched_at: datetime
    ) -> Bar | Reject | None:
        if not query.start <= start < query.end or start + query.interval.duration > fetched_at:
            return None  # outside the range, or still forming when fetched
        _, low, high, open_, close, volume = row
        return bar_or_reject(
            row,
            instrument_id=query.instrument_id,
            asset_class=AssetClass.CRYPTO,
            interval=query.interval,
            ts_event=start,
            ohlcv=(open_, high, low, close, volume),
            source=PROVIDER.name,
            ts_known=fetched_at,
        )


def _rows(body: Any) -> list[Any]:
    """A response's candles: Coinbase answers a JSON list (an object carries ``message``)."""
    if isinstance(body, list):
        return body
    message = body.get("message") if isinstance(body, dict) else None
    raise MalformedResponse(
        PROVIDER.name,
        f"expected a list of candles, got {type(body).__name__}"
        + (f": {str(message)[:120]}" if message else ""),
    )


def _bucket_start(row: Any, granularity: int) -> datetime | Reject:
    """The bucket start of a ``[time, low, high, open, close, volume]`` row, or why not."""
    if not (isinstance(row, list) and len(row) == 6):
        return Reject("expected [time, low, high, open, close, volume]", row)
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in row):
        return Reject("null or non-numeric field", row)
    if not isinstance(row[0], int) or row[0] % granularity:
        return Reject(f"time {row[0]} is not on the {granularity} s grid", row)
    return _EPOCH + timedelta(seconds=row[0])


def _iso(moment: datetime) -> str:
    """RFC 3339 in UTC with a ``Z``, the form Coinbase documents for ``start``/``end``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


FETCHERS: tuple[type[Fetcher[Any, Any]], ...] = (CoinbaseCandlesFetcher,)
