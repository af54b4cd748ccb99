"""One provider contract, one registry: a provider module written once is usable by the unified
fetcher, the ingest worker and the backfill; the offline providers (simulated, shipped) are
ordinary modules the fetch API serves by name.

Only the network edge is faked (respx serves the ``tick`` API); the registry, the unified
fetcher, the worker, the backfill and a real Kafka-wire broker run for real.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from aiokafka import AIOKafkaConsumer
from fastapi import FastAPI

from sextant_common import topics
from sextant_common.events import AssetClass, Bar, Interval
from sextant_common.instruments import Instrument
from sextant_ingest.api.routes import fetch
from sextant_ingest.app import build_app
from sextant_ingest.backfill import load_universe
from sextant_ingest.backfill.cli import backfill, build_parser
from sextant_ingest.fetching import FetchSettings, UnifiedFetcher
from sextant_ingest.market.universe import default_instruments
from sextant_ingest.providers import polygon
from sextant_ingest.providers.base import BarQuery
from sextant_ingest.providers.simulated import SimulatedProvider
from sextant_ingest.settings import IngestSettings
from tests.ingest import contract_provider as tick
from tests.ingest.provider_fixtures import RESOURCES

ISOLATED: dict[str, Any] = {
    "routes": {},
    "redis_url": None,
    "datasets_url": None,
    "secrets_file": None,
}
"""Settings that keep a test off the machine's Redis, datasets service and secrets."""


async def read_bars(bootstrap: str, expected: int) -> list[Bar]:
    """Every bar on ``md.bars.v1`` once ``expected`` have arrived."""
    consumer = AIOKafkaConsumer(
        topics.MD_BARS, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    bars: list[Bar] = []
    try:
        async with asyncio.timeout(30):
            while len(bars) < expected:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    bars += [Bar.model_validate_json(r.value or b"") for r in records]
    finally:
        await consumer.stop()
    return bars


async def backfill_status(client: httpx.AsyncClient, timeout_s: float = 30.0) -> Any:
    """The ingest service's ``/status`` once its worker finished the backfill."""
    for _ in range(int(timeout_s / 0.1)):
        status = (await client.get("/status")).json()
        if status["backfill_done"]:
            return status
        await asyncio.sleep(0.1)
    raise AssertionError(f"no backfill within {timeout_s} s: {status}")


@pytest.mark.integration
async def test_a_provider_module_written_once_serves_the_fetcher_the_worker_and_the_backfill(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    settings = IngestSettings(
        kafka_bootstrap=kafka_bootstrap,
        data_dir=tmp_path,
        fetch_providers=["tests.ingest.contract_provider"],  # discovered by module name
        ingest_providers=["tick"],
        ingest_history_days=7,
        ingest_live=False,
        credentials={tick.KEY_VARIABLE: tick.SECRET},
        **ISOLATED,
    )
    universe = tmp_path / "universe.csv"
    universe.write_text(f"ticker,name\nAAPL,Apple\n{tick.UNKNOWN},Nobody\n")
    app = build_app(settings)  # the ingest service: one registry for its fetch API and worker
    transport = httpx.ASGITransport(app=app)
    with respx.mock(assert_all_called=True) as network:
        api = network.route(host="api.tick.test").mock(side_effect=tick.edge)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://ingest") as client,
        ):
            # The fetcher (POST /v1/fetch): asked by name, and routed (no route: any provider).
            params = {"instrument_id": "AAPL", "start": "2024-01-02", "end": "2024-01-06"}
            request = {"kind": "bars", "params": params, "publish": False}
            named = (await client.post("/v1/fetch", json={**request, "provider": "tick"})).json()
            routed = await client.post("/v1/fetch", json={**request, "asset_class": "equity"})
            assert (named["provider"], named["dataset"]) == ("tick", "daily")
            assert routed.json()["provider"] == "tick"
            assert [r["ts_event"][:10] for r in named["records"]] == [
                f"2024-01-0{day}" for day in (2, 3, 4, 5)
            ]
            assert {r["source"] for r in named["records"]} == {"tick"}
            listing = {p["name"]: p for p in (await client.get("/v1/providers")).json()}
            assert listing["tick"]["available"] and listing["tick"]["datasets"] == ["daily"]

            # The worker: SEXTANT_INGEST_PROVIDERS=["tick"] backfills the same module's history.
            status = await backfill_status(client)
        equities = [i for i in default_instruments() if i.asset_class is AssetClass.EQUITY]
        from_worker = status["backfilled"]["tick"]
        assert from_worker >= 4 * len(equities)  # the week before today holds >= 4 weekdays

        # The backfill: `sextant backfill --provider tick`, one key per ticker.
        args = build_parser().parse_args(
            [
                *("backfill", "--provider", "tick", "--universe", str(universe), "--quiet"),
                *("--start", "2024-01-02", "--end", "2024-01-09"),
                *("--checkpoint", str(tmp_path / "tick.jsonl")),
            ]
        )
        summary = await backfill(args, settings, load_universe(universe))
        assert (summary.done, summary.rows) == (1, 5)  # Jan 2-5 and 8
        assert "UnknownInstrument" in summary.failed[tick.UNKNOWN]
        assert all(call.request.headers["X-Tick-Key"] == tick.SECRET for call in api.calls)

    bars = await read_bars(kafka_bootstrap, from_worker + 5)
    assert len(bars) == from_worker + 5
    assert {b.source for b in bars} == {"tick"}
    backfilled = sorted(b.ts_event.date() for b in bars if b.ts_event.year == 2024)
    assert backfilled == [date(2024, 1, d) for d in (2, 3, 4, 5, 8)]


async def test_the_offline_providers_are_modules_the_fetch_api_serves_by_name_only(
    tmp_path: Path,
) -> None:
    settings = FetchSettings(
        data_dir=tmp_path, fetch_providers=["shipped", "simulated"], **ISOLATED
    )
    app = FastAPI()
    app.include_router(fetch.router)
    transport = httpx.ASGITransport(app=app)
    async with (
        UnifiedFetcher(settings) as fetcher,
        httpx.AsyncClient(transport=transport, base_url="http://ingest") as client,
    ):
        app.state.fetcher = fetcher
        listing = {p["name"]: p for p in (await client.get("/v1/providers")).json()}
        assert {name: p["datasets"] for name, p in listing.items()} == {
            "shipped": ["bars"],
            "simulated": ["option_chain", "bars"],
        }
        assert listing["simulated"]["available"] and listing["shipped"]["available"]

        async def post(**body: Any) -> httpx.Response:
            return await client.post("/v1/fetch", json={"kind": "bars", "publish": False, **body})

        week = {"start": "2024-01-02", "end": "2024-01-06"}
        answer = await post(
            provider="simulated", dataset="bars", params={"instrument_id": "AAPL", **week}
        )
        assert answer.status_code == 200, answer.text
        records = answer.json()["records"]
        assert answer.json()["provider"] == "simulated" and len(records) == 4
        assert {r["source"] for r in records} == {"simulated"}  # labeled simulated, always
        # The same bars the worker publishes: one provider, whoever asks.
        market = SimulatedProvider.from_settings(settings)
        start, end = (datetime(2024, 1, day, tzinfo=UTC) for day in (2, 6))
        query = BarQuery(Interval.D1, start, end, ("AAPL",))
        expected = [bar async for bar in market.history(query)]
        assert records == [b.model_dump(mode="json") for b in expected]

        spx = await post(
            provider="shipped",
            params={"instrument_id": "SPX", "start": "2018-12-24", "end": "2018-12-29"},
        )
        assert spx.status_code == 200 and spx.json()["rows"] == 4  # closed on Christmas
        assert {r["source"] for r in spx.json()["records"]} == {"shipped"}

        # Never a stand-in for a real provider: routing skips them, asking by name is required.
        routed = await post(asset_class="equity", params={"instrument_id": "AAPL", **week})
        assert routed.status_code == 404 and "no loaded provider serves bars" in routed.text
        unknown = await post(provider="simulated", params={"instrument_id": "NOPE", **week})
        assert unknown.status_code == 404 and "NOPE" in unknown.text
        intraday = await post(
            provider="shipped", params={"instrument_id": "SPX", "interval": "5m", **week}
        )
        assert intraday.status_code == 422 and "interval" in intraday.text


async def test_polygon_with_a_key_is_a_bar_source_for_the_worker_and_the_backfill(
    tmp_path: Path,
) -> None:
    settings = FetchSettings(
        data_dir=tmp_path,
        fetch_providers=["polygon", "fred"],
        credentials={polygon.API_KEY_VARIABLE: "pk-5ecret"},
        **ISOLATED,
    )
    url = f"{polygon.PROVIDER.base_url}/v2/aggs/ticker/AAPL/range/1/day/2024-01-02/2024-01-05"
    body = (RESOURCES / "polygon" / "aggs_aapl_day.json").read_bytes()
    aapl = Instrument(
        instrument_id="AAPL", asset_class=AssetClass.EQUITY, name="Apple", calendar="XNYS"
    )
    with respx.mock() as network:
        route = network.get(url).mock(return_value=httpx.Response(200, content=body))
        async with UnifiedFetcher(settings) as fetcher:
            source = fetcher.bar_provider("polygon", universe=[aapl])
            start, end = (datetime(2024, 1, day, tzinfo=UTC) for day in (2, 6))
            bars = [bar async for bar in source.history(BarQuery(Interval.D1, start, end))]
            with pytest.raises(ValueError, match=r"'fred' has no bars .*\['polygon'\]"):
                fetcher.bar_provider("fred")
    assert [b.ts_event.date().day for b in bars] == [2, 3, 4, 5]
    assert {(b.instrument_id, b.source) for b in bars} == {("AAPL", "polygon")}
    assert route.calls.last.request.headers["Authorization"] == "Bearer pk-5ecret"
