"""A provider module written once, the way a new HTTP bar provider is added: ``PROVIDER`` and
``FETCHERS`` and nothing else. ``test_provider_contract.py`` loads it by module name
(``SEXTANT_FETCH_PROVIDERS=["tests.ingest.contract_provider"]``) and uses it from the unified
fetcher, the ingest worker and the backfill.

``tick`` serves daily bars of US equities at ``GET /v1/daily/{ticker}?from=&to=`` (inclusive
dates, key in the ``X-Tick-Key`` header) as a JSON list of ``{date, o, h, l, c, v}``.
:func:`edge` answers like that API does (it is what respx serves at the network edge).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, model_validator

from sextant_common.events import AssetClass, Bar, Interval
from sextant_common.timeparse import UtcBound, UtcEndBound
from sextant_ingest.providers._common import KeyedFetcher, bar_or_reject, collect, utc_midnight
from sextant_ingest.providers.errors import NoData
from sextant_ingest.providers.fetcher import (
    DataKind,
    Fetcher,
    ProviderInfo,
    RateLimit,
    Transformed,
)
from sextant_ingest.providers.http import ProviderHttp

KEY_VARIABLE = "SEXTANT_TICK_API_KEY"
SECRET = "tick-5ecret-DO-NOT-LEAK"
UNKNOWN = "NOPE"
"""The ticker the API answers 404 for."""

PROVIDER = ProviderInfo(
    name="tick",
    base_url="https://api.tick.test",
    kinds=frozenset({DataKind.BARS}),
    rate_limit=RateLimit(requests=1000, per_seconds=1.0),
    asset_classes=frozenset({AssetClass.EQUITY}),
    credentials=(KEY_VARIABLE,),
)


class TickQuery(BaseModel):
    """Daily bars of one equity over ``[start, end)`` (the bar fetchers' params)."""

    model_config = ConfigDict(frozen=True)

    instrument_id: str
    interval: Interval = Interval.D1
    start: UtcBound
    end: UtcEndBound
    asset_class: AssetClass = AssetClass.EQUITY

    @model_validator(mode="after")
    def _check(self) -> TickQuery:
        if self.interval is not Interval.D1:
            raise ValueError(f"tick serves 1d bars only, not {self.interval.value}")
        return self


class TickDailyBars(KeyedFetcher[TickQuery, Bar]):
    """``GET /v1/daily/{ticker}``: one request per query."""

    provider = PROVIDER
    kind = DataKind.BARS
    dataset = "daily"
    query_model = TickQuery
    api_key_variable = KEY_VARIABLE

    async def aextract_data(self, query: TickQuery, http: ProviderHttp) -> list[Any]:
        last = (query.end - timedelta(microseconds=1)).date()
        rows: list[Any] = await http.get_json(
            f"/v1/daily/{query.instrument_id}",
            params={"from": query.start.date().isoformat(), "to": last.isoformat()},
            headers={"X-Tick-Key": self._api_key()},
        )
        if not rows:
            raise NoData(PROVIDER.name, f"no bars for {query.instrument_id}")
        return rows

    def transform_data(self, query: TickQuery, raw: list[Any]) -> Transformed[Bar]:
        fetched_at = self._clock()
        return collect(
            bar_or_reject(
                row,
                instrument_id=query.instrument_id,
                asset_class=query.asset_class,
                interval=Interval.D1,
                ts_event=utc_midnight(date.fromisoformat(row["date"])),
                ohlcv=(row["o"], row["h"], row["l"], row["c"], row["v"]),
                source=PROVIDER.name,
                ts_known=fetched_at,
            )
            for row in raw
        )


FETCHERS: tuple[type[Fetcher[Any, Any]], ...] = (TickDailyBars,)


# -- the API at the network edge --------------------------------------------------------------


def edge(request: httpx.Request) -> httpx.Response:
    """What the tick API answers: weekday bars of ``[from, to]`` that have ended, 401 without
    the key, 404 for :data:`UNKNOWN`."""
    if request.headers.get("X-Tick-Key") != SECRET:
        return httpx.Response(401, json={"error": "bad key"})
    ticker = request.url.path.rpartition("/")[2]
    if ticker == UNKNOWN:
        return httpx.Response(404, json={"error": f"unknown ticker {ticker}"})
    day = date.fromisoformat(request.url.params["from"])
    last = min(date.fromisoformat(request.url.params["to"]), datetime.now(UTC).date())
    rows = []
    while day <= last:
        if day.weekday() < 5 and day < datetime.now(UTC).date():
            close = 100.0 + len(ticker) + day.day / 10
            row = {"date": day.isoformat(), "o": close, "h": close + 1, "l": close - 1, "c": close}
            rows.append({**row, "v": 1000.0})
        day += timedelta(days=1)
    return httpx.Response(200, json=rows)
