"""Crypto and futures bars through ``POST /v1/fetch`` on the default routes: crypto goes to
Coinbase first (real volumes, whole history), futures to Databento (which needs a key).

Only the network edge is faked (respx replays tests/resources/<provider>/); the fetch route,
the unified fetcher (routing, limits, keys, audit) and httpx run for real.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import respx
from fastapi import FastAPI

from sextant_common.events import Interval
from sextant_ingest.api.routes import fetch
from sextant_ingest.fetching import FetchSettings, UnifiedFetcher
from sextant_ingest.fetching.settings import DEFAULT_ROUTES
from sextant_ingest.providers import coinbase, databento
from sextant_ingest.providers.base import BarQuery
from tests.ingest.provider_fixtures import SECRET, fixture_json, utc
from tests.ingest.window_replies import (
    COINBASE_PAGES,
    DATABENTO_WINDOWS,
    coinbase_page,
    databento_window,
)

PROVIDERS = ["polygon", "coinbase", "coingecko", "databento"]
BTC_HISTORY = {"instrument_id": "BTC-USD", "start": "2015-01-01", "end": "2016-12-31"}
ES_QUARTER = {
    "instrument_id": "ES.c.0",
    "start": "2024-01-01",
    "end": "2024-03-31",
    "window_bars": 31,
}


def settings(tmp_path: Path, **credentials: str) -> FetchSettings:
    """The default routes over the bar providers, off the machine's Redis, lake and secrets."""
    return FetchSettings(
        kafka_bootstrap=None,
        data_dir=tmp_path,
        fetch_providers=PROVIDERS,
        credentials=credentials,
        redis_url=None,
        secrets_file=None,
        datasets_url=None,
    )


@asynccontextmanager
async def ingest(tmp_path: Path, **credentials: str) -> AsyncIterator[httpx.AsyncClient]:
    """The ingest fetch routes over a real UnifiedFetcher on the default routes."""
    app = FastAPI()
    app.include_router(fetch.router)
    async with UnifiedFetcher(settings(tmp_path, **credentials)) as fetcher:
        app.state.fetcher = fetcher
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
            yield client


def bars(asset_class: str, params: dict[str, Any]) -> dict[str, Any]:
    """A routed bars request: no provider named."""
    return {"kind": "bars", "asset_class": asset_class, "params": params, "publish": False}


def mocked(url: str, side_effect: Callable[[httpx.Request], httpx.Response], method: str) -> Any:
    return respx.route(method=method, url=url).mock(side_effect=side_effect)


@respx.mock
async def test_crypto_is_routed_to_coinbase_with_real_volumes_over_the_whole_history(
    tmp_path: Path,
) -> None:
    assert DEFAULT_ROUTES["bars:crypto"][0] == "coinbase"
    route = mocked(f"{coinbase.PROVIDER.base_url}/products/BTC-USD/candles", coinbase_page, "GET")
    async with ingest(tmp_path) as client:
        response = await client.post("/v1/fetch", json=bars("crypto", BTC_HISTORY))

    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["provider"], answer["dataset"]) == ("coinbase", "candles")
    assert route.call_count == 3  # 2015-01-01 .. 2016-12-31 in windows of 300 days
    records = answer["records"]
    assert answer["rows"] == len(records) == 100 + 300 + 131
    assert records[0]["ts_event"].startswith("2015-07-20")  # the listing day
    assert records[-1]["ts_event"].startswith("2016-12-31")
    volumes = {
        row[0]: row[5] for name in COINBASE_PAGES.values() for row in fixture_json("coinbase", name)
    }
    assert sorted(r["volume"] for r in records) == sorted(volumes.values())
    assert min(r["volume"] for r in records) > 0
    assert {(r["source"], r["asset_class"]) for r in records} == {("coinbase", "crypto")}


async def test_futures_without_the_key_answer_503_naming_the_variable(tmp_path: Path) -> None:
    with respx.mock:  # any request would fail the test: nothing may be sent without a key
        async with ingest(tmp_path) as client:
            response = await client.post("/v1/fetch", json=bars("future", ES_QUARTER))
            listing = {p["name"]: p for p in (await client.get("/v1/providers")).json()}

    assert response.status_code == 503
    assert "set SEXTANT_DATABENTO_API_KEY" in response.json()["detail"]
    assert listing["databento"]["available"] is False
    assert listing["databento"]["missing"] == ["SEXTANT_DATABENTO_API_KEY"]
    assert listing["coinbase"]["available"] is True and listing["coinbase"]["credentials"] == []


@respx.mock
async def test_futures_with_the_key_are_databento_bars_in_contracts(tmp_path: Path) -> None:
    route = mocked(f"{databento.PROVIDER.base_url}/timeseries.get_range", databento_window, "POST")
    async with ingest(tmp_path, SEXTANT_DATABENTO_API_KEY=SECRET) as client:
        response = await client.post("/v1/fetch", json=bars("future", ES_QUARTER))
        refused = await client.post(
            "/v1/fetch", json=bars("future", {**ES_QUARTER, "instrument_id": "ES"})
        )
        listing = {p["name"]: p for p in (await client.get("/v1/providers")).json()}

    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["provider"] == "databento" and route.call_count == len(DATABENTO_WINDOWS)
    records = answer["records"]
    assert {(r["instrument_id"], r["asset_class"], r["source"]) for r in records} == {
        ("ES.c.0", "future", "databento")
    }
    assert len(records) == 27 + 26 + 25 and min(r["volume"] for r in records) > 0
    assert SECRET not in response.text
    assert listing["databento"]["available"] is True  # and still says which key it reads
    assert listing["databento"]["credentials"] == ["SEXTANT_DATABENTO_API_KEY"]
    assert refused.status_code == 422
    assert "instrument_id" in refused.text and "ESZ6" in refused.text


@respx.mock
async def test_coinbase_is_a_bar_source_for_the_worker_and_the_backfill(tmp_path: Path) -> None:
    mocked(f"{coinbase.PROVIDER.base_url}/products/BTC-USD/candles", coinbase_page, "GET")
    query = BarQuery(Interval.D1, utc(2015, 1, 1), utc(2017, 1, 1), ("BTC-USD",))
    async with UnifiedFetcher(settings(tmp_path)) as fetcher:
        source = fetcher.bar_provider("coinbase")
        served = {i.instrument_id for i in source.instruments()}
        history = [bar async for bar in source.history(query)]

    assert {"BTC-USD", "ETH-USD", "SOL-USD"} <= served  # the default universe's crypto
    assert len(history) == 100 + 300 + 131
    assert {b.source for b in history} == {"coinbase"} and min(b.volume for b in history) > 0
