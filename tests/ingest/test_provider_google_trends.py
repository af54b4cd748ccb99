"""The ``google_trends`` provider against wire-format fixtures (tests/resources/google_trends/)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from sextant_common.events import AltSignal
from sextant_ingest.providers.errors import (
    MalformedResponse,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
)
from sextant_ingest.providers.fetcher import DataKind, Transformed
from sextant_ingest.providers.google_trends import (
    FETCHERS,
    PROVIDER,
    GoogleTrendsInterestFetcher,
    TrendsTimeline,
    parse_xssi_json,
)
from sextant_ingest.providers.http import ProviderHttp

RESOURCES = Path(__file__).parents[1] / "resources" / "google_trends"
HOME = f"{PROVIDER.base_url}/"
EXPLORE = f"{PROVIDER.base_url}/api/explore"
MULTILINE = f"{PROVIDER.base_url}/api/widgetdata/multiline"
JSON = "application/json; charset=utf-8"


def fixture(name: str) -> str:
    return (RESOURCES / name).read_text()


def reply(name: str, status: int = 200, headers: dict[str, str] | None = None) -> httpx.Response:
    kind = "text/html; charset=UTF-8" if name.endswith(".html") else JSON
    return httpx.Response(
        status,
        content=fixture(name).encode(),
        headers={"Content-Type": kind, **(headers or {})},
    )


def sep(day: int) -> datetime:
    return datetime(2024, 9, day, tzinfo=UTC)


def mock_trends(
    respx_mock: respx.MockRouter, explore: str, multiline: str | httpx.Response
) -> tuple[respx.Route, respx.Route, respx.Route]:
    home = respx_mock.get(HOME).mock(
        return_value=reply("home.html", headers={"Set-Cookie": "NID=511=fixture; Path=/; HttpOnly"})
    )
    explored = respx_mock.get(EXPLORE).mock(return_value=reply(explore))
    data = respx_mock.get(MULTILINE).mock(
        return_value=multiline if isinstance(multiline, httpx.Response) else reply(multiline)
    )
    return home, explored, data


async def fetch(params: dict[str, Any], http: ProviderHttp) -> Transformed[AltSignal]:
    fetcher = GoogleTrendsInterestFetcher()
    query = fetcher.transform_query(params)
    return fetcher.transform_data(query, await fetcher.aextract_data(query, http))


def test_provider_is_keyless_with_one_dataset() -> None:
    assert PROVIDER.name == "google_trends"
    assert PROVIDER.credentials == ()
    assert [f.dataset for f in FETCHERS] == ["interest_over_time"]
    assert FETCHERS[0].kind is DataKind.SENTIMENT


async def test_interest_over_time_of_one_keyword(
    http: ProviderHttp, respx_mock: respx.MockRouter
) -> None:
    home, explore, data = mock_trends(respx_mock, "explore_TSLA_US.txt", "multiline_TSLA_US.txt")
    before = datetime.now(UTC)

    out = await fetch({"keywords": ["TSLA"], "geo": "US"}, http)

    # Cookie first, then explore with the comparison, then the widget with its token.
    assert home.call_count == explore.call_count == data.call_count == 1
    sent = explore.calls.last.request.url.params
    assert sent["tz"] == "0" and sent["hl"] == "en-US"
    assert json.loads(sent["req"]) == {
        "comparisonItem": [{"keyword": "TSLA", "geo": "US", "time": "today 3-m"}],
        "category": 0,
        "property": "",
    }
    widget = parse_xssi_json(fixture("explore_TSLA_US.txt"))["widgets"][0]
    asked = data.calls.last.request
    assert asked.url.params["token"] == widget["token"]
    assert json.loads(asked.url.params["req"]) == widget["request"]
    assert "NID=511=fixture" in asked.headers["Cookie"]

    assert out.rejects == []
    assert [s.ts_event for s in out.records] == [sep(d) for d in range(23, 30)]  # 30th partial
    assert [s.raw_value for s in out.records] == [41, 38, 45, 57, 100, 73, 52]
    assert [s.value for s in out.records] == pytest.approx(
        [0.41, 0.38, 0.45, 0.57, 1.0, 0.73, 0.52]
    )
    for signal in out.records:
        assert signal.signal == "google_trends.interest"
        assert signal.subject == "TSLA"
        assert signal.source == "google_trends"
        assert "US" in signal.method and "today 3-m" in signal.method
        assert before <= signal.ts_known <= datetime.now(UTC)
        AltSignal.from_bytes(signal.to_bytes())


async def test_partial_period_on_request(http: ProviderHttp, respx_mock: respx.MockRouter) -> None:
    mock_trends(respx_mock, "explore_TSLA_US.txt", "multiline_TSLA_US.txt")
    out = await fetch({"keywords": ["TSLA"], "include_partial": True}, http)
    assert out.records[-1].ts_event == sep(30) and out.records[-1].raw_value == 48


async def test_compared_keywords_and_points_without_data(
    http: ProviderHttp, respx_mock: respx.MockRouter
) -> None:
    mock_trends(respx_mock, "explore_TSLA_Tesla_US.txt", "multiline_TSLA_Tesla_US.txt")
    out = await fetch({"keywords": ["TSLA", "Tesla"], "geo": "US"}, http)
    series = {(s.subject, s.ts_event): s.raw_value for s in out.records}
    assert series == {
        ("TSLA", sep(27)): 12,
        ("Tesla", sep(27)): 100,
        ("TSLA", sep(28)): 9,
        ("Tesla", sep(28)): 81,
        ("Tesla", sep(29)): 64,
    }
    assert [r.reason for r in out.rejects] == ["no data for 'TSLA' at 2024-09-29T00:00:00+00:00"]
    assert all("peak of TSLA, Tesla" in s.method for s in out.records)


async def test_bad_points_are_rejected_and_the_rest_kept(
    http: ProviderHttp, respx_mock: respx.MockRouter
) -> None:
    mock_trends(respx_mock, "explore_TSLA_US.txt", "multiline_mixed.txt")
    out = await fetch({"keywords": ["TSLA"]}, http)
    assert [s.raw_value for s in out.records] == [57, 61, 63]
    assert [r.reason for r in out.rejects] == [
        "bad time 'n/a'",
        "expected 1 integer values at 2024-09-28T12:00:00+00:00, got []",
    ]


def test_out_of_range_interest_is_a_reject() -> None:
    fetcher = GoogleTrendsInterestFetcher()
    query = fetcher.transform_query({"keywords": ["TSLA"]})
    body = {"default": {"timelineData": [{"time": "1727395200", "value": [140]}]}}
    out = fetcher.transform_data(query, TrendsTimeline(datetime.now(UTC), body))
    assert out.records == []
    assert out.rejects[0].reason == "interest 140 of 'TSLA' is outside 0..100"


async def test_empty_timeline_gives_no_signals(
    http: ProviderHttp, respx_mock: respx.MockRouter
) -> None:
    mock_trends(respx_mock, "explore_TSLA_US.txt", "multiline_empty.txt")
    out = await fetch({"keywords": ["TSLA"]}, http)
    assert out.records == [] and out.rejects == []


@pytest.mark.parametrize(
    ("explore", "multiline", "error", "says"),
    [
        (
            "explore_TSLA_US.txt",
            reply("error_429.html", 429, headers={"Retry-After": "120"}),
            RateLimited,
            "120",
        ),
        ("explore_TSLA_US.txt", reply("error_429.html", 429), RateLimited, "None"),
        ("explore_TSLA_US.txt", reply("error_500.html", 500), ProviderUnavailable, "HTTP 500"),
        ("explore_TSLA_US.txt", "multiline_truncated.txt", MalformedResponse, "not JSON"),
        ("explore_TSLA_US.txt", reply("error_429.html", 200), MalformedResponse, "not JSON"),
        ("explore_no_timeseries.txt", "multiline_empty.txt", MalformedResponse, "TIMESERIES"),
    ],
)
async def test_errors_are_typed(
    http: ProviderHttp,
    respx_mock: respx.MockRouter,
    explore: str,
    multiline: str | httpx.Response,
    error: type[ProviderError],
    says: str,
) -> None:
    mock_trends(respx_mock, explore, multiline)
    with pytest.raises(error, match=says):
        await fetch({"keywords": ["TSLA"]}, http)


async def test_rate_limited_explore_stops_before_widget_data(
    http: ProviderHttp, respx_mock: respx.MockRouter
) -> None:
    _, explore, data = mock_trends(respx_mock, "explore_TSLA_US.txt", "multiline_TSLA_US.txt")
    explore.mock(return_value=reply("error_429.html", 429))
    with pytest.raises(RateLimited):
        await fetch({"keywords": ["TSLA"]}, http)
    assert data.call_count == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (')]}\'\n{"a": 1}', {"a": 1}),
        (')]}\',\n{"a": 1}', {"a": 1}),
        ('{"a": 1}', {"a": 1}),
    ],
)
def test_xssi_prefix_is_stripped(text: str, expected: dict[str, Any]) -> None:
    assert parse_xssi_json(text) == expected


def test_non_object_bodies_are_malformed() -> None:
    with pytest.raises(MalformedResponse, match="JSON object"):
        parse_xssi_json(")]}',\n[1, 2]")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "keywords"),
        ({"keywords": []}, "keywords"),
        ({"keywords": ["a", "b", "c", "d", "e", "f"]}, "keywords"),
        ({"keywords": ["TSLA"], "timeframe": "last week"}, "timeframe"),
        ({"keywords": ["TSLA"], "geo": "usa"}, "geo"),
        ({"keywords": ["TSLA"], "gprop": "maps"}, "gprop"),
    ],
)
def test_bad_queries_name_the_field(params: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        GoogleTrendsInterestFetcher().transform_query(params)


@pytest.mark.parametrize(
    "timeframe", ["now 1-H", "now 7-d", "today 12-m", "today 5-y", "all", "2024-01-01 2024-03-31"]
)
def test_documented_timeframes_are_accepted(timeframe: str) -> None:
    query = GoogleTrendsInterestFetcher().transform_query(
        {"keywords": ["TSLA"], "timeframe": timeframe}
    )
    assert query.timeframe == timeframe
