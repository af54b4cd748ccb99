"""IMF CompactData fetcher against wire-format fixtures (tests/resources/imf) with respx."""

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
from sextant_ingest.providers.imf import FETCHERS, PROVIDER, ImfCompactDataFetcher

RESOURCES = Path(__file__).parents[1] / "resources" / "imf"
FETCHED_AT = datetime(2025, 6, 30, 12, tzinfo=UTC)
BASE = "https://dataservices.imf.org/REST/SDMX_JSON.svc/CompactData"


def response(name: str, status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(status, content=(RESOURCES / name).read_bytes(), headers=headers)


async def run(http: ProviderHttp, params: dict[str, Any]) -> Transformed[MacroObservation]:
    source = ImfCompactDataFetcher(clock=lambda: FETCHED_AT)
    query = source.transform_query(params)
    return source.transform_data(query, await source.aextract_data(query, http))


CPI = {"indicator": "PCPI_IX", "countries": ["US"], "frequency": "M"}


async def test_monthly_series_object_with_obs_list(
    respx_mock: respx.MockRouter, http: ProviderHttp
) -> None:
    route = respx_mock.get(f"{BASE}/IFS/M.US.PCPI_IX").mock(
        return_value=response("CompactData_IFS_M.US.PCPI_IX.json")
    )
    result = await run(http, {**CPI, "start_period": "2020-01", "end_period": "2020-04"})

    params = route.calls.last.request.url.params
    assert (params["startPeriod"], params["endPeriod"]) == ("2020-01", "2020-04")
    assert [r.period.month for r in result.records] == [1, 2, 4]
    first = result.records[0]
    assert first.series_id == "IMF:IFS:M.US.PCPI_IX" and first.frequency == "M"
    assert first.value == pytest.approx(118.936442584894) and first.source == "imf"
    assert first.period == datetime(2020, 1, 1, tzinfo=UTC) and first.revision == 0
    assert first.ts_known == FETCHED_AT  # fetch time: the service has no vintages
    assert len(result.rejects) == 1 and "2020-03" in result.rejects[0].reason


async def test_series_list_obs_object_and_unit_mult(
    respx_mock: respx.MockRouter, http: ProviderHttp
) -> None:
    respx_mock.get(f"{BASE}/IFS/Q.US+GB.NGDP_XDC").mock(
        return_value=response("CompactData_IFS_Q.US+GB.NGDP_XDC.json")
    )

    result = await run(http, {"indicator": "NGDP_XDC", "countries": ["us", "gb"], "frequency": "Q"})

    by_id = {(r.series_id, r.period.month): r.value for r in result.records}
    assert by_id == {
        ("IMF:IFS:Q.US.NGDP_XDC", 1): pytest.approx(5254.356e9),
        ("IMF:IFS:Q.US.NGDP_XDC", 4): pytest.approx(4802.731e9),
        ("IMF:IFS:Q.GB.NGDP_XDC", 1): pytest.approx(546914e6),
    }
    assert not result.rejects and {r.frequency for r in result.records} == {"Q"}


async def test_annual_periods_and_a_bad_period(
    respx_mock: respx.MockRouter, http: ProviderHttp
) -> None:
    respx_mock.get(f"{BASE}/IFS/A.US.NGDP_R_XDC").mock(
        return_value=response("CompactData_IFS_A.US.NGDP_R_XDC.json")
    )
    result = await run(http, {"indicator": "NGDP_R_XDC", "frequency": "A"})
    assert [r.period for r in result.records] == [
        datetime(2019, 1, 1, tzinfo=UTC),
        datetime(2020, 1, 1, tzinfo=UTC),
    ]
    assert "2020-M7" in result.rejects[0].reason


async def test_empty_dataset_is_no_data(respx_mock: respx.MockRouter, http: ProviderHttp) -> None:
    respx_mock.get(f"{BASE}/IFS/M.US.PCPI_IX").mock(return_value=response("CompactData_empty.json"))
    with pytest.raises(NoData):
        await run(http, CPI)


async def test_errors(respx_mock: respx.MockRouter, http: ProviderHttp) -> None:
    route = respx_mock.get(f"{BASE}/IFS/M.US.PCPI_IX")
    cases: list[tuple[httpx.Response, type[Exception]]] = [
        (response("error_html.txt", 500), ProviderUnavailable),
        (response("error_html.txt", 200), MalformedResponse),
        (response("malformed_no_compactdata.json"), MalformedResponse),
        (httpx.Response(404, text="Not Found"), NotFound),
        (httpx.Response(429, headers={"Retry-After": "5"}), RateLimited),
    ]
    for answer, error in cases:
        route.mock(return_value=answer)
        with pytest.raises(error):
            await run(http, CPI)


def test_query_validation() -> None:
    source = ImfCompactDataFetcher()
    assert source.transform_query(CPI).key == "M.US.PCPI_IX"
    with pytest.raises(ValueError, match="start_period"):
        source.transform_query({**CPI, "start_period": "Jan 2020"})
    with pytest.raises(ValueError, match="frequency"):
        source.transform_query({**CPI, "frequency": "W"})


def test_module_contract() -> None:
    assert set(FETCHERS) == {ImfCompactDataFetcher} and PROVIDER.credentials == ()
    assert "dataservices.imf.org" in PROVIDER.base_url
