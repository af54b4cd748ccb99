"""Polygon option chain snapshots replayed from wire-format fixtures (tests/resources/polygon/)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import respx

from sextant_common.events import OptionQuote, OptionRight
from sextant_ingest.providers import polygon
from sextant_ingest.providers.errors import MalformedResponse, NoData
from sextant_ingest.providers.fetcher import DataKind
from sextant_ingest.providers.polygon import PolygonOptionChainFetcher
from tests.ingest.provider_fixtures import (
    FETCHED_AT,
    SECRET,
    assert_fetcher_hides_secret,
    assert_missing_key,
    fetch,
    fetch_error,
    keyed_fetcher,
    reply,
)

BASE = polygon.PROVIDER.base_url
CHAIN_URL = f"{BASE}/v3/snapshot/options/SPY"
CURSOR = "YXA9TyUzQVNQWTI1MTIxOUMwMDY1MDAwMCZhcz0mbGltaXQ9MiZzb3J0PXRpY2tlcg"
SPY = {"underlying": "SPY"}


def fetcher(credentials: dict[str, Any] | None = None) -> PolygonOptionChainFetcher:
    return keyed_fetcher(PolygonOptionChainFetcher, polygon.API_KEY_VARIABLE, credentials)


def mock_two_pages() -> tuple[respx.Route, respx.Route]:
    first = respx.get(CHAIN_URL, params={"limit": "250"}).mock(
        return_value=reply("polygon", "options_chain_spy_page1.json")
    )
    second = respx.get(CHAIN_URL, params={"cursor": CURSOR}).mock(
        return_value=reply("polygon", "options_chain_spy_page2.json")
    )
    return first, second


def test_declared_as_an_options_dataset() -> None:
    assert PolygonOptionChainFetcher in polygon.FETCHERS
    assert PolygonOptionChainFetcher.kind is DataKind.OPTIONS
    assert DataKind.OPTIONS in polygon.PROVIDER.kinds


@respx.mock
async def test_every_page_becomes_quotes_and_bad_rows_are_refused() -> None:
    first, second = mock_two_pages()

    out = await fetch(fetcher(), SPY, BASE)

    assert first.call_count == 1 and second.call_count == 1
    for route in (first, second):
        request = route.calls.last.request
        assert request.headers["Authorization"] == f"Bearer {SECRET}"
        assert SECRET not in str(request.url)
    assert [q.contract for q in out.records] == [
        "SPY251219C00650000",
        "SPY251219P00650000",
        "SPY260618C00900000",
    ]
    call = out.records[0]
    assert (call.underlying, call.expiry, call.strike, call.right) == (
        "SPY",
        date(2025, 12, 19),
        650.0,
        OptionRight.CALL,
    )
    assert (call.bid, call.ask, call.last, call.volume) == (18.32, 18.44, 18.3, 1523)
    assert (call.open_interest, call.implied_vol, call.underlying_price) == (48211, 0.1514, 618.11)
    assert (call.style, call.multiplier, call.source) == ("american", 100.0, "polygon")
    assert call.ts_event == call.ts_known == FETCHED_AT
    put = out.records[1]
    assert put.right is OptionRight.PUT and put.last == 18.4  # no trade: the day's close
    for quote in out.records:
        OptionQuote.model_validate_json(quote.model_dump_json())
        assert quote.key == b"SPY"


@respx.mock
async def test_a_contract_without_a_quote_is_kept_with_no_bid_or_ask() -> None:
    mock_two_pages()

    out = await fetch(fetcher(), SPY, BASE)

    unquoted = out.records[2]
    assert (unquoted.bid, unquoted.ask, unquoted.last, unquoted.volume) == (None, None, None, None)
    assert unquoted.implied_vol is None and unquoted.open_interest == 0


@respx.mock
async def test_rows_the_quote_refuses_are_counted_with_their_reason() -> None:
    mock_two_pages()

    out = await fetch(fetcher(), SPY, BASE)

    reasons = [r.reason for r in out.rejects]
    assert len(reasons) == 3
    assert "bid 22.4 is above ask 21.1" in reasons[0]
    assert reasons[1].startswith("strike:")
    assert reasons[2] == "missing 'details'"
    assert all(r.key == "SPY" for r in out.rejects)


@respx.mock
async def test_expiry_filter_and_index_underlyings_use_polygons_names() -> None:
    route = respx.get(
        f"{BASE}/v3/snapshot/options/I:SPX", params={"expiration_date": "2025-12-19"}
    ).mock(return_value=reply("polygon", "options_chain_spy_page2.json"))

    out = await fetch(
        fetcher(), {"underlying": "SPX", "asset_class": "index", "expiry": "2025-12-19"}, BASE
    )

    assert route.call_count == 1
    assert {q.underlying for q in out.records} == {"SPX"}


@respx.mock
async def test_an_empty_chain_is_no_data() -> None:
    respx.get(CHAIN_URL).mock(return_value=reply("polygon", "options_chain_empty.json"))

    error = await fetch_error(fetcher(), SPY, BASE)

    assert isinstance(error, NoData) and "SPY" in str(error)


@respx.mock
async def test_a_bad_envelope_stops_the_paging() -> None:
    respx.get(CHAIN_URL).mock(return_value=reply("polygon", "malformed_missing_status.json"))

    error = await fetch_error(fetcher(), SPY, BASE)

    assert isinstance(error, MalformedResponse)


@pytest.mark.parametrize("credentials", [{}, {polygon.API_KEY_VARIABLE: ""}])
async def test_without_a_key_the_error_names_polygon_api_key(
    respx_mock: respx.MockRouter, credentials: dict[str, str]
) -> None:
    await assert_missing_key(fetcher(credentials), SPY, BASE, "SEXTANT_POLYGON_API_KEY", respx_mock)


def test_bad_queries_name_the_field() -> None:
    assert_fetcher_hides_secret(fetcher(), SPY)
    with pytest.raises(ValueError, match="asset_class"):
        fetcher().transform_query({"underlying": "EURUSD", "asset_class": "fx"})
    with pytest.raises(ValueError, match="expiry"):
        fetcher().transform_query({"underlying": "SPY", "expiry": "next friday"})
    with pytest.raises(ValueError, match="underlying"):
        fetcher().transform_query({})
