"""OANDA v20: FX candles (midpoint) for currency pairs.

Dataset ``candles`` (:class:`OandaCandlesFetcher`): ``GET /v3/instruments/{instrument}/candles
?price=M&granularity=M1&from=&to=`` with ``Authorization: Bearer <token>`` -> ``{instrument,
granularity, candles: [{complete, volume, time, mid: {o, h, l, c}}]}``; prices are decimal
strings. Query params (:class:`OandaCandlesQuery`): ``instrument_id`` (``EURUSD``; OANDA spells
it ``EUR_USD``), ``interval`` (5s, 1m, 5m, 1h, 1d; OANDA has no 1-second candles),
``start``/``end`` (aware datetimes, ``[start, end)``) and ``page_size`` (candles a request, at
most OANDA's 5000).

Paging: a from/to range may hold at most 5000 candles, so the range is cut into windows of
``page_size`` candles, one request each, and ``to`` never lies after now (OANDA rejects a future
``to``). Candles a window edge returns twice are kept once.

Host: ``SEXTANT_OANDA_ENV`` = ``practice`` (default, api-fxpractice.oanda.com) or ``live``
(api-fxtrade.oanda.com) picks the host; :func:`base_url` maps it (a practice token does not work
on the live host and vice versa: both answer 401).

Records: only candles flagged ``complete`` are served (the current one is still moving);
``volume`` is OANDA's tick volume (price updates in the candle), not traded size. Intraday
candles start at ``time``. Daily candles are requested aligned to 17:00 New York, the FX
day's roll, and labelled 00:00 UTC of the trading day they close (the 17:00 candle of Tuesday
is Wednesday's), as Sextant's FX days are. A bar is served when ``start <= ts_event < end`` and
it has ended by the time the response arrived (``ts_known``). No candle at all raises
:class:`NoData`; a candle that fails validation (a missing price, high below low) becomes a
:class:`Reject`. An unknown instrument is HTTP 400 at OANDA, which the HTTP client reports as
:class:`MalformedResponse`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sextant_common.events import AssetClass, Bar, Interval
from sextant_common.timeparse import UtcBound, UtcEndBound
from sextant_ingest.providers._common import KeyedFetcher, bar_or_reject
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

API_KEY_VARIABLE = "SEXTANT_OANDA_API_KEY"
ENVIRONMENT_VARIABLE = "SEXTANT_OANDA_ENV"
"""``practice`` or ``live``: which host the token belongs to (not a secret)."""
HOSTS = {
    "practice": "https://api-fxpractice.oanda.com",
    "live": "https://api-fxtrade.oanda.com",
}

PROVIDER = ProviderInfo(
    name="oanda",
    base_url=HOSTS["practice"],
    kinds=frozenset({DataKind.BARS}),
    rate_limit=RateLimit(requests=100, per_seconds=1.0),  # per persistent connection
    asset_classes=frozenset({AssetClass.FX}),
    credentials=(API_KEY_VARIABLE,),
    docs_url="https://developer.oanda.com/rest-live-v20/instrument-ep/",
)

MAX_PAGE = 5000
"""OANDA's most candles a request."""
_GRANULARITIES = {
    Interval.S5: "S5",
    Interval.M1: "M1",
    Interval.M5: "M5",
    Interval.H1: "H1",
    Interval.D1: "D",
}
_NEW_YORK = ZoneInfo("America/New_York")
_ROLL_HOUR = 17
"""The FX day rolls at 17:00 New York; daily candles start then."""
_PAIR = re.compile(r"^[A-Z]{6}$")


def base_url(environment: str | None) -> str:
    """The host for ``SEXTANT_OANDA_ENV`` (``practice`` when unset)."""
    try:
        return HOSTS[(environment or "practice").strip().lower()]
    except KeyError:
        raise ValueError(
            f"{ENVIRONMENT_VARIABLE} must be 'practice' or 'live', got {environment!r}"
        ) from None


class OandaCandlesQuery(BaseModel):
    """Midpoint candles of one currency pair over ``[start, end)``."""

    model_config = ConfigDict(frozen=True)

    instrument_id: str = Field(pattern=_PAIR.pattern, description="six letters, e.g. EURUSD")
    interval: Interval
    start: UtcBound
    end: UtcEndBound
    page_size: int = Field(MAX_PAGE, ge=1, le=MAX_PAGE)

    @model_validator(mode="after")
    def _check(self) -> OandaCandlesQuery:
        if self.end <= self.start:
            raise ValueError(f"end ({self.end}) must be after start ({self.start})")
        if self.interval not in _GRANULARITIES:
            raise ValueError(f"interval {self.interval.value!r}: OANDA has no 1-second candles")
        return self

    @property
    def instrument(self) -> str:
        """OANDA's name of the pair, e.g. ``EUR_USD``."""
        return f"{self.instrument_id[:3]}_{self.instrument_id[3:]}"


@dataclass(frozen=True)
class OandaPages:
    """The candle responses of every window and when the last one arrived (knowledge time)."""

    pages: list[Any]
    fetched_at: datetime


class OandaCandlesFetcher(KeyedFetcher[OandaCandlesQuery, Bar]):
    """Midpoint candles (``/v3/instruments/{instrument}/candles``), every window.

    Built as ``OandaCandlesFetcher(credentials=None, *, clock=utc_now)``; ``params`` are
    validated by :class:`OandaCandlesQuery`.
    """

    provider = PROVIDER
    kind = DataKind.BARS
    dataset = "candles"
    query_model = OandaCandlesQuery
    api_key_variable = API_KEY_VARIABLE

    async def aextract_data(self, query: OandaCandlesQuery, http: ProviderHttp) -> OandaPages:
        """The candles of every window of ``query``; NoData when none holds a candle."""
        headers = {
            "Authorization": f"Bearer {self._api_key()}",
            "Accept-Datetime-Format": "RFC3339",
        }
        params: dict[str, str] = {"price": "M", "granularity": _GRANULARITIES[query.interval]}
        first = query.start.astimezone(UTC)
        if query.interval is Interval.D1:
            first -= timedelta(days=1)  # the day labelled `start` opens at 17:00 NY the day before
            params |= {"dailyAlignment": str(_ROLL_HOUR), "alignmentTimezone": "America/New_York"}
        last = min(query.end.astimezone(UTC), self._clock())
        step = query.interval.duration * query.page_size
        pages: list[Any] = []
        while first < last:
            to = min(first + step, last)
            window = {"from": _rfc3339(first), "to": _rfc3339(to)}
            page = await http.get_json(
                f"/v3/instruments/{query.instrument}/candles",
                params=params | window,
                headers=headers,
            )
            _candles(page)
            pages.append(page)
            first = to
        if not any(_candles(p) for p in pages):
            raise NoData(
                PROVIDER.name,
                f"no {query.interval.value} candles for {query.instrument} "
                f"in [{query.start.isoformat()}, {query.end.isoformat()})",
            )
        return OandaPages(pages, self._clock())

    def transform_data(self, query: OandaCandlesQuery, raw: OandaPages) -> Transformed[Bar]:
        """Bars of the complete candles, once each, in time order; bad candles become Rejects."""
        bars: dict[datetime, Bar] = {}
        rejects: list[Reject] = []
        for page in raw.pages:
            for candle in _candles(page):
                item = self._bar(query, candle, raw.fetched_at)
                if isinstance(item, Reject):
                    rejects.append(item)
                elif item is not None:
                    bars.setdefault(item.ts_event, item)
        return Transformed([bars[t] for t in sorted(bars)], rejects)

    def _bar(
        self, query: OandaCandlesQuery, candle: Any, fetched_at: datetime
    ) -> Bar | Reject | None:
        if not isinstance(candle, dict):
            return Reject(f"candle is {type(candle).__name__}, not an object", candle)
        if candle.get("complete") is not True:
            return None  # the candle still moving
        try:
            start = datetime.fromisoformat(candle["time"])
        except (KeyError, TypeError, ValueError):
            return Reject(f"missing or unreadable 'time': {candle.get('time')!r}", candle)
        ts_event = start.astimezone(UTC)
        if query.interval is Interval.D1:
            local = start.astimezone(_NEW_YORK)
            if (local.hour, local.minute) != (_ROLL_HOUR, 0):
                return Reject(f"daily candle starts at {local.time()} New York, not 17:00", candle)
            trading_day = (local + timedelta(hours=24 - _ROLL_HOUR)).date()
            ts_event = datetime.combine(trading_day, time(), UTC)
        if not query.start <= ts_event < query.end:
            return None
        if ts_event + query.interval.duration > fetched_at:
            return None
        mid = candle.get("mid")
        if not isinstance(mid, dict):
            return Reject("missing midpoint prices 'mid'", candle)
        return bar_or_reject(
            candle,
            instrument_id=query.instrument_id,
            asset_class=AssetClass.FX,
            interval=query.interval,
            ts_event=ts_event,
            ohlcv=(mid.get("o"), mid.get("h"), mid.get("l"), mid.get("c"), candle.get("volume")),
            source=PROVIDER.name,
            ts_known=fetched_at,
        )


def _candles(page: Any) -> list[Any]:
    """The ``candles`` of a response whose envelope is sound, else MalformedResponse."""
    if not isinstance(page, dict):
        raise MalformedResponse(PROVIDER.name, f"expected an object, got {type(page).__name__}")
    candles = page.get("candles")
    if not isinstance(candles, list):
        detail = page.get("errorMessage") or f"'candles' is {type(candles).__name__}"
        raise MalformedResponse(PROVIDER.name, f"no candle list: {str(detail)[:120]}")
    return candles


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


FETCHERS: tuple[type[Fetcher[Any, Any]], ...] = (OandaCandlesFetcher,)
