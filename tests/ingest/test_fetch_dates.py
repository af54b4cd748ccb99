"""``POST /v1/fetch`` takes the date forms ``GET /v1/bars`` takes, and its errors name the
parameter the caller sent (``params.start``), never a provider's query class.

Before, ``"start": "2008-01-01"`` was refused ("Input should have timezone info") and the 422
said ``1 validation error for PolygonAggregatesQuery``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from fastapi import FastAPI

from sextant_common.timeparse import parse_bound
from sextant_ingest.api.routes import fetch
from sextant_ingest.fetching import FetchSettings, UnifiedFetcher
from sextant_ingest.providers import coingecko, newsapi, oanda, polygon, reddit, tiingo
from tests.ingest.provider_fixtures import SECRET, reply

DAY_URL = f"{polygon.PROVIDER.base_url}/v2/aggs/ticker/AAPL/range/1/day/2024-01-02/2024-01-05"
AAPL = {"instrument_id": "AAPL", "interval": "1d"}


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The ingest fetch routes over a real UnifiedFetcher with polygon loaded (HTTP mocked)."""
    settings = FetchSettings(
        kafka_bootstrap=None,
        data_dir=tmp_path,
        fetch_providers=["polygon"],
        routes={},
        credentials={polygon.API_KEY_VARIABLE: SECRET},
        redis_url=None,
        secrets_file=None,
        datasets_url=None,
    )
    app = FastAPI()
    app.include_router(fetch.router)
    async with UnifiedFetcher(settings) as fetcher:
        app.state.fetcher = fetcher
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as http:
            yield http


def body(**params: Any) -> dict[str, Any]:
    return {"kind": "bars", "provider": "polygon", "publish": False, "params": params}


@respx.mock
async def test_bare_dates_are_accepted_and_cover_the_end_day(client: httpx.AsyncClient) -> None:
    route = respx.get(DAY_URL).mock(return_value=reply("polygon", "aggs_aapl_day.json"))
    response = await client.post(
        "/v1/fetch", json=body(**AAPL, start="2024-01-02", end="2024-01-05")
    )
    assert response.status_code == 200, response.text
    assert route.called
    days = [r["ts_event"][:10] for r in response.json()["records"]]
    assert days[0] == "2024-01-02" and days[-1] == "2024-01-05"  # the bare end day included


async def test_errors_name_the_parameter_not_the_query_class(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/fetch", json=body(**AAPL, start="2024-13-01", end="2024-01-05")
    )
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "params", "start"]
    assert "'2024-13-01' is not a date" in error["msg"]
    missing = await client.post("/v1/fetch", json=body(start="2024-01-02", end="2024-01-05"))
    assert missing.status_code == 422
    locs = [e["loc"] for e in missing.json()["detail"]]
    assert ["body", "params", "instrument_id"] in locs
    for text in (response.text, missing.text):
        assert "Query" not in text and "validation error for" not in text


@pytest.mark.parametrize(
    ("query_model", "base"),
    [
        (polygon.PolygonAggregatesQuery, AAPL),
        (tiingo.TiingoQuery, {"instrument_id": "AAPL", "interval": "1d"}),
        (oanda.OandaCandlesQuery, {"instrument_id": "EURUSD", "interval": "1d"}),
        (coingecko.CoinGeckoOhlcQuery, {"instrument_id": "BTC-USD", "interval": "1d"}),
        (newsapi.EverythingQuery, {"q": "Tesla"}),
        (reddit.SubredditQuery, {}),
    ],
)
@pytest.mark.parametrize("form", ["2008-01-01", "2008-01-01T00:00:00Z", "2008-01-01T00:00+00:00"])
def test_every_provider_reads_start_as_bars_does(
    query_model: Any, base: dict[str, Any], form: str
) -> None:
    query = query_model.model_validate({**base, "start": form, "end": "2008-01-31"})
    assert query.start == parse_bound(form, field="start") == datetime(2008, 1, 1, tzinfo=UTC)
    assert query.end == datetime(2008, 2, 1, tzinfo=UTC)  # [start, end): all of Jan 31
