"""CoinGecko OHLC replayed from wire-format fixtures (tests/resources/coingecko/)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import respx

from sextant_common.events import AssetClass, Interval
from sextant_ingest.providers import coingecko
from sextant_ingest.providers.coingecko import CoinGeckoOhlcFetcher
from sextant_ingest.providers.errors import (
    MalformedResponse,
    NoData,
    NotFound,
    ProviderUnavailable,
    RateLimited,
    Unauthorized,
)
from tests.ingest.provider_fixtures import (
    FETCHED_AT,
    SECRET,
    HttpFailure,
    assert_bars,
    assert_fetcher_hides_secret,
    fetch,
    fixture_json,
    keyed_fetcher,
    reply,
    utc,
)

BASE = coingecko.PROVIDER.base_url
URL = f"{BASE}/coins/bitcoin/ohlc"


def fetcher(credentials: dict[str, Any] | None = None) -> CoinGeckoOhlcFetcher:
    return keyed_fetcher(CoinGeckoOhlcFetcher, coingecko.API_KEY_VARIABLE, credentials)


DAYS = {
    "instrument_id": "BTC-USD",
    "interval": "1d",
    "start": utc(2025, 6, 27),
    "end": utc(2025, 6, 30),
}
HOURS = {
    "instrument_id": "BTC-USD",
    "interval": "1h",
    "start": utc(2025, 6, 30),
    "end": utc(2025, 6, 30, 12),
}


def test_provider_info() -> None:
    assert coingecko.PROVIDER.credentials == ()  # keyless; the demo key is optional
    assert (CoinGeckoOhlcFetcher,) == coingecko.FETCHERS
    assert CoinGeckoOhlcFetcher.dataset == "ohlc"


@respx.mock
async def test_daily_bars_are_built_from_six_whole_four_hour_candles() -> None:
    route = respx.get(URL).mock(return_value=reply("coingecko", "ohlc_bitcoin_usd_days7.json"))

    out = await fetch(fetcher(), DAYS, BASE)

    request = route.calls.last.request
    assert dict(request.url.params) == {"vs_currency": "usd", "days": "7"}
    assert request.headers[coingecko.API_KEY_HEADER] == SECRET
    assert SECRET not in str(request.url)
    assert_bars(
        out.records,
        instrument_id="BTC-USD",
        asset_class=AssetClass.CRYPTO,
        interval=Interval.D1,
        source="coingecko",
    )
    # Jun 27 and Jun 30 have only some of their candles in the window: dropped, not guessed.
    assert [b.ts_event for b in out.records] == [utc(2025, 6, 28), utc(2025, 6, 29)]
    candles = fixture_json("coingecko", "ohlc_bitcoin_usd_days7.json")[2:8]  # Jun 28's six
    day = out.records[0]
    assert day.open == candles[0][1] and day.close == candles[-1][4]
    assert day.high == max(c[2] for c in candles) and day.low == min(c[3] for c in candles)
    assert all(b.volume == 0 for b in out.records)
    assert out.rejects == []


@respx.mock
async def test_hourly_bars_are_built_from_two_half_hour_candles() -> None:
    route = respx.get(URL).mock(return_value=reply("coingecko", "ohlc_bitcoin_usd_days1.json"))

    out = await fetch(fetcher(), HOURS, BASE)

    assert route.calls.last.request.url.params["days"] == "1"
    assert_bars(
        out.records,
        instrument_id="BTC-USD",
        asset_class=AssetClass.CRYPTO,
        interval=Interval.H1,
        source="coingecko",
    )
    assert [b.ts_event.hour for b in out.records] == list(range(12))


@respx.mock
async def test_keyless_requests_send_no_key_header() -> None:
    route = respx.get(URL).mock(return_value=reply("coingecko", "ohlc_bitcoin_usd_days7.json"))

    out = await fetch(fetcher({}), DAYS, BASE)

    assert coingecko.API_KEY_HEADER not in route.calls.last.request.headers
    assert len(out.records) == 2


@respx.mock
async def test_a_bucket_with_a_bad_candle_is_rejected_and_the_rest_kept() -> None:
    respx.get(URL).mock(return_value=reply("coingecko", "ohlc_bitcoin_usd_days7_bad_record.json"))

    out = await fetch(fetcher(), DAYS, BASE)

    assert [b.ts_event.day for b in out.records] == [27, 29]
    (reject,) = out.rejects
    assert reject.reason.startswith("null or non-numeric price in the candle closing")
    assert reject.raw[4] is None


@pytest.mark.parametrize(
    ("days_ago", "interval", "days"),
    [(0.5, "1h", 1), (1, "1h", 1), (3, "1d", 7), (10, "1d", 14), (29.5, "1d", 30)],
)
def test_days_is_the_smallest_lookback_with_usable_candles(
    days_ago: float, interval: str, days: int
) -> None:
    start = FETCHED_AT - timedelta(days=days_ago)
    params = {**DAYS, "interval": interval, "start": start, "end": FETCHED_AT}
    assert fetcher().transform_query(params).days == days


def test_intervals_and_ranges_the_free_candles_cannot_give_are_refused() -> None:
    with pytest.raises(ValueError, match="make only 1h and 1d bars"):
        fetcher().transform_query({**DAYS, "interval": "5m"})
    with pytest.raises(ValueError, match="more than 30 days ago"):
        fetcher().transform_query({**DAYS, "start": FETCHED_AT - timedelta(days=31)})
    with pytest.raises(ValueError, match="more than 1 day ago"):
        fetcher().transform_query({**HOURS, "start": FETCHED_AT - timedelta(days=2)})


def test_coin_ids() -> None:
    query = fetcher().transform_query({**DAYS, "instrument_id": "ETH-EUR"})
    assert (query.coin, query.vs_currency) == ("ethereum", "eur")
    with pytest.raises(ValueError, match="unknown coin, pass coin_id"):
        fetcher().transform_query({**DAYS, "instrument_id": "PEPE-USD"})
    query = fetcher().transform_query({**DAYS, "instrument_id": "PEPE-USD", "coin_id": "pepe"})
    assert query.coin == "pepe"
    for sextant_id in ("BTC-USD", "ETH-USD", "SOL-USD", "XRP-USD", "DOGE-USD"):
        assert fetcher().transform_query({**DAYS, "instrument_id": sextant_id})


@respx.mock
async def test_empty_answer_raises_no_data() -> None:
    respx.get(URL).mock(return_value=reply("coingecko", "ohlc_empty.json"))
    with pytest.raises(NoData, match="no OHLC candles for bitcoin/usd"):
        await fetch(fetcher(), DAYS, BASE)


@pytest.mark.parametrize(
    "failure",
    [
        HttpFailure(401, "error_401.json", Unauthorized),
        HttpFailure(404, "error_404.json", NotFound),
        HttpFailure(429, "error_429.json", RateLimited, retry_after="60"),
        HttpFailure(503, "error_503.html", ProviderUnavailable),
        HttpFailure(200, "malformed_not_json.html", MalformedResponse),
        HttpFailure(200, "malformed_object.json", MalformedResponse),
    ],
    ids=str,
)
@respx.mock
async def test_http_failures_raise_typed_errors(failure: HttpFailure) -> None:
    await failure.check(fetcher(), DAYS, BASE, URL)


def test_secret_never_in_reprs() -> None:
    assert_fetcher_hides_secret(fetcher(), DAYS)
