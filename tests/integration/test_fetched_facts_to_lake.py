"""Fundamentals, macro and news fetched through the gateway's ``POST /api/v1/fetch`` -> the ingest
service's unified fetcher and real providers (sec_edgar, fred, newsapi) over real HTTP to a local
fixture server -> real broker -> a datasets process -> the lake, point in time -> the gateway's
``/api/v1/datasets/...`` as of a time.

Only the network edge is faked: the fixture server answers with the wire-format fixtures under
tests/resources/<provider>/, reached through ``SEXTANT_PROVIDER_BASE_URLS``.

"Learned" is each record's ``ts_known``: the fetch time for news, but the filing date for SEC
facts and the vintage's ``realtime_start`` for FRED, so those two are absent as of before the
filing or vintage, not as of before our fetch (a backtest must see them from their publication).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.ingest.provider_fixtures import fixture_json, fixture_text
from tests.ingest.test_fetching_fakes import ReplayServer
from tests.support import auth_for, running_services, wait_for

pytestmark = pytest.mark.integration

FRED_KEY = "abcdef0123456789abcdef0123456789"
NEWSAPI_KEY = "newsapi-5ecret-DO-NOT-LEAK"
CONCEPT = "RevenueFromContractWithCustomerExcludingAssessedTax"
COMPANY_FACTS = "companyfacts_CIK0000320193.json"
VINTAGES = "observations_GDPC1_vintages.json"
SECOND = timedelta(seconds=1)


def edge_app() -> Starlette:
    """The three providers' endpoints, answering with their fixtures; a request without the
    provider's key (or, for the SEC, without a User-Agent) is refused as the real API would."""

    def body(provider: str, name: str) -> Response:
        return Response(fixture_text(provider, name), media_type="application/json")

    async def company_facts(request: Request) -> Response:
        if "@" not in request.headers.get("user-agent", ""):
            return Response(fixture_text("sec_edgar", "error_403_undeclared_tool.html"), 403)
        return body("sec_edgar", COMPANY_FACTS)

    async def fred(request: Request) -> Response:
        if request.query_params.get("api_key") != FRED_KEY:
            return Response(fixture_text("fred", "error_400_api_key.json"), 400)
        name = "series_GDPC1.json" if request.url.path.endswith("/series") else VINTAGES
        return body("fred", name)

    async def everything(request: Request) -> Response:
        if request.headers.get("x-api-key") != NEWSAPI_KEY:
            return JSONResponse(fixture_json("newsapi", "error_apiKeyInvalid.json"), 401)
        return body("newsapi", f"everything_page{request.query_params['page']}.json")

    return Starlette(
        routes=[
            Route("/sec/api/xbrl/companyfacts/CIK0000320193.json", company_facts),
            Route("/fred/fred/series", fred),
            Route("/fred/fred/series/observations", fred),
            Route("/newsapi/v2/everything", everything),
        ]
    )


@pytest.fixture
def gateway(kafka_bootstrap: str, tmp_path: Path) -> Iterator[str]:
    """The gateway's base URL, with datasets and an ingest service whose sec_edgar, fred and
    newsapi providers talk to the fixture server."""
    with ReplayServer(edge_app()) as edge:
        base_urls = {
            "sec_edgar": f"{edge.url}/sec",
            "fred": f"{edge.url}/fred",
            "newsapi": f"{edge.url}/newsapi/v2",
        }
        keys = {"SEXTANT_FRED_API_KEY": FRED_KEY, "SEXTANT_NEWSAPI_API_KEY": NEWSAPI_KEY}
        with running_services(
            kafka_bootstrap,
            tmp_path,
            ["datasets", "gateway", "ingest"],
            SEXTANT_DATASETS_GROUP=f"datasets-{uuid.uuid4().hex[:6]}",
            SEXTANT_FETCH_PROVIDERS=json.dumps(list(base_urls)),
            SEXTANT_PROVIDER_BASE_URLS=json.dumps(base_urls),
            SEXTANT_CREDENTIALS=json.dumps(keys),
            SEXTANT_INGEST_PROVIDERS="[]",
            SEXTANT_INGEST_LIVE="false",
        ) as ports:
            yield f"http://127.0.0.1:{ports.gateway}"


def post_fetch(gateway: str, request: dict[str, Any]) -> dict[str, Any]:
    """``POST /api/v1/fetch``; the answer, which must say the records were published."""
    response = httpx.post(
        f"{gateway}/api/v1/fetch", json=request, timeout=60, auth=auth_for(gateway, "researcher")
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    assert answer["published"] and answer["rows"] > 0, answer
    return answer


def stored(gateway: str, dataset: str, as_of: datetime | None = None, **params: str) -> list[Any]:
    """The rows of ``/api/v1/datasets/<dataset>`` as of ``as_of`` (default now)."""
    if as_of is not None:
        params["as_of"] = as_of.isoformat().replace("+00:00", "Z")
    response = httpx.get(
        f"{gateway}/api/v1/datasets/{dataset}",
        params=params,
        timeout=10,
        auth=auth_for(gateway, "viewer"),
    )
    assert response.status_code == 200, response.text
    rows: list[Any] = response.json()[dataset]
    return rows


def midnight(day: str) -> datetime:
    """The UTC midnight starting ``day`` (an ISO date)."""
    return datetime.combine(date.fromisoformat(day), datetime.min.time(), UTC)


def test_fetched_facts_are_kept_and_served_as_of_when_they_were_learned(gateway: str) -> None:
    # --- fundamentals: SEC EDGAR company facts, one value per period per filing
    fetched = datetime.now(UTC)
    post_fetch(
        gateway,
        {
            "kind": "fundamentals",
            "provider": "sec_edgar",
            "params": {"symbol": "AAPL", "cik": 320193, "concepts": [f"us-gaap:{CONCEPT}"]},
        },
    )
    filings = fixture_json("sec_edgar", COMPANY_FACTS)["facts"]["us-gaap"][CONCEPT]["units"]["USD"]

    def fixture_facts(as_of: datetime) -> dict[tuple[str, str], float]:
        """Per period, the value of the last filing filed by ``as_of``."""
        known = sorted(
            (f for f in filings if midnight(f["filed"]) <= as_of), key=lambda f: f["filed"]
        )
        return {(f["start"], f["end"]): float(f["val"]) for f in known}

    def lake_facts(as_of: datetime | None = None) -> dict[tuple[str, str], float]:
        rows = stored(gateway, "fundamentals", as_of, entity="AAPL", source="sec_edgar")
        return {(r["period_start"][:10], r["period_end"][:10]): r["value"] for r in rows}

    wait_for(lambda: len(lake_facts()) == 4, 30, "the fetched fundamentals in the lake")
    now = datetime.now(UTC)
    assert lake_facts() == fixture_facts(now)  # FY2023 as restated in the FY2024 10-K
    first_filed = min(midnight(f["filed"]) for f in filings)
    for as_of in (first_filed, midnight("2023-11-03"), midnight("2024-11-01") - SECOND):
        assert lake_facts(as_of) == fixture_facts(as_of) != {}
    assert lake_facts(first_filed - SECOND) == {}  # before the first filing: absent
    # learned when filed, not when fetched: already known a second before our fetch
    assert lake_facts(fetched - SECOND) == fixture_facts(now)

    # --- macro: a FRED series with every vintage (ALFRED), one row per vintage learned
    post_fetch(
        gateway,
        {
            "kind": "macro",
            "provider": "fred",
            "params": {
                "series_id": "GDPC1",
                "observation_start": "2020-04-01",
                "observation_end": "2020-04-01",
                "all_vintages": True,
            },
        },
    )
    vintages = fixture_json("fred", VINTAGES)["observations"]

    def macro(as_of: datetime | None = None) -> list[tuple[str, float, int]]:
        rows = stored(gateway, "macro", as_of, series="FRED:GDPC1")
        return [(r["period"][:10], r["value"], r["revision"]) for r in rows]

    wait_for(lambda: macro() == [("2020-04-01", float(vintages[-1]["value"]), 3)], 30, "GDPC1")
    for revision, vintage in enumerate(vintages):
        learned = midnight(vintage["realtime_start"])
        assert macro(learned) == [("2020-04-01", float(vintage["value"]), revision)]
    assert macro(midnight(vintages[0]["realtime_start"]) - SECOND) == []

    # --- news: NewsAPI everything over three pages; learned when fetched
    before = datetime.now(UTC)
    answer = post_fetch(
        gateway,
        {
            "kind": "news",
            "provider": "newsapi",
            "dataset": "everything",
            "params": {
                "tickers": ["TSLA"],
                "start": "2024-09-28T00:00:00Z",
                "end": "2024-10-03T00:00:00Z",
                "page_size": 3,
            },
        },
    )
    after = datetime.now(UTC)
    articles = {
        a["url"]: a
        for n in (1, 2, 3)
        for a in fixture_json("newsapi", f"everything_page{n}.json")["articles"]
    }  # a syndicated copy repeats a URL: one item

    def news(as_of: datetime | None = None) -> dict[str, tuple[str, str]]:
        rows = stored(gateway, "news", as_of, instrument="TSLA", source="newsapi")
        return {r["url"]: (r["title"], r["ts_published"]) for r in rows}

    wait_for(lambda: len(news()) == len(articles), 30, "the fetched news in the lake")
    assert news() == {
        url: (a["title"], a["publishedAt"].replace("+00:00", "Z")) for url, a in articles.items()
    }
    for record in answer["records"]:
        assert before <= datetime.fromisoformat(record["ts_known"]) <= after
    assert news(before - SECOND) == {}  # a second before the fetch: not yet learned
