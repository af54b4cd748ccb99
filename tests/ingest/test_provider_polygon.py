"""Polygon aggregates replayed from wire-format fixtures (tests/resources/polygon/)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest
import respx

from sextant_common.events import AssetClass, Interval
from sextant_ingest.providers import polygon
from sextant_ingest.providers.errors import (
    MalformedResponse,
    NoData,
    ProviderUnavailable,
    RateLimited,
    Unauthorized,
)
from sextant_ingest.providers.polygon import PolygonAggregatesFetcher
from tests.ingest.provider_fixtures import (
    SECRET,
    HttpFailure,
    assert_bars,
    assert_fetcher_hides_secret,
    assert_missing_key,
    fetch,
    keyed_fetcher,
    reply,
    utc,
)

BASE = polygon.PROVIDER.base_url
DAY_URL = f"{BASE}/v2/aggs/ticker/AAPL/range/1/day/2024-01-02/2024-01-05"


def fetcher(credentials: dict[str, Any] | None = None) -> PolygonAggregatesFetcher:
    return keyed_fetcher(PolygonAggregatesFetcher, polygon.API_KEY_VARIABLE, credentials)


AAPL_DAYS = {
    "instrument_id": "AAPL",
    "interval": "1d",
    "start": utc(2024, 1, 2),
    "end": utc(2024, 1, 6),
}


def test_provider_info() -> None:
    assert polygon.PROVIDER.credentials == ("SEXTANT_POLYGON_API_KEY",)
    assert polygon.PROVIDER.rate_limit.requests == 5
    assert polygon.PROVIDER.rate_limit.per_seconds == 60
    assert polygon.FETCHERS[0] is PolygonAggregatesFetcher
    assert PolygonAggregatesFetcher.dataset == "aggregates"


@respx.mock
async def test_daily_bars_are_normalized_to_midnight_utc() -> None:
    route = respx.get(DAY_URL).mock(return_value=reply("polygon", "aggs_aapl_day.json"))

    out = await fetch(fetcher(), AAPL_DAYS, BASE)

    request = route.calls.last.request
    assert request.headers["Authorization"] == f"Bearer {SECRET}"
    assert SECRET not in str(request.url)
    assert dict(request.url.params) == {"adjusted": "true", "sort": "asc", "limit": "50000"}
    assert_bars(
        out.records,
        instrument_id="AAPL",
        asset_class=AssetClass.EQUITY,
        interval=Interval.D1,
        source="polygon",
    )
    assert [b.ts_event for b in out.records] == [utc(2024, 1, d) for d in (2, 3, 4, 5)]
    first = out.records[0]
    assert (first.open, first.high, first.low, first.close) == (187.15, 188.44, 183.885, 185.64)
    assert first.volume == 82488674
    assert out.rejects == []


@respx.mock
async def test_pagination_follows_next_url_on_the_configured_host() -> None:
    first = respx.get(
        f"{BASE}/v2/aggs/ticker/AAPL/range/1/minute/1704205800000/1704207599999"
    ).mock(return_value=reply("polygon", "aggs_aapl_minute_page1.json"))
    second = respx.get(
        f"{BASE}/v2/aggs/ticker/AAPL/range/1/minute/1704205920000/1704207599999",
        params={"cursor": "bGltaXQ9MyZzb3J0PWFzYw"},
    ).mock(return_value=reply("polygon", "aggs_aapl_minute_page2.json"))
    params = {
        "instrument_id": "AAPL",
        "interval": Interval.M1,
        "start": utc(2024, 1, 2, 14, 30),
        "end": utc(2024, 1, 2, 15),
    }

    out = await fetch(fetcher(), params, BASE)

    assert first.call_count == 1 and second.call_count == 1
    assert second.calls.last.request.headers["Authorization"] == f"Bearer {SECRET}"
    assert_bars(
        out.records,
        instrument_id="AAPL",
        asset_class=AssetClass.EQUITY,
        interval=Interval.M1,
        source="polygon",
    )
    assert [b.ts_event.minute for b in out.records] == [30, 31, 32, 33, 34]


@pytest.mark.parametrize(
    ("instrument_id", "ticker", "interval", "timespan", "window", "fixture", "asset_class"),
    [
        (
            "EURUSD",
            "C:EURUSD",
            Interval.H1,
            "1/hour",
            "1704153600000/1704164399999",
            "aggs_eurusd_hour.json",
            AssetClass.FX,
        ),
        (
            "BTC-USD",
            "X:BTCUSD",
            Interval.D1,
            "1/day",
            "2024-01-01/2024-01-02",
            "aggs_btcusd_day.json",
            AssetClass.CRYPTO,
        ),
        (
            "SPY251219C00650000",
            "O:SPY251219C00650000",
            Interval.D1,
            "1/day",
            "2025-06-02/2025-06-02",
            "aggs_spy_option_day.json",
            AssetClass.OPTION,
        ),
    ],
)
@respx.mock
async def test_fx_crypto_and_option_tickers(
    instrument_id: str,
    ticker: str,
    interval: Interval,
    timespan: str,
    window: str,
    fixture: str,
    asset_class: AssetClass,
) -> None:
    respx.get(f"{BASE}/v2/aggs/ticker/{ticker}/range/{timespan}/{window}").mock(
        return_value=reply("polygon", fixture)
    )
    start, end = {
        "C:EURUSD": (utc(2024, 1, 2), utc(2024, 1, 2, 3)),
        "X:BTCUSD": (utc(2024, 1, 1), utc(2024, 1, 3)),
        "O:SPY251219C00650000": (utc(2025, 6, 2), utc(2025, 6, 3)),
    }[ticker]
    params = {"instrument_id": instrument_id, "interval": interval, "start": start, "end": end}

    out = await fetch(fetcher(), params, BASE)

    assert_bars(
        out.records,
        instrument_id=instrument_id,
        asset_class=asset_class,
        interval=interval,
        source="polygon",
    )
    assert polygon.from_polygon_ticker(ticker) == (instrument_id, asset_class)


def test_ticker_mapping_round_trips() -> None:
    for instrument_id, asset_class, ticker in [
        ("AAPL", AssetClass.EQUITY, "AAPL"),
        ("SPX", AssetClass.INDEX, "I:SPX"),
        ("EURUSD", AssetClass.FX, "C:EURUSD"),
        ("BTC-USD", AssetClass.CRYPTO, "X:BTCUSD"),
        ("ETH-USDT", AssetClass.CRYPTO, "X:ETHUSDT"),
        ("SPY251219C00650000", AssetClass.OPTION, "O:SPY251219C00650000"),
    ]:
        assert polygon.to_polygon_ticker(instrument_id, asset_class) == ticker
        assert polygon.from_polygon_ticker(ticker) == (instrument_id, asset_class)
    assert polygon.infer_asset_class("GOOGL") is AssetClass.EQUITY
    assert polygon.infer_asset_class("USDJPY") is AssetClass.FX
    with pytest.raises(ValueError, match="not a Sextant fx id"):
        polygon.to_polygon_ticker("EUR/USD", AssetClass.FX)


@respx.mock
async def test_a_bad_record_is_rejected_and_the_rest_kept() -> None:
    respx.get(DAY_URL).mock(return_value=reply("polygon", "aggs_aapl_day_bad_records.json"))

    out = await fetch(fetcher(), AAPL_DAYS, BASE)

    assert [b.ts_event.day for b in out.records] == [2, 5]
    reasons = [r.reason for r in out.rejects]
    assert len(reasons) == 2
    assert "high/low do not bound open/close" in reasons[0]
    assert reasons[1].startswith("close:")
    assert out.rejects[1].raw["c"] is None


@respx.mock
async def test_bars_outside_the_range_or_unfinished_are_dropped() -> None:
    params = {**AAPL_DAYS, "start": utc(2024, 1, 3)}
    late = PolygonAggregatesFetcher(
        {polygon.API_KEY_VARIABLE: SECRET}, clock=lambda: utc(2024, 1, 5, 22)
    )
    respx.get(f"{BASE}/v2/aggs/ticker/AAPL/range/1/day/2024-01-03/2024-01-05").mock(
        return_value=reply("polygon", "aggs_aapl_day.json")
    )

    out = await fetch(late, params, BASE)

    # Jan 2 is before start; Jan 5 had not ended (00:00 UTC Jan 6) when fetched.
    assert [b.ts_event.day for b in out.records] == [3, 4]


@respx.mock
async def test_empty_result_raises_no_data() -> None:
    respx.get(DAY_URL).mock(return_value=reply("polygon", "aggs_empty.json"))
    with pytest.raises(NoData, match="no 1d bars for AAPL"):
        await fetch(fetcher(), AAPL_DAYS, BASE)


@pytest.mark.parametrize(
    "failure",
    [
        HttpFailure(401, "error_401.json", Unauthorized),
        HttpFailure(403, "error_403.json", Unauthorized),
        HttpFailure(429, "error_429.json", RateLimited, retry_after="12"),
        HttpFailure(502, "error_502.html", ProviderUnavailable),
        HttpFailure(200, "malformed_not_json.html", MalformedResponse),
        HttpFailure(200, "malformed_missing_status.json", MalformedResponse),
    ],
    ids=str,
)
@respx.mock
async def test_http_failures_raise_typed_errors(failure: HttpFailure) -> None:
    await failure.check(fetcher(), AAPL_DAYS, BASE, DAY_URL)


@respx.mock
async def test_a_next_url_that_does_not_advance_is_malformed() -> None:
    looping = httpx.Response(
        200,
        json={
            "status": "OK",
            "results": [],
            "next_url": f"{BASE}/v2/aggs/ticker/AAPL/range/1/day/x/y?cursor=same",
        },
    )
    respx.get(DAY_URL).mock(return_value=looping)
    respx.get(f"{BASE}/v2/aggs/ticker/AAPL/range/1/day/x/y").mock(return_value=looping)
    with pytest.raises(MalformedResponse, match="does not advance"):
        await fetch(fetcher(), AAPL_DAYS, BASE)


@pytest.mark.parametrize("credentials", [{}, {polygon.API_KEY_VARIABLE: ""}])
async def test_missing_key_raises_before_any_request(
    respx_mock: respx.MockRouter, credentials: dict[str, str]
) -> None:
    await assert_missing_key(
        fetcher(credentials), AAPL_DAYS, BASE, "SEXTANT_POLYGON_API_KEY", respx_mock
    )


def test_bad_queries_name_the_field() -> None:
    with pytest.raises(ValueError, match="end"):
        fetcher().transform_query({**AAPL_DAYS, "end": utc(2024, 1, 1)})
    with pytest.raises(ValueError, match="interval"):
        fetcher().transform_query({**AAPL_DAYS, "interval": "2h"})
    with pytest.raises(ValueError, match="start"):
        fetcher().transform_query({**AAPL_DAYS, "start": datetime(2024, 1, 2)})
    with pytest.raises(ValueError, match="not a Sextant crypto id"):
        fetcher().transform_query({**AAPL_DAYS, "asset_class": "crypto"})


def test_secret_never_in_reprs() -> None:
    assert_fetcher_hides_secret(fetcher(), AAPL_DAYS)
    assert "SEXTANT_POLYGON_API_KEY" in repr(fetcher())
