"""OANDA v20 candles replayed from wire-format fixtures (tests/resources/oanda/)."""

from __future__ import annotations

from typing import Any

import pytest
import respx

from sextant_common.events import AssetClass, Interval
from sextant_ingest.providers import oanda
from sextant_ingest.providers.errors import (
    MalformedResponse,
    NoData,
    ProviderUnavailable,
    RateLimited,
    Unauthorized,
)
from sextant_ingest.providers.oanda import OandaCandlesFetcher
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

BASE = oanda.PROVIDER.base_url
URL = f"{BASE}/v3/instruments/EUR_USD/candles"


def fetcher(credentials: dict[str, Any] | None = None) -> OandaCandlesFetcher:
    return keyed_fetcher(OandaCandlesFetcher, oanda.API_KEY_VARIABLE, credentials)


DAYS = {
    "instrument_id": "EURUSD",
    "interval": "1d",
    "start": utc(2024, 1, 2),
    "end": utc(2024, 1, 6),
}
HOURS = {
    "instrument_id": "EURUSD",
    "interval": "1h",
    "start": utc(2024, 1, 2),
    "end": utc(2024, 1, 2, 4),
    "page_size": 2,
}


def test_provider_info_and_hosts() -> None:
    assert oanda.PROVIDER.credentials == ("SEXTANT_OANDA_API_KEY",)
    assert (OandaCandlesFetcher,) == oanda.FETCHERS
    assert oanda.base_url(None) == "https://api-fxpractice.oanda.com" == BASE
    assert oanda.base_url("live") == "https://api-fxtrade.oanda.com"
    assert oanda.base_url(" Practice ") == BASE
    with pytest.raises(ValueError, match="SEXTANT_OANDA_ENV must be 'practice' or 'live'"):
        oanda.base_url("demo")


@respx.mock
async def test_daily_candles_are_labelled_by_trading_day() -> None:
    route = respx.get(URL).mock(return_value=reply("oanda", "candles_eur_usd_d.json"))

    out = await fetch(fetcher(), DAYS, BASE)

    request = route.calls.last.request
    assert request.headers["Authorization"] == f"Bearer {SECRET}"
    assert SECRET not in str(request.url)
    assert dict(request.url.params) == {
        "price": "M",
        "granularity": "D",
        "dailyAlignment": "17",
        "alignmentTimezone": "America/New_York",
        "from": "2024-01-01T00:00:00.000000Z",
        "to": "2024-01-06T00:00:00.000000Z",
    }
    assert_bars(
        out.records,
        instrument_id="EURUSD",
        asset_class=AssetClass.FX,
        interval=Interval.D1,
        source="oanda",
    )
    # The candle opening 2024-01-01 22:00 UTC (17:00 New York) is the trading day of Jan 2.
    assert [b.ts_event for b in out.records] == [utc(2024, 1, d) for d in (2, 3, 4, 5)]
    first = out.records[0]
    assert (first.open, first.high, first.low, first.close) == (1.10384, 1.10452, 1.09396, 1.0941)
    assert first.volume == 95123  # tick volume
    assert out.rejects == []


@respx.mock
async def test_windows_are_paged_and_incomplete_candles_skipped() -> None:
    route = respx.get(URL)
    route.side_effect = [
        reply("oanda", "candles_eur_usd_h1_page1.json"),
        reply("oanda", "candles_eur_usd_h1_page2.json"),
    ]

    out = await fetch(fetcher(), HOURS, BASE)

    windows = [(c.request.url.params["from"], c.request.url.params["to"]) for c in route.calls]
    assert windows == [
        ("2024-01-02T00:00:00.000000Z", "2024-01-02T02:00:00.000000Z"),
        ("2024-01-02T02:00:00.000000Z", "2024-01-02T04:00:00.000000Z"),
    ]
    assert_bars(
        out.records,
        instrument_id="EURUSD",
        asset_class=AssetClass.FX,
        interval=Interval.H1,
        source="oanda",
    )
    assert [b.ts_event.hour for b in out.records] == [0, 1, 2]  # 03:00 is not complete


@respx.mock
async def test_a_candle_two_windows_return_is_kept_once() -> None:
    respx.get(URL).mock(return_value=reply("oanda", "candles_eur_usd_h1_page1.json"))

    out = await fetch(fetcher(), HOURS, BASE)

    assert [b.ts_event.hour for b in out.records] == [0, 1]


@respx.mock
async def test_to_is_never_in_the_future() -> None:
    route = respx.get(URL).mock(return_value=reply("oanda", "candles_eur_usd_h1_page1.json"))
    early = OandaCandlesFetcher(
        {oanda.API_KEY_VARIABLE: SECRET}, clock=lambda: utc(2024, 1, 2, 1, 30)
    )

    out = await fetch(early, {**HOURS, "page_size": 5000}, BASE)

    assert route.call_count == 1
    assert route.calls.last.request.url.params["to"] == "2024-01-02T01:30:00.000000Z"
    assert [b.ts_event.hour for b in out.records] == [0]  # 01:00 ends after "now"


@respx.mock
async def test_bad_candles_are_rejected_and_the_rest_kept() -> None:
    respx.get(URL).mock(return_value=reply("oanda", "candles_eur_usd_d_bad_records.json"))

    out = await fetch(fetcher(), DAYS, BASE)

    assert [b.ts_event.day for b in out.records] == [2, 5]
    assert "high/low do not bound open/close" in out.rejects[0].reason
    assert out.rejects[1].reason.startswith("close:")
    assert out.rejects[1].raw["time"] == "2024-01-03T22:00:00.000000000Z"


@respx.mock
async def test_empty_answer_raises_no_data() -> None:
    respx.get(URL).mock(return_value=reply("oanda", "candles_empty.json"))
    with pytest.raises(NoData, match="no 1h candles for EUR_USD"):
        await fetch(fetcher(), HOURS, BASE)


@pytest.mark.parametrize(
    "failure",
    [
        HttpFailure(401, "error_401.json", Unauthorized),
        HttpFailure(403, "error_401.json", Unauthorized),
        HttpFailure(429, "error_429.json", RateLimited, retry_after="1"),
        HttpFailure(500, "error_500.json", ProviderUnavailable),
        HttpFailure(400, "error_400_instrument.json", MalformedResponse),
        HttpFailure(200, "malformed_not_json.html", MalformedResponse),
        HttpFailure(200, "malformed_missing_candles.json", MalformedResponse),
    ],
    ids=str,
)
@respx.mock
async def test_http_failures_raise_typed_errors(failure: HttpFailure) -> None:
    await failure.check(fetcher(), DAYS, BASE, URL)


async def test_missing_key_raises_before_any_request(respx_mock: respx.MockRouter) -> None:
    await assert_missing_key(fetcher({}), DAYS, BASE, "SEXTANT_OANDA_API_KEY", respx_mock)


def test_bad_queries_name_the_field() -> None:
    with pytest.raises(ValueError, match="instrument_id"):
        fetcher().transform_query({**DAYS, "instrument_id": "EUR_USD"})
    with pytest.raises(ValueError, match="no 1-second candles"):
        fetcher().transform_query({**DAYS, "interval": "1s"})
    with pytest.raises(ValueError, match="page_size"):
        fetcher().transform_query({**DAYS, "page_size": 5001})


def test_secret_never_in_reprs() -> None:
    assert_fetcher_hides_secret(fetcher(), DAYS)
