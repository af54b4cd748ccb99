"""World Bank fetcher against wire-format fixtures (tests/resources/worldbank) with respx."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from sextant_common.events import MacroObservation
from sextant_ingest.providers.errors import (
    MalformedResponse,
    NoData,
    NotFound,
    ProviderUnavailable,
    RateLimited,
)
from sextant_ingest.providers.fetcher import Transformed
from sextant_ingest.providers.http import ProviderHttp
from sextant_ingest.providers.worldbank import FETCHERS, PROVIDER, WorldBankIndicatorFetcher

RESOURCES = Path(__file__).parents[1] / "resources" / "worldbank"
USA_GDP = "https://api.worldbank.org/v2/country/USA/indicator/NY.GDP.MKTP.CD"


def json_response(name: str, status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(status, content=(RESOURCES / name).read_bytes(), headers=headers)


async def run(http: ProviderHttp, params: dict[str, Any]) -> Transformed[MacroObservation]:
    source = WorldBankIndicatorFetcher()
    query = source.transform_query(params)
    return source.transform_data(query, await source.aextract_data(query, http))


GDP = {"indicator": "NY.GDP.MKTP.CD", "countries": ["usa"], "start_year": 2019, "end_year": 2023}


async def test_pages_are_all_fetched_and_nulls_rejected(
    respx_mock: respx.MockRouter, http: ProviderHttp
) -> None:
    route = respx_mock.get(USA_GDP).mock(
        side_effect=[
            json_response("USA_NY.GDP.MKTP.CD_page1.json"),
            json_response("USA_NY.GDP.MKTP.CD_page2.json"),
        ]
    )

    result = await run(http, {**GDP, "per_page": 3})

    assert [c.request.url.params["page"] for c in route.calls] == ["1", "2"]
    params = route.calls[0].request.url.params
    assert (params["format"], params["date"], params["per_page"]) == ("json", "2019:2023", "3")
    assert sorted(r.period.year for r in result.records) == [2019, 2020, 2021, 2022]
    assert [r.reason for r in result.rejects] == ["null value"]
    gdp_2022 = next(r for r in result.records if r.period.year == 2022)
    assert gdp_2022 == MacroObservation(
        series_id="WB:USA:NY.GDP.MKTP.CD",
        period=datetime(2022, 1, 1, tzinfo=UTC),
        frequency="A",
        value=25744108000000.0,
        units="",
        source="worldbank",
        ts_known=datetime(2024, 10, 24, tzinfo=UTC),
        revision=0,
    )


async def test_several_countries_and_one_bad_record(
    respx_mock: respx.MockRouter, http: ProviderHttp
) -> None:
    url = "https://api.worldbank.org/v2/country/USA;CHN/indicator/NY.GDP.MKTP.CD"
    respx_mock.get(url).mock(return_value=json_response("USA_CHN_NY.GDP.MKTP.CD.json"))

    result = await run(http, {"indicator": "NY.GDP.MKTP.CD", "countries": ["USA", "CHN"]})

    assert sorted({r.series_id for r in result.records}) == [
        "WB:CHN:NY.GDP.MKTP.CD",
        "WB:USA:NY.GDP.MKTP.CD",
    ]
    assert len(result.records) == 3 and len(result.rejects) == 1
    assert "not-a-number" in result.rejects[0].reason
    assert result.rejects[0].raw["date"] == "2021"


async def test_empty_answer_is_no_data(respx_mock: respx.MockRouter, http: ProviderHttp) -> None:
    respx_mock.get(USA_GDP).mock(return_value=json_response("empty.json"))
    with pytest.raises(NoData):
        await run(http, GDP)


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("error_120_invalid_value.json", NotFound),
        ("error_175_invalid_format.json", NotFound),
        ("error_105_unavailable.json", ProviderUnavailable),
        ("malformed_object.json", MalformedResponse),
    ],
)
async def test_http_200_error_messages_are_typed(
    respx_mock: respx.MockRouter, http: ProviderHttp, name: str, error: type[Exception]
) -> None:
    respx_mock.get(USA_GDP).mock(return_value=json_response(name))
    with pytest.raises(error):
        await run(http, GDP)


async def test_http_status_errors(respx_mock: respx.MockRouter, http: ProviderHttp) -> None:
    route = respx_mock.get(USA_GDP)
    route.mock(return_value=httpx.Response(429, headers={"Retry-After": "30"}))
    with pytest.raises(RateLimited) as limited:
        await run(http, GDP)
    assert limited.value.retry_after == 30.0

    route.mock(return_value=httpx.Response(503, text="<html>Service Unavailable</html>"))
    with pytest.raises(ProviderUnavailable):
        await run(http, GDP)

    route.mock(return_value=httpx.Response(200, text="<?xml version='1.0'?><wb:error/>"))
    with pytest.raises(MalformedResponse):
        await run(http, GDP)


def test_query_validation() -> None:
    source = WorldBankIndicatorFetcher()
    query = source.transform_query({"indicator": "SP.POP.TOTL", "countries": ["us", "chn"]})
    assert query.countries == ("US", "CHN") and query.date_param() is None
    with pytest.raises(ValueError, match="countries"):
        source.transform_query({"indicator": "SP.POP.TOTL", "countries": ["U$A"]})
    with pytest.raises(ValueError, match="start_year"):
        source.transform_query({"indicator": "X", "start_year": 2020, "end_year": 2010})


def test_module_contract() -> None:
    assert set(FETCHERS) == {WorldBankIndicatorFetcher}
    assert PROVIDER.credentials == () and WorldBankIndicatorFetcher.dataset == "indicator"
