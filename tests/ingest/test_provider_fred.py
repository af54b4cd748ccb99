"""FRED fetcher against wire-format fixtures (tests/resources/fred) replayed with respx."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from pydantic import SecretStr

from sextant_common.events import MacroObservation
from sextant_ingest.providers.errors import (
    MalformedResponse,
    MissingCredentials,
    NoData,
    NotFound,
    ProviderUnavailable,
    RateLimited,
    Unauthorized,
)
from sextant_ingest.providers.fetcher import Transformed
from sextant_ingest.providers.fred import (
    FETCHERS,
    PROVIDER,
    FredSeriesObservationsFetcher,
)
from sextant_ingest.providers.http import ProviderHttp

RESOURCES = Path(__file__).parents[1] / "resources" / "fred"
KEY = "abcdef0123456789abcdef0123456789"
SERIES = "https://api.stlouisfed.org/fred/series"
OBSERVATIONS = "https://api.stlouisfed.org/fred/series/observations"


def fixture(name: str) -> bytes:
    return (RESOURCES / name).read_bytes()


def json_response(name: str, status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(
        status, content=fixture(name), headers={"Content-Type": "application/json", **headers}
    )


def fetcher() -> FredSeriesObservationsFetcher:
    return FredSeriesObservationsFetcher({"SEXTANT_FRED_API_KEY": SecretStr(KEY)})


async def run(
    http: ProviderHttp, params: dict[str, Any], source: FredSeriesObservationsFetcher | None = None
) -> Transformed[MacroObservation]:
    source = source or fetcher()
    query = source.transform_query(params)
    return source.transform_data(query, await source.aextract_data(query, http))


def mock_series(router: respx.MockRouter) -> respx.Route:
    return router.get(SERIES).mock(return_value=json_response("series_GDPC1.json"))


async def test_observations_normalize_with_metadata(
    respx_mock: respx.MockRouter, http: ProviderHttp
) -> None:
    mock_series(respx_mock)
    route = respx_mock.get(OBSERVATIONS).mock(return_value=json_response("observations_GDPC1.json"))

    result = await run(
        http,
        {"series_id": "gdpc1", "observation_start": "2019-10-01", "observation_end": "2020-12-31"},
    )

    first = result.records[0]
    assert first == MacroObservation(
        series_id="FRED:GDPC1",
        period=datetime(2019, 10, 1, tzinfo=UTC),
        frequency="Q",
        value=20985.448,
        units="Billions of Chained 2017 Dollars",
        source="fred",
        ts_known=datetime(2024, 11, 25, tzinfo=UTC),
        revision=0,
    )
    assert [r.period.month for r in result.records] == [10, 1, 4, 7]
    assert all(MacroObservation.model_validate(r.model_dump()) == r for r in result.records)
    # "." and the impossible date are Rejects; the rest of the page is kept.
    reasons = [r.reason for r in result.rejects]
    assert reasons[0] == "missing value '.'"
    assert "bad date" in reasons[1] and len(reasons) == 2
    params = route.calls.last.request.url.params
    assert params["series_id"] == "GDPC1" and params["file_type"] == "json"
    assert params["api_key"] == KEY and params["observation_start"] == "2019-10-01"
    assert params["offset"] == "0" and params["limit"] == "100000"


async def test_pages_follow_offset_until_count(
    respx_mock: respx.MockRouter, http: ProviderHttp
) -> None:
    mock_series(respx_mock)
    route = respx_mock.get(OBSERVATIONS).mock(
        side_effect=[
            json_response("observations_GDPC1_offset0.json"),
            json_response("observations_GDPC1_offset3.json"),
        ]
    )

    result = await run(http, {"series_id": "GDPC1", "page_size": 3})

    assert [c.request.url.params["offset"] for c in route.calls] == ["0", "3"]
    assert all(c.request.url.params["limit"] == "3" for c in route.calls)
    assert len(result.records) == 5 and not result.rejects
    assert result.records[-1].value == pytest.approx(20771.691)


async def test_vintages_give_ts_known_and_revisions(
    respx_mock: respx.MockRouter, http: ProviderHttp
) -> None:
    mock_series(respx_mock)
    route = respx_mock.get(OBSERVATIONS).mock(
        return_value=json_response("observations_GDPC1_vintages.json")
    )

    result = await run(
        http,
        {
            "series_id": "GDPC1",
            "observation_start": "2020-04-01",
            "observation_end": "2020-04-01",
            "all_vintages": True,
        },
    )

    params = route.calls.last.request.url.params
    assert (params["realtime_start"], params["realtime_end"]) == ("1776-07-04", "9999-12-31")
    assert [(r.ts_known.date().isoformat(), r.revision, r.value) for r in result.records] == [
        ("2020-07-30", 0, 17206.5),
        ("2020-08-27", 1, 17302.5),
        ("2020-09-30", 2, 17282.2),
        ("2021-07-29", 3, 17258.2),
    ]
    assert {r.period for r in result.records} == {datetime(2020, 4, 1, tzinfo=UTC)}


async def test_frequency_in_query_asks_fred_to_aggregate(
    respx_mock: respx.MockRouter, http: ProviderHttp
) -> None:
    mock_series(respx_mock)
    route = respx_mock.get(OBSERVATIONS).mock(return_value=json_response("observations_GDPC1.json"))

    result = await run(http, {"series_id": "GDPC1", "frequency": "A", "aggregation_method": "eop"})

    params = route.calls.last.request.url.params
    assert (params["frequency"], params["aggregation_method"]) == ("a", "eop")
    assert {r.frequency for r in result.records} == {"A"}


async def test_missing_key_raises_before_any_request(
    respx_mock: respx.MockRouter, http: ProviderHttp
) -> None:
    for credentials in ({}, {"SEXTANT_FRED_API_KEY": ""}, {"SEXTANT_FRED_API_KEY": SecretStr("")}):
        source = FredSeriesObservationsFetcher(credentials)
        query = source.transform_query({"series_id": "GDPC1"})
        with pytest.raises(MissingCredentials) as caught:
            await source.aextract_data(query, http)
        assert caught.value.variable == "SEXTANT_FRED_API_KEY"
    assert http.requests == 0 and not respx_mock.calls


async def test_bad_key_400_is_unauthorized_without_the_key(
    respx_mock: respx.MockRouter, http: ProviderHttp
) -> None:
    respx_mock.get(SERIES).mock(return_value=json_response("error_400_api_key.json", 400))

    with pytest.raises(Unauthorized) as caught:
        await run(http, {"series_id": "GDPC1"})
    assert "SEXTANT_FRED_API_KEY" in str(caught.value)
    assert KEY not in str(caught.value) and KEY not in repr(caught.value.args)


async def test_unknown_series_400_is_not_found(
    respx_mock: respx.MockRouter, http: ProviderHttp
) -> None:
    respx_mock.get(SERIES).mock(return_value=json_response("error_400_series.json", 400))
    with pytest.raises(NotFound, match="NOPE"):
        await run(http, {"series_id": "NOPE"})


async def test_http_errors_map_to_typed_errors(
    respx_mock: respx.MockRouter, http: ProviderHttp
) -> None:
    mock_series(respx_mock)
    route = respx_mock.get(OBSERVATIONS)

    route.mock(return_value=json_response("error_429.json", 429, **{"Retry-After": "17"}))
    with pytest.raises(RateLimited) as limited:
        await run(http, {"series_id": "GDPC1"})
    assert limited.value.retry_after == 17.0

    route.mock(return_value=json_response("error_500.json", 500))
    with pytest.raises(ProviderUnavailable):
        await run(http, {"series_id": "GDPC1"})

    route.mock(return_value=httpx.Response(403, text="Forbidden"))
    with pytest.raises(Unauthorized):
        await run(http, {"series_id": "GDPC1"})


async def test_malformed_bodies_raise_malformed_response(
    respx_mock: respx.MockRouter, http: ProviderHttp
) -> None:
    mock_series(respx_mock)
    route = respx_mock.get(OBSERVATIONS)
    for name in ("malformed_html.txt", "malformed_observations.json"):
        route.mock(return_value=httpx.Response(200, content=fixture(name)))
        with pytest.raises(MalformedResponse):
            await run(http, {"series_id": "GDPC1"})


async def test_empty_range_is_no_data(respx_mock: respx.MockRouter, http: ProviderHttp) -> None:
    mock_series(respx_mock)
    respx_mock.get(OBSERVATIONS).mock(return_value=json_response("observations_empty.json"))
    with pytest.raises(NoData):
        await run(http, {"series_id": "GDPC1", "observation_start": "2030-01-01"})


async def test_transport_errors_never_show_the_key(
    respx_mock: respx.MockRouter, http: ProviderHttp
) -> None:
    respx_mock.get(SERIES).mock(side_effect=httpx.ConnectError(f"refused for api_key={KEY}"))
    with pytest.raises(ProviderUnavailable) as caught:
        await run(http, {"series_id": "GDPC1"})
    assert KEY not in str(caught.value)


def test_query_validation_names_the_field() -> None:
    source = fetcher()
    with pytest.raises(ValueError, match="series_id"):
        source.transform_query({"series_id": "GDP C1"})
    with pytest.raises(ValueError, match="observation_start"):
        source.transform_query(
            {
                "series_id": "GDPC1",
                "observation_start": "2021-01-01",
                "observation_end": "2020-01-01",
            }
        )
    with pytest.raises(ValueError, match="page_size"):
        source.transform_query({"series_id": "GDPC1", "page_size": 200_000})


def test_module_contract() -> None:
    assert set(FETCHERS) == {FredSeriesObservationsFetcher}
    assert PROVIDER.credentials == ("SEXTANT_FRED_API_KEY",)
    assert FredSeriesObservationsFetcher.dataset == "series_observations"
