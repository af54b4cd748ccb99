"""SEC EDGAR company facts against wire-format fixtures (tests/resources/sec_edgar) with respx."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from sextant_common.events import Fundamental
from sextant_ingest.providers.errors import (
    MalformedResponse,
    NotFound,
    ProviderUnavailable,
    RateLimited,
    Unauthorized,
)
from sextant_ingest.providers.fetcher import Transformed
from sextant_ingest.providers.http import ProviderHttp
from sextant_ingest.providers.sec_edgar import (
    DEFAULT_USER_AGENT,
    FETCHERS,
    PROVIDER,
    SecCompanyFactsFetcher,
)

RESOURCES = Path(__file__).parents[1] / "resources" / "sec_edgar"
TICKERS = "https://www.sec.gov/files/company_tickers.json"
FACTS = "https://data.sec.gov/api/xbrl/companyfacts/CIK0000320193.json"
SUBMISSIONS = "https://data.sec.gov/submissions/CIK0000320193.json"
REVENUE = "us-gaap:RevenueFromContractWithCustomerExcludingAssessedTax"


def response(name: str, status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(status, content=(RESOURCES / name).read_bytes(), headers=headers)


@pytest.fixture
def edgar(respx_mock: respx.MockRouter) -> respx.MockRouter:
    respx_mock.get(TICKERS).mock(return_value=response("company_tickers.json"))
    respx_mock.get(FACTS).mock(return_value=response("companyfacts_CIK0000320193.json"))
    respx_mock.get(SUBMISSIONS).mock(return_value=response("submissions_CIK0000320193.json"))
    return respx_mock


async def run(
    http: ProviderHttp, params: dict[str, Any], source: SecCompanyFactsFetcher | None = None
) -> Transformed[Fundamental]:
    source = source or SecCompanyFactsFetcher()
    query = source.transform_query(params)
    return source.transform_data(query, await source.aextract_data(query, http))


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


async def test_company_facts_by_ticker(edgar: respx.MockRouter, http: ProviderHttp) -> None:
    result = await run(http, {"symbol": "aapl"})

    assert [str(c.request.url) for c in edgar.calls] == [TICKERS, FACTS]
    assert all(c.request.headers["User-Agent"] == DEFAULT_USER_AGENT for c in edgar.calls)
    assert all(Fundamental.model_validate(f.model_dump()) == f for f in result.records)
    assert {f.entity_id for f in result.records} == {"AAPL"}
    q1 = next(f for f in result.records if f.concept == REVENUE and f.fiscal_period == "Q1")
    assert q1 == Fundamental(
        entity_id="AAPL",
        concept=REVENUE,
        value=119575000000.0,
        unit="USD",
        period_start=utc(2023, 10, 1),
        period_end=utc(2023, 12, 30),
        fiscal_year=2024,
        fiscal_period="Q1",
        form="10-Q",
        filing_id="0000320193-24-000006",
        source="sec_edgar",
        ts_known=utc(2024, 2, 2),
        revision=0,
    )
    shares = [f for f in result.records if f.concept == "dei:EntityCommonStockSharesOutstanding"]
    assert [(f.unit, f.period_start, f.period_end) for f in shares] == [
        ("shares", None, utc(2023, 10, 20)),
        ("shares", None, utc(2024, 10, 18)),
    ]


async def test_restatements_are_revisions_in_filing_order(
    edgar: respx.MockRouter, http: ProviderHttp
) -> None:
    result = await run(http, {"symbol": "AAPL", "concepts": [REVENUE]})

    fy2022 = [f for f in result.records if f.period_end == utc(2022, 9, 24)]
    assert [(f.revision, f.ts_known, f.filing_id) for f in fy2022] == [
        (0, utc(2022, 10, 28), "0000320193-22-000108"),
        (1, utc(2023, 11, 3), "0000320193-23-000106"),
        (2, utc(2024, 11, 1), "0000320193-24-000123"),
    ]
    fy2023 = [f for f in result.records if f.period_end == utc(2023, 9, 30)]
    assert [(f.revision, f.value) for f in fy2023] == [(0, 383285000000.0), (1, 383300000000.0)]
    assert {f.concept for f in result.records} == {REVENUE}


async def test_bad_records_are_rejected_and_repeats_in_one_filing_dropped(
    edgar: respx.MockRouter, http: ProviderHttp
) -> None:
    result = await run(http, {"symbol": "AAPL"})

    eps = [f for f in result.records if f.concept == "us-gaap:EarningsPerShareBasic"]
    assert [(f.value, f.unit, f.revision) for f in eps] == [(6.16, "USD/shares", 0)]
    reasons = sorted(r.reason for r in result.rejects)
    assert len(reasons) == 2
    assert "us-gaap:Assets [USD]: bad or missing date" in reasons[0]
    assert "'val' None is not a number" in reasons[1]
    assets = [f for f in result.records if f.concept == "us-gaap:Assets"]
    assert [f.revision for f in assets] == [0, 1]


async def test_filters_keep_revisions_of_the_full_history(
    edgar: respx.MockRouter, http: ProviderHttp
) -> None:
    result = await run(
        http,
        {"symbol": "AAPL", "concepts": [REVENUE], "forms": ["10-K"], "start": "2022-09-24",
         "end": "2023-09-30"},
    )  # fmt: skip
    latest = [f for f in result.records if f.filing_id == "0000320193-24-000123"]
    assert [f.revision for f in latest] == [2, 1]
    assert all(f.form == "10-K" for f in result.records) and len(result.records) == 5


async def test_acceptance_times_from_submissions(
    edgar: respx.MockRouter, http: ProviderHttp
) -> None:
    result = await run(http, {"cik": "CIK0000320193", "symbol": "AAPL", "acceptance_times": True})

    assert [str(c.request.url) for c in edgar.calls] == [FACTS, SUBMISSIONS]
    assert all(c.request.headers["User-Agent"] == DEFAULT_USER_AGENT for c in edgar.calls)
    known = {f.filing_id: f.ts_known for f in result.records}
    assert known["0000320193-24-000123"] == datetime(2024, 11, 1, 10, 1, 36, tzinfo=UTC)
    assert known["0000320193-22-000108"] == utc(2022, 10, 28)  # not in recent: filing date


async def test_cik_only_finds_the_ticker_or_keeps_the_cik(
    edgar: respx.MockRouter, http: ProviderHttp
) -> None:
    result = await run(http, {"cik": 320193})
    assert {f.entity_id for f in result.records} == {"AAPL"}

    fetcher = SecCompanyFactsFetcher()
    edgar.get("https://data.sec.gov/api/xbrl/companyfacts/CIK0000000042.json").mock(
        return_value=response("companyfacts_CIK0000320193.json")
    )
    unknown = await run(http, {"cik": 42}, fetcher)
    assert {f.entity_id for f in unknown.records} == {"0000000042"}


async def test_unknown_ticker_is_not_found_before_company_facts(
    edgar: respx.MockRouter, http: ProviderHttp
) -> None:
    with pytest.raises(NotFound, match="ZZZZ"):
        await run(http, {"symbol": "ZZZZ"})
    assert [str(c.request.url) for c in edgar.calls] == [TICKERS]


async def test_configured_user_agent_is_sent(edgar: respx.MockRouter, http: ProviderHttp) -> None:
    agent = "Acme Research ops@acme.example"
    await run(http, {"symbol": "AAPL"}, SecCompanyFactsFetcher({"SEXTANT_SEC_USER_AGENT": agent}))
    assert [c.request.headers["User-Agent"] for c in edgar.calls] == [agent, agent]
    with pytest.raises(ValueError, match="SEXTANT_SEC_USER_AGENT"):
        SecCompanyFactsFetcher({"SEXTANT_SEC_USER_AGENT": "python-httpx"})


async def test_http_errors(respx_mock: respx.MockRouter, http: ProviderHttp) -> None:
    route = respx_mock.get(FACTS)
    cases: list[tuple[httpx.Response, type[Exception]]] = [
        (response("error_403_undeclared_tool.html", 403), Unauthorized),
        (response("error_404_nosuchkey.xml", 404), NotFound),
        (httpx.Response(429, headers={"Retry-After": "600"}), RateLimited),
        (httpx.Response(503, text="Service Unavailable"), ProviderUnavailable),
        (response("malformed_truncated.json"), MalformedResponse),
        (httpx.Response(200, json={"cik": 320193, "entityName": "Apple Inc."}), MalformedResponse),
    ]
    for answer, error in cases:
        route.mock(return_value=answer)
        with pytest.raises(error):
            await run(http, {"symbol": "AAPL", "cik": 320193})
    assert all(c.request.headers["User-Agent"] == DEFAULT_USER_AGENT for c in route.calls)


def test_query_validation() -> None:
    source = SecCompanyFactsFetcher()
    assert source.transform_query({"cik": "0000320193"}).cik == 320193
    with pytest.raises(ValueError, match="symbol"):
        source.transform_query({})
    with pytest.raises(ValueError, match="concepts"):
        source.transform_query({"symbol": "AAPL", "concepts": ["Revenues"]})


def test_module_contract() -> None:
    assert set(FETCHERS) == {SecCompanyFactsFetcher}
    assert PROVIDER.rate_limit.requests == 10 and PROVIDER.rate_limit.per_seconds == 1.0
    assert PROVIDER.user_agent == "Sextant research terminal admin@example.com"
