"""The simulated market's option chains: seeded, labeled simulated, priced from an
arbitrage-free SVI surface (checked with the quant service's SVI and implied-vol code)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi import FastAPI

from sextant_common.events import Event, OptionQuote, OptionRight
from sextant_ingest.api.routes import fetch
from sextant_ingest.fetching import UnifiedFetcher
from sextant_ingest.fetching.settings import FetchSettings
from sextant_ingest.market import option_chain
from sextant_ingest.market.option_chain import simulate_chain, surface_for, years_to
from sextant_ingest.option_chains import publish_chains, run_chain_feed, simulated_underlyings
from sextant_ingest.providers.errors import NotFound
from sextant_ingest.providers.fetcher import DataKind
from sextant_ingest.providers.simulated import SimulatedOptionChainFetcher, SimulatedProvider
from sextant_quant.options import SurfaceFit, SviParams, SviSlice, implied_vol

SNAPSHOT = datetime(2026, 12, 7, 18, 30, tzinfo=UTC)


def fetcher(seed: int = 7) -> SimulatedOptionChainFetcher:
    market = SimulatedProvider(seed=seed, clock=lambda: SNAPSHOT)
    return SimulatedOptionChainFetcher(market, clock=lambda: SNAPSHOT)


async def chain(params: dict[str, Any], seed: int = 7) -> list[Any]:
    source = fetcher(seed)
    query = source.transform_query(params)
    raw = await source.aextract_data(query, None)  # type: ignore[arg-type]  # no HTTP
    return source.transform_data(query, raw).records


async def test_the_same_seed_and_snapshot_give_the_same_chain() -> None:
    first = await chain({"underlying": "AAPL"})
    again = await chain({"underlying": "AAPL", "as_of": SNAPSHOT.isoformat()})
    other_seed = await chain({"underlying": "AAPL"}, seed=8)
    later = await chain({"underlying": "AAPL", "as_of": SNAPSHOT + timedelta(minutes=1)})

    assert [q.model_dump() for q in first] == [q.model_dump() for q in again]
    assert [q.bid for q in first] != [q.bid for q in other_seed]
    assert [q.bid for q in first] != [q.bid for q in later]


async def test_quotes_are_labeled_simulated_and_cover_1w_to_1y() -> None:
    quotes = await chain({"underlying": "AAPL"})

    assert {q.source for q in quotes} == {"simulated"}
    assert {q.ts_event for q in quotes} == {q.ts_known for q in quotes} == {SNAPSHOT}
    expiries = sorted({q.expiry for q in quotes})
    assert expiries[0] == date(2026, 12, 18) and expiries[-1] == date(2027, 12, 17)
    assert len(expiries) == 7
    spot = quotes[0].underlying_price
    assert spot is not None
    for expiry in expiries:
        strikes = sorted({q.strike for q in quotes if q.expiry == expiry})
        assert 14 <= len(strikes) <= 30 and strikes[0] < spot < strikes[-1]
        rights = [q.right for q in quotes if q.expiry == expiry]
        assert rights.count(OptionRight.CALL) == rights.count(OptionRight.PUT)
    assert all(q.bid is not None and q.ask is not None and 0 <= q.bid < q.ask for q in quotes)
    assert quotes[0].contract == "AAPL261218C00182500"


async def test_fx_and_unknown_underlyings_have_no_options() -> None:
    for underlying in ("EURUSD", "NOPE"):
        with pytest.raises(NotFound, match="equities and indices do"):
            await chain({"underlying": underlying})


def test_declared_as_an_options_dataset() -> None:
    assert SimulatedOptionChainFetcher.kind is DataKind.OPTIONS
    assert SimulatedOptionChainFetcher.dataset == "option_chain"


@pytest.mark.parametrize("underlying", ["AAPL", "TSLA", "NDX", "KO"])
@pytest.mark.parametrize("seed", [0, 7, 42])
def test_the_surface_before_noise_is_free_of_static_arbitrage(underlying: str, seed: int) -> None:
    surface = surface_for(seed, underlying, base_vol=0.3)
    expiries = option_chain.listed_expiries(SNAPSHOT)
    slices = []
    for expiry in expiries:
        t = years_to(expiry, SNAPSHOT)
        params = SviParams(*surface.raw_svi(t))
        k = np.linspace(-1.5, 1.0, 201)
        # the raw SVI slice is the SSVI smile
        assert np.allclose(params.total_variance(k), surface.total_variance(k, t), rtol=1e-12)
        slices.append(SviSlice(t, params, 0.0, 0.0, 15, -1.5, 1.0))

    report = SurfaceFit(tuple(slices)).arbitrage(np.linspace(-3.0, 2.0, 2001))

    assert report.free, report


def test_model_prices_invert_to_the_surface_vols() -> None:
    slices = simulate_chain(7, "MSFT", 0.24, 418.0, SNAPSHOT)

    for s in slices:
        solved = implied_vol(
            s.model_price,
            np.where(s.is_call, "call", "put"),
            418.0,
            s.strike,
            s.t,
            option_chain.RATE,
            option_chain.RATE - option_chain.DIVIDEND_YIELD,
        )
        usable = s.model_price > 1e-6  # deep OTM prices hold no vol information
        assert solved.ok[usable].all()
        assert np.allclose(solved.vol[usable], s.model_vol[usable], rtol=1e-8)
        mid = 0.5 * (s.bid + s.ask)
        assert np.all(np.abs(mid - s.model_price) < 0.1 * s.model_price + 0.02)


def offline_settings(data_dir: Path) -> FetchSettings:
    """The simulated market only, off the machine's Redis, datasets service and secrets."""
    return FetchSettings(
        data_dir=data_dir,
        fetch_providers=["simulated"],
        routes={},
        redis_url=None,
        datasets_url=None,
        secrets_file=None,
    )


class FlakySink:
    """An event sink whose first publish fails (the broker down), then keeps what it gets."""

    def __init__(self) -> None:
        self.calls = 0
        self.records: list[Event] = []
        self.received = asyncio.Event()

    async def publish(self, records: Sequence[Event]) -> int:
        self.calls += 1
        if self.calls == 1:
            raise ConnectionError("broker unreachable")
        self.records.extend(records)
        self.received.set()
        return len(records)


async def test_the_feed_publishes_every_underlying_and_outlives_a_failed_round(
    tmp_path: Path,
) -> None:
    sink = FlakySink()
    async with UnifiedFetcher(offline_settings(tmp_path), publisher=sink) as fetcher:
        underlyings = simulated_underlyings(fetcher)
        assert "AAPL" in underlyings and "NDX" in underlyings and "EURUSD" not in underlyings
        feed = asyncio.create_task(run_chain_feed(fetcher, ["AAPL"], period_s=0.01))
        try:
            async with asyncio.timeout(30):
                await sink.received.wait()
        finally:
            feed.cancel()
        sent = await publish_chains(fetcher, ["MSFT", "EURUSD"])  # EURUSD: logged, skipped

    assert sink.calls >= 3
    assert {q.underlying for q in sink.records} == {"AAPL", "MSFT"}
    assert sent == sum(q.underlying == "MSFT" for q in sink.records) > 100
    assert all(isinstance(q, OptionQuote) and q.source == "simulated" for q in sink.records)


async def test_the_fetch_api_serves_a_snapshot_by_name(tmp_path: Path) -> None:
    settings = offline_settings(tmp_path)
    app = FastAPI()
    app.include_router(fetch.router)
    transport = httpx.ASGITransport(app=app)
    async with (
        UnifiedFetcher(settings) as fetcher,
        httpx.AsyncClient(transport=transport, base_url="http://ingest") as client,
    ):
        app.state.fetcher = fetcher
        body = {"kind": "options", "provider": "simulated", "publish": False}
        snapshot = {"underlying": "NDX", "as_of": "2026-03-02T15:30:00Z"}
        answer = await client.post("/v1/fetch", json={**body, "params": snapshot})
        unknown = await client.post("/v1/fetch", json={**body, "params": {"underlying": "BTC-USD"}})
        # routing never falls back to simulated data: without a provider named, none serves it
        unnamed = await client.post(
            "/v1/fetch", json={"kind": "options", "publish": False, "params": snapshot}
        )

    assert answer.status_code == 200, answer.text
    records = answer.json()["records"]
    assert answer.json()["dataset"] == "option_chain" and len(records) > 100
    assert {r["source"] for r in records} == {"simulated"}
    assert {r["ts_event"] for r in records} == {"2026-03-02T15:30:00Z"}
    assert unknown.status_code == 404 and "BTC-USD" in unknown.text
    assert unnamed.status_code == 404
