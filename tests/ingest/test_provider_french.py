"""Kenneth French library fetcher against the zip fixtures of tests/resources/french.

The ``F-F_*_CSV.zip`` files there are shared with the quant parser's tests (read only here);
the ``ingest_*`` files are this provider's edge cases (make_ingest_fixtures.py).
"""

from __future__ import annotations

from collections import Counter
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
from sextant_ingest.providers.french import (
    FETCHERS,
    FILES,
    FrenchFactorsFetcher,
    parse_french_csv,
)
from sextant_ingest.providers.http import ProviderHttp

RESOURCES = Path(__file__).parents[1] / "resources" / "french"
FETCHED_AT = datetime(2025, 6, 30, 12, tzinfo=UTC)
BASE = "https://mba.tuck.dartmouth.edu/pages/faculty/ken.french/ftp"


def zip_response(name: str, status: int = 200) -> httpx.Response:
    return httpx.Response(
        status,
        content=(RESOURCES / name).read_bytes(),
        headers={"Content-Type": "application/x-zip-compressed"},
    )


async def run(http: ProviderHttp, params: dict[str, Any]) -> Transformed[MacroObservation]:
    source = FrenchFactorsFetcher(clock=lambda: FETCHED_AT)
    query = source.transform_query(params)
    return source.transform_data(query, await source.aextract_data(query, http))


def mock_file(router: respx.MockRouter, file: str, fixture: str | None = None) -> respx.Route:
    return router.get(f"{BASE}/{file}_CSV.zip").mock(
        return_value=zip_response(fixture or f"{file}_CSV.zip")
    )


async def test_three_factor_monthly_and_annual(
    respx_mock: respx.MockRouter, http: ProviderHttp
) -> None:
    mock_file(respx_mock, "F-F_Research_Data_Factors")
    result = await run(http, {})

    counts = Counter(r.series_id for r in result.records)
    assert counts == {
        **{f"FF:{f}": 35 for f in ("Mkt-RF", "SMB", "HML", "RF")},
        **{f"FF:{f}.A": 2 for f in ("Mkt-RF", "SMB", "HML", "RF")},
    }
    first = result.records[0]
    assert first.series_id == "FF:Mkt-RF" and first.period == datetime(2016, 1, 1, tzinfo=UTC)
    assert first.value == pytest.approx(-0.0577) and first.frequency == "M"  # -5.77 percent
    assert first.source == "french" and first.units == "fraction" and first.revision == 0
    assert {r.ts_known for r in result.records} == {FETCHED_AT}
    annual = [r for r in result.records if r.series_id == "FF:Mkt-RF.A"]
    assert [(r.period.year, r.frequency, r.value) for r in annual] == [
        (2016, "A", pytest.approx(0.1329)),
        (2017, "A", pytest.approx(0.2136)),
    ]
    assert not result.rejects


async def test_daily_five_factor_and_momentum_files(
    respx_mock: respx.MockRouter, http: ProviderHttp
) -> None:
    for file in ("F-F_Research_Data_Factors_daily", "F-F_Research_Data_5_Factors_2x3",
                 "F-F_Momentum_Factor"):  # fmt: skip
        mock_file(respx_mock, file)

    daily = await run(http, {"file": "F-F_Research_Data_Factors_daily"})
    assert Counter(r.series_id for r in daily.records)["FF:Mkt-RF.D"] == 21
    assert daily.records[0].period == datetime(2018, 11, 1, tzinfo=UTC)
    assert daily.records[0].frequency == "D" and daily.records[0].value == pytest.approx(0.0105)

    five = await run(http, {"file": "F-F_Research_Data_5_Factors_2x3", "frequencies": ["M"]})
    assert set(Counter(r.series_id for r in five.records)) == {
        f"FF:{f}.5F" for f in ("Mkt-RF", "SMB", "HML", "RMW", "CMA", "RF")
    }
    assert {r.frequency for r in five.records} == {"M"}

    mom = await run(http, {"file": "F-F_Momentum_Factor", "start": "2016-01-01"})
    # the header is ",Mom   " and the annual heading spans two lines
    assert Counter(r.series_id for r in mom.records) == {"FF:Mom": 12, "FF:Mom.A": 1}
    assert min(r.period for r in mom.records) == datetime(2016, 1, 1, tzinfo=UTC)


async def test_missing_and_bad_cells_are_rejects(
    respx_mock: respx.MockRouter, http: ProviderHttp
) -> None:
    mock_file(respx_mock, "F-F_Research_Data_Factors", "ingest_factors_bad_cells_CSV.zip")

    result = await run(http, {"frequencies": ["M"]})

    reasons = [r.reason for r in result.rejects]
    assert reasons == [
        "HML 202403: missing value '-99.99'",
        "HML 202404: could not convert string to float: 'n/a'",
        "row 202405 has 2 cells for 4 columns",
    ]
    assert len(result.records) == 6 * 4 - 4 - 2  # row 202405 whole, two single cells
    assert next(r for r in result.records if r.series_id == "FF:RF").value == pytest.approx(0.0047)


async def test_whole_file_errors(respx_mock: respx.MockRouter, http: ProviderHttp) -> None:
    route = respx_mock.get(f"{BASE}/F-F_Research_Data_Factors_CSV.zip")
    cases: list[tuple[httpx.Response, type[Exception]]] = [
        (zip_response("ingest_not_a_zip.html"), MalformedResponse),
        (zip_response("ingest_description_only_CSV.zip"), NoData),
        (zip_response("ingest_not_a_zip.html", 404), NotFound),
        (httpx.Response(429, headers={"Retry-After": "60"}), RateLimited),
        (httpx.Response(502), ProviderUnavailable),
    ]
    for answer, error in cases:
        route.mock(return_value=answer)
        with pytest.raises(error):
            await run(http, {})


def test_parser_reads_frequency_from_row_keys() -> None:
    text = ",A,B\r\n2020,1.0,2.0\r\n\r\n,A\r\n199912, 3\r\n20000103,4\r\nCopyright"
    tables = parse_french_csv(text)
    assert [(t.frequency, t.columns, len(t.rows)) for t in tables] == [
        ("A", ("A", "B"), 1),
        ("M", ("A",), 2),  # a table's frequency comes from its first key
    ]
    query = FrenchFactorsFetcher().transform_query({})
    raw = {"fetched_at": datetime.now(UTC), "file": "F-F_Research_Data_Factors", "text": text}
    result = FrenchFactorsFetcher().transform_data(query, raw)
    assert [r.series_id for r in result.records] == ["FF:A.A", "FF:B.A", "FF:A"]
    assert result.rejects[0].reason == "row key '20000103' does not match the table's keys"


def test_query_validation_and_contract() -> None:
    source = FrenchFactorsFetcher()
    with pytest.raises(ValueError, match="file"):
        source.transform_query({"file": "F-F_Research_Data_Factors.zip"})
    with pytest.raises(ValueError, match="start"):
        source.transform_query({"start": "2020-01-01", "end": "2019-01-01"})
    assert set(FETCHERS) == {FrenchFactorsFetcher} and len(FILES) == 6
