"""Tiingo end-of-day and IEX prices replayed from wire-format fixtures (tests/resources/tiingo/)."""

from __future__ import annotations

from typing import Any

import pytest
import respx

from sextant_common.events import AssetClass, Interval
from sextant_ingest.providers import tiingo
from sextant_ingest.providers.errors import (
    MalformedResponse,
    NoData,
    NotFound,
    ProviderUnavailable,
    RateLimited,
    Unauthorized,
)
from sextant_ingest.providers.tiingo import TiingoDailyFetcher, TiingoIexFetcher
from tests.ingest.provider_fixtures import (
    SECRET,
    HttpFailure,
    assert_bars,
    assert_fetcher_hides_secret,
    assert_missing_key,
    fetch,
    fixture_json,
    keyed_fetcher,
    reply,
    utc,
)

BASE = tiingo.PROVIDER.base_url
DAILY_URL = f"{BASE}/tiingo/daily/AAPL/prices"
IEX_URL = f"{BASE}/iex/AAPL/prices"


def daily(credentials: dict[str, Any] | None = None) -> TiingoDailyFetcher:
    return keyed_fetcher(TiingoDailyFetcher, tiingo.API_KEY_VARIABLE, credentials)


def iex() -> TiingoIexFetcher:
    return keyed_fetcher(TiingoIexFetcher, tiingo.API_KEY_VARIABLE)


DAYS = {"instrument_id": "AAPL", "interval": "1d", "start": utc(2024, 1, 2), "end": utc(2024, 1, 6)}
MINUTES = {
    "instrument_id": "AAPL",
    "interval": "5m",
    "start": utc(2024, 1, 2, 14, 30),
    "end": utc(2024, 1, 2, 21),
}


def test_provider_info() -> None:
    assert tiingo.PROVIDER.credentials == ("SEXTANT_TIINGO_API_KEY",)
    assert (tiingo.PROVIDER.rate_limit.requests, tiingo.PROVIDER.rate_limit.per_seconds) == (
        50,
        3600,
    )
    assert (TiingoDailyFetcher, TiingoIexFetcher) == tiingo.FETCHERS
    assert [f.dataset for f in tiingo.FETCHERS] == ["eod_prices", "iex_prices"]


@respx.mock
async def test_daily_prices_are_adjusted_by_default() -> None:
    route = respx.get(DAILY_URL).mock(return_value=reply("tiingo", "daily_aapl.json"))

    out = await fetch(daily(), DAYS, BASE)

    request = route.calls.last.request
    assert request.headers["Authorization"] == f"Token {SECRET}"
    assert SECRET not in str(request.url)
    assert dict(request.url.params) == {"startDate": "2024-01-02", "endDate": "2024-01-05"}
    assert_bars(
        out.records,
        instrument_id="AAPL",
        asset_class=AssetClass.EQUITY,
        interval=Interval.D1,
        source="tiingo",
    )
    assert [b.ts_event for b in out.records] == [utc(2024, 1, d) for d in (2, 3, 4, 5)]
    row = fixture_json("tiingo", "daily_aapl.json")[0]
    assert out.records[0].close == row["adjClose"] != row["close"]
    assert out.rejects == []


@respx.mock
async def test_daily_raw_prices_and_share_class_tickers() -> None:
    respx.get(f"{BASE}/tiingo/daily/BRK-B/prices").mock(
        return_value=reply("tiingo", "daily_aapl.json")
    )
    params = {**DAYS, "instrument_id": "BRK.B", "adjusted": False}

    out = await fetch(daily(), params, BASE)

    assert {b.instrument_id for b in out.records} == {"BRK.B"}
    assert out.records[0].close == 185.64  # the raw close


@respx.mock
async def test_iex_intraday_bars() -> None:
    route = respx.get(IEX_URL).mock(return_value=reply("tiingo", "iex_aapl_5min.json"))

    out = await fetch(iex(), MINUTES, BASE)

    assert dict(route.calls.last.request.url.params) == {
        "startDate": "2024-01-02",
        "endDate": "2024-01-02",
        "resampleFreq": "5min",
        "columns": "open,high,low,close,volume",
    }
    assert_bars(
        out.records,
        instrument_id="AAPL",
        asset_class=AssetClass.EQUITY,
        interval=Interval.M5,
        source="tiingo",
    )
    assert [b.ts_event.minute for b in out.records] == [30, 35, 40, 45]
    assert out.records[0].volume == 52190


@respx.mock
async def test_bad_records_are_rejected_and_the_rest_kept() -> None:
    respx.get(DAILY_URL).mock(return_value=reply("tiingo", "daily_aapl_bad_records.json"))
    respx.get(IEX_URL).mock(return_value=reply("tiingo", "iex_aapl_5min_bad_records.json"))

    days = await fetch(daily(), DAYS, BASE)
    minutes = await fetch(iex(), MINUTES, BASE)

    assert [b.ts_event.day for b in days.records] == [2, 5]
    assert [r.reason.split(" (")[0] for r in days.rejects] == [
        "bar: Value error, high/low do not bound open/close",
        "close: Input should be a valid number",
    ]
    assert [b.ts_event.minute for b in minutes.records] == [30]
    reasons = [r.reason for r in minutes.rejects]
    assert "high/low do not bound" in reasons[0]
    assert reasons[1] == "'date' 2024-01-02T14:42:00.000Z is not on the 5m grid"
    assert reasons[2].startswith("close:")


@respx.mock
async def test_empty_answer_raises_no_data() -> None:
    respx.get(DAILY_URL).mock(return_value=reply("tiingo", "daily_empty.json"))
    with pytest.raises(NoData, match="no 1d bars for AAPL"):
        await fetch(daily(), DAYS, BASE)


@pytest.mark.parametrize(
    "failure",
    [
        HttpFailure(401, "error_401.json", Unauthorized),
        HttpFailure(404, "error_404.json", NotFound),
        HttpFailure(429, "error_429.json", RateLimited, retry_after="3600"),
        HttpFailure(503, "error_503.html", ProviderUnavailable),
        HttpFailure(200, "malformed_not_json.html", MalformedResponse),
        HttpFailure(
            200,
            "malformed_detail_object.json",
            MalformedResponse,
            message="startDate must be before endDate",
        ),
    ],
    ids=str,
)
@respx.mock
async def test_http_failures_raise_typed_errors(failure: HttpFailure) -> None:
    await failure.check(daily(), DAYS, BASE, DAILY_URL)


async def test_missing_key_raises_before_any_request(respx_mock: respx.MockRouter) -> None:
    await assert_missing_key(daily({}), DAYS, BASE, "SEXTANT_TIINGO_API_KEY", respx_mock)


def test_each_dataset_serves_only_its_intervals() -> None:
    with pytest.raises(ValueError, match="'5m' is not served by tiingo eod_prices"):
        daily().transform_query(MINUTES)
    with pytest.raises(ValueError, match="'1d' is not served by tiingo iex_prices"):
        iex().transform_query(DAYS)
    with pytest.raises(ValueError, match="'1s' is not served"):
        iex().transform_query({**MINUTES, "interval": "1s"})
    with pytest.raises(ValueError, match="asset_class must be equity or etf"):
        daily().transform_query({**DAYS, "asset_class": "crypto"})
    assert iex().transform_query({**MINUTES, "interval": "1h"}).interval is Interval.H1


def test_secret_never_in_reprs() -> None:
    assert_fetcher_hides_secret(daily(), DAYS)
