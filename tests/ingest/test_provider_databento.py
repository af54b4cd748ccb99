"""Databento futures OHLCV replayed from wire-format fixtures (tests/resources/databento/).

The fixtures are ``timeseries.get_range`` answers with ``encoding=json``: one record a line,
fixed-point prices (1e-9), nanosecond times; their values are generated, since tests run
offline.
"""

from __future__ import annotations

import base64
import itertools
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest
import respx

from sextant_common.events import AssetClass, Interval
from sextant_ingest.providers import databento
from sextant_ingest.providers.databento import DatabentoOhlcvFetcher
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
    assert_missing_key,
    fetch,
    fixture_text,
    keyed_fetcher,
    reply,
    utc,
)
from tests.ingest.window_replies import DATABENTO_WINDOWS, databento_window, form

BASE = databento.PROVIDER.base_url
URL = f"{BASE}/timeseries.get_range"
CONTINUOUS = {
    "instrument_id": "ES.c.0",
    "interval": "1d",
    "start": utc(2024, 1, 1),
    "end": utc(2024, 4, 1),
    "window_bars": 31,  # three windows, to page as a longer history would
}
OUTRIGHT = {"instrument_id": "ESU5", "start": utc(2025, 6, 2), "end": utc(2025, 6, 7)}


def fetcher(credentials: dict[str, Any] | None = None) -> DatabentoOhlcvFetcher:
    return keyed_fetcher(DatabentoOhlcvFetcher, databento.API_KEY_VARIABLE, credentials)


def records(*names: str) -> list[dict[str, Any]]:
    """The decoded lines of fixtures."""
    lines = [line for n in names for line in fixture_text("databento", n).splitlines()]
    return [orjson.loads(line) for line in lines]


def test_provider_info_names_the_key() -> None:
    assert databento.PROVIDER.credentials == ("SEXTANT_DATABENTO_API_KEY",)
    assert databento.PROVIDER.asset_classes == frozenset({AssetClass.FUTURE})
    assert (DatabentoOhlcvFetcher,) == databento.FETCHERS


@respx.mock
async def test_a_continuous_contract_is_paged_window_by_window() -> None:
    route = respx.post(URL).mock(side_effect=databento_window)

    out = await fetch(fetcher(), CONTINUOUS, BASE)

    asked = [form(call.request) for call in route.calls]
    assert [(f["start"], f["end"]) for f in asked] == [
        ("1704067200000000000", "1706745600000000000"),  # Jan 1 - Feb 1
        ("1706745600000000000", "1709424000000000000"),  # Feb 1 - Mar 3
        ("1709424000000000000", "1711929600000000000"),  # Mar 3 - Apr 1 (the end)
    ]
    assert asked[0] | {"start": "", "end": ""} == {
        "dataset": "GLBX.MDP3",
        "symbols": "ES.c.0",
        "schema": "ohlcv-1d",
        "stype_in": "continuous",
        "start": "",
        "end": "",
        "encoding": "json",
        "compression": "none",
    }
    request = route.calls.last.request
    assert (
        request.headers["Authorization"]
        == "Basic " + base64.b64encode(f"{SECRET}:".encode()).decode()
    )
    assert SECRET not in str(request.url) and SECRET.encode() not in request.content
    assert_bars(
        out.records,
        instrument_id="ES.c.0",
        asset_class=AssetClass.FUTURE,
        interval=Interval.D1,
        source="databento",
    )
    expected = records(*DATABENTO_WINDOWS.values())
    assert len(out.records) == len(expected) == 27 + 26 + 25
    for bar, record in zip(out.records, expected, strict=True):
        assert int(bar.ts_event.timestamp()) * 10**9 == int(record["hd"]["ts_event"])
        # Fixed point to the float nearest the decimal price: 4804.75, never 4804.750000000001.
        prices = [float(Decimal(record[k]) / 10**9) for k in ("open", "high", "low", "close")]
        assert [bar.open, bar.high, bar.low, bar.close] == prices
        assert bar.volume == int(record["volume"]) > 0  # contracts
    assert out.records[0].open == 4804.75  # 4804750000000 in units of 1e-9
    # The front month rolls from ESH4 to ESM4 in March: still one series, ES.c.0.
    assert {r["hd"]["instrument_id"] for r in expected} == {118, 17077}
    assert out.rejects == []


def test_the_whole_daily_history_is_one_request_and_minutes_are_windowed() -> None:
    since_2010 = {**CONTINUOUS, "start": utc(2010, 6, 6), "end": FETCHED_AT}
    since_2010.pop("window_bars")
    daily = fetcher().transform_query(since_2010)
    assert daily.windows(FETCHED_AT) == [(utc(2010, 6, 6), FETCHED_AT)]
    minutes = fetcher().transform_query({**since_2010, "interval": "1m"})
    cuts = minutes.windows(FETCHED_AT)
    assert len(cuts) == 159 and cuts[0] == (
        utc(2010, 6, 6),
        utc(2010, 6, 6) + timedelta(minutes=50_000),
    )
    assert all(a[1] == b[0] for a, b in itertools.pairwise(cuts))
    assert cuts[-1][1] == FETCHED_AT
    # Nothing is asked of the future: a range ending in 2030 stops at the clock.
    assert (
        daily.model_copy(update={"end": utc(2030, 1, 1)}).windows(FETCHED_AT)[-1][1] == FETCHED_AT
    )


@respx.mock
async def test_bad_records_are_rejected_with_a_reason_and_the_rest_kept() -> None:
    route = respx.post(URL).mock(return_value=reply("databento", "ohlcv_1d_esu5_bad_records.json"))

    out = await fetch(fetcher(), OUTRIGHT, BASE)

    assert form(route.calls.last.request)["stype_in"] == "raw_symbol"
    assert [b.ts_event for b in out.records] == [utc(2025, 6, 2), utc(2025, 6, 6)]
    assert {b.instrument_id for b in out.records} == {"ESU5"}
    reasons = [r.reason for r in out.rejects]
    assert reasons[0] == "rtype 34 is not 35 (ohlcv-1d)"
    assert reasons[1] == "a price is Databento's undefined sentinel"
    assert reasons[2].startswith("bar: Value error, high/low do not bound open/close")
    assert reasons[3].startswith("unreadable OHLCV record (JSONDecodeError")
    assert len(reasons) == 4 and {r.key for r in out.rejects} == {"ESU5"}


@pytest.mark.parametrize(
    ("instrument_id", "stype_in"),
    [
        ("ESZ6", "raw_symbol"),
        ("CLF27", "raw_symbol"),
        ("ES.c.0", "continuous"),
        ("NQ.v.1", "continuous"),
        ("ZN.n.0", "continuous"),
    ],
)
def test_ids_map_to_databento_symbology(instrument_id: str, stype_in: str) -> None:
    query = fetcher().transform_query({**OUTRIGHT, "instrument_id": instrument_id})
    assert query.stype_in == stype_in


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"instrument_id": "ES"}, "instrument_id"),
        ({"instrument_id": "ES.x.0"}, "instrument_id"),
        ({"interval": "5m"}, "interval"),
        ({"asset_class": "equity"}, "asset_class"),
        ({"dataset": "glbx"}, "dataset"),
    ],
)
def test_queries_databento_cannot_answer_are_refused_naming_the_field(
    params: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValueError, match=field):
        fetcher().transform_query({**OUTRIGHT, **params})


async def test_without_the_key_the_error_names_the_variable_and_nothing_is_sent(
    respx_mock: respx.MockRouter,
) -> None:
    respx_mock.post(URL).mock(return_value=reply("databento", "ohlcv_empty.json"))
    await assert_missing_key(fetcher({}), OUTRIGHT, BASE, "SEXTANT_DATABENTO_API_KEY", respx_mock)


@respx.mock
async def test_an_empty_answer_raises_no_data() -> None:
    respx.post(URL).mock(return_value=reply("databento", "ohlcv_empty.json"))
    with pytest.raises(NoData, match=r"no ohlcv-1d records for ESU5 on GLBX\.MDP3"):
        await fetch(fetcher(), OUTRIGHT, BASE)


@pytest.mark.parametrize(
    "failure",
    [
        HttpFailure(401, "error_401.json", Unauthorized, method="POST"),
        HttpFailure(
            422,
            "error_422_symbology.json",
            NotFound,
            message="ESU5 (raw_symbol) does not resolve",
            method="POST",
        ),
        HttpFailure(429, "error_429.json", RateLimited, retry_after="2", method="POST"),
        HttpFailure(500, "error_500.html", ProviderUnavailable, method="POST"),
    ],
    ids=str,
)
@respx.mock
async def test_http_failures_raise_typed_errors(failure: HttpFailure) -> None:
    await failure.check(fetcher(), OUTRIGHT, BASE, URL)


@respx.mock
async def test_other_422s_keep_databento_s_reason() -> None:
    body = {
        "detail": {"case": "data_end_after_available_end", "message": "...", "status_code": 422}
    }
    respx.post(URL).mock(return_value=httpx.Response(422, json=body))
    with pytest.raises(MalformedResponse, match="data_end_after_available_end"):
        await fetch(fetcher(), OUTRIGHT, BASE)


def test_secret_never_in_reprs() -> None:
    assert_fetcher_hides_secret(fetcher(), OUTRIGHT)
