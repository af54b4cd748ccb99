"""Coinbase Exchange candles replayed from wire-format fixtures (tests/resources/coinbase/).

The fixtures are Coinbase's format (``[[time, low, high, open, close, volume], ...]``, newest
first, at most 300 a response); their values are generated, since tests run offline.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
import respx

from sextant_common.events import AssetClass, Interval
from sextant_ingest.providers import coinbase
from sextant_ingest.providers.coinbase import CoinbaseCandlesFetcher
from sextant_ingest.providers.errors import (
    MalformedResponse,
    NoData,
    NotFound,
    ProviderUnavailable,
    RateLimited,
)
from sextant_ingest.providers.http import ProviderHttp
from tests.ingest.provider_fixtures import (
    FETCHED_AT,
    HttpFailure,
    assert_bars,
    fetch,
    fixed_clock,
    fixture_json,
    reply,
    utc,
)
from tests.ingest.window_replies import COINBASE_PAGES, coinbase_page

BASE = coinbase.PROVIDER.base_url
URL = f"{BASE}/products/BTC-USD/candles"
HISTORY = {
    "instrument_id": "BTC-USD",
    "interval": "1d",
    "start": utc(2015, 1, 1),  # before the listing (2015-07-20): the whole history
    "end": utc(2017, 1, 1),
}
WEEK = {**HISTORY, "start": utc(2024, 1, 1), "end": utc(2024, 1, 8)}
BAD = "candles_btc_usd_1d_bad_records.json"


def fetcher() -> CoinbaseCandlesFetcher:
    return CoinbaseCandlesFetcher(clock=fixed_clock)


def test_provider_info() -> None:
    assert coinbase.PROVIDER.credentials == ()  # public market data
    assert (CoinbaseCandlesFetcher,) == coinbase.FETCHERS
    assert coinbase.PROVIDER.asset_classes == frozenset({AssetClass.CRYPTO})


@respx.mock
async def test_the_whole_history_is_paged_in_windows_of_300_candles_with_real_volumes() -> None:
    route = respx.get(URL).mock(side_effect=coinbase_page)

    out = await fetch(fetcher(), HISTORY, BASE)

    asked = [dict(call.request.url.params) for call in route.calls]
    assert asked == [
        {"granularity": "86400", "start": "2015-01-01T00:00:00Z", "end": "2015-10-27T00:00:00Z"},
        {"granularity": "86400", "start": "2015-10-28T00:00:00Z", "end": "2016-08-22T00:00:00Z"},
        {"granularity": "86400", "start": "2016-08-23T00:00:00Z", "end": "2016-12-31T23:59:59Z"},
    ]
    assert_bars(
        out.records,
        instrument_id="BTC-USD",
        asset_class=AssetClass.CRYPTO,
        interval=Interval.D1,
        source="coinbase",
    )
    days = [b.ts_event for b in out.records]
    assert days[0] == utc(2015, 7, 20) and days[-1] == utc(2016, 12, 31)
    assert days == [utc(2015, 7, 20) + timedelta(days=i) for i in range(len(days))]  # no gap
    rows = [row for name in COINBASE_PAGES.values() for row in fixture_json("coinbase", name)]
    by_time = {row[0]: row for row in rows}
    assert len(out.records) == len(by_time) == 100 + 300 + 131
    for bar in out.records:  # [time, low, high, open, close, volume], volume in bitcoins
        _, low, high, open_, close, volume = by_time[int(bar.ts_event.timestamp())]
        assert (bar.open, bar.high, bar.low, bar.close) == (open_, high, low, close)
        assert bar.volume == volume > 0
    assert out.rejects == []


@respx.mock
async def test_bad_candles_are_rejected_with_a_reason_and_the_rest_kept() -> None:
    respx.get(URL).mock(return_value=reply("coinbase", BAD))

    out = await fetch(fetcher(), WEEK, BASE)

    assert [b.ts_event.day for b in out.records] == [1, 3, 5, 7]
    reasons = [r.reason for r in out.rejects]
    assert reasons[:2] == [
        "time 1704502800 is not on the 86400 s grid",
        "null or non-numeric field",
    ]
    assert reasons[2].startswith("bar: Value error, high/low do not bound open/close")
    assert len(reasons) == 3 and all(r.raw in fixture_json("coinbase", BAD) for r in out.rejects)
    assert all(b.volume > 0 for b in out.records)


async def test_the_unfinished_bucket_and_the_future_are_never_served() -> None:
    query = fetcher().transform_query(
        {**HISTORY, "start": FETCHED_AT - timedelta(days=2), "end": utc(2030, 1, 1)}
    )
    with respx.mock:
        route = respx.get(URL).mock(
            return_value=httpx.Response(
                200,
                json=[
                    [int((FETCHED_AT - timedelta(hours=12)).timestamp()), 1, 3, 2, 2, 5.0],
                    [int((FETCHED_AT - timedelta(days=1, hours=12)).timestamp()), 1, 3, 2, 2, 5.0],
                ],
            )
        )
        async with httpx.AsyncClient() as client:
            http = ProviderHttp("coinbase", client, BASE)
            raw = await fetcher().aextract_data(query, http)
    (asked,) = route.calls
    assert asked.request.url.params["end"] == "2025-06-30T11:59:59Z"  # now, not 2017
    bars = fetcher().transform_data(query, raw).records
    assert [b.ts_event for b in bars] == [utc(2025, 6, 29)]  # Jun 30 is still forming


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"interval": "1s"}, "interval"),
        ({"interval": "1m", "start": utc(2015, 1, 1), "end": utc(2025, 1, 1)}, "start"),
        ({"asset_class": "equity"}, "asset_class"),
        ({"instrument_id": "BTCUSD"}, "instrument_id"),
    ],
)
def test_queries_coinbase_cannot_answer_are_refused_naming_the_field(
    params: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValueError, match=field):
        fetcher().transform_query({**HISTORY, **params})


def test_ids_are_coinbase_product_ids_with_a_real_quote_currency() -> None:
    for sextant_id in ("BTC-USD", "ETH-USD", "SOL-EUR", "ETH-BTC", "USDT-USD"):
        assert fetcher().transform_query({**WEEK, "instrument_id": sextant_id})
    granularities = {i: coinbase.GRANULARITY_S[Interval(i)] for i in ("1m", "5m", "1h", "1d")}
    assert granularities == {"1m": 60, "5m": 300, "1h": 3600, "1d": 86400}


@respx.mock
async def test_a_range_without_candles_raises_no_data() -> None:
    respx.get(URL).mock(return_value=reply("coinbase", "candles_empty.json"))
    with pytest.raises(NoData, match="no 1d candles for BTC-USD"):
        await fetch(fetcher(), WEEK, BASE)


@pytest.mark.parametrize(
    "failure",
    [
        HttpFailure(404, "error_404.json", NotFound, message="NotFound"),
        HttpFailure(429, "error_429.json", RateLimited, retry_after="1"),
        HttpFailure(400, "error_400.json", MalformedResponse, message="exceeds 300"),
        HttpFailure(503, "error_503.html", ProviderUnavailable),
        HttpFailure(200, "malformed_object.json", MalformedResponse, message="Internal server"),
    ],
    ids=str,
)
@respx.mock
async def test_http_failures_raise_typed_errors(failure: HttpFailure) -> None:
    await failure.check(fetcher(), WEEK, BASE, URL)
