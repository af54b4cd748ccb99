"""Option chains end to end on a real broker: ingest publishes simulated snapshots on
``md.options.v1``, datasets stores them point in time, quant values them, the gateway serves
``/api/v1/quant/options/{chain,surface}``. A snapshot published straight to the bus (as a
provider's fetch would be) carries a planted butterfly arbitrage, which the surface flags."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from aiokafka import AIOKafkaProducer

from sextant_common import topics
from sextant_common.events import OptionQuote, OptionRight
from sextant_common.settings import CommonSettings
from sextant_ingest.fetching import KafkaEventPublisher
from sextant_quant.options import SviParams, bsm_price
from tests.support import auth_for, running_services, wait_for

pytestmark = pytest.mark.integration

RATE = 0.04
FIRST = datetime(2026, 6, 1, 21, tzinfo=UTC)
SECOND = FIRST + timedelta(days=1)
EXPIRY = date(2027, 6, 1)  # one year after FIRST: the published slice as it is
# Gatheral & Jacquier (2014), section 5.1: g(k) < 0 for k in about 0.65..1.25.
ARBITRAGE_SLICE = SviParams(a=-0.0410, b=0.1331, rho=0.3060, m=0.3586, sigma=0.4153)


def planted_chain(underlying: str, snapshot: datetime, spot: float) -> list[OptionQuote]:
    """Calls and puts priced from the arbitrage slice (European, rate 4%, no dividends)."""
    t = (datetime.combine(EXPIRY, datetime.min.time(), UTC) + timedelta(hours=21) - snapshot) / (
        timedelta(days=365)
    )
    strikes = np.arange(50.0, 301.0, 10.0) * spot / 100
    forward = spot * np.exp(RATE * t)
    vol = np.sqrt(ARBITRAGE_SLICE.total_variance(np.log(strikes / forward)) / t)
    quotes = []
    for right in OptionRight:
        mids = bsm_price(right.value, spot, strikes, t, RATE, RATE, vol)
        for strike, mid in zip(strikes.tolist(), mids.tolist(), strict=True):
            quotes.append(
                OptionQuote(
                    contract=f"{underlying}{EXPIRY:%y%m%d}{right.value[0].upper()}"
                    f"{round(strike * 1000):08d}",
                    underlying=underlying,
                    expiry=EXPIRY,
                    strike=strike,
                    right=right,
                    style="european",
                    ts_event=snapshot,
                    bid=mid * 0.999,
                    ask=mid * 1.001,
                    underlying_price=spot,
                    source="test",
                    ts_known=snapshot,
                )
            )
    return quotes


async def publish(bootstrap: str, quotes: list[OptionQuote]) -> None:
    """The quotes twice (a redelivery), then a record that is not a quote."""
    async with KafkaEventPublisher(CommonSettings(kafka_bootstrap=bootstrap)) as publisher:
        assert await publisher.publish(quotes) == len(quotes)
        assert await publisher.publish(quotes) == len(quotes)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topics.MD_OPTIONS, b'{"contract": "X"}', key=b"ARB")
    finally:
        await producer.stop()


def test_chains_flow_from_ingest_to_the_gateway(kafka_bootstrap: str, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:4].upper()
    planted = f"ARB{tag}"
    with running_services(
        kafka_bootstrap,
        tmp_path,
        ["datasets", "quant", "gateway", "ingest"],
        SEXTANT_DATASETS_GROUP=f"datasets-{tag.lower()}",
        SEXTANT_FETCH_PROVIDERS='["simulated"]',
        SEXTANT_INGEST_PROVIDERS='["simulated"]',
        SEXTANT_INGEST_HISTORY_DAYS="3",
        SEXTANT_INGEST_LIVE="false",
    ) as ports:
        quant = f"http://127.0.0.1:{ports.gateway}/api/v1/quant/options"

        def get(path: str, status: int = 200, **params: str) -> dict[str, Any]:
            response = httpx.get(
                f"{quant}/{path}", params=params, timeout=60, auth=auth_for(quant, "viewer")
            )
            assert response.status_code == status, response.text
            body: dict[str, Any] = response.json()
            return body

        def stored(underlying: str) -> dict[str, Any] | None:
            response = httpx.get(
                f"{quant}/chain",
                params={"underlying": underlying},
                timeout=60,
                auth=auth_for(quant, "viewer"),
            )
            return response.json() if response.status_code == 200 else None

        # ingest published a simulated snapshot of every equity and index at start
        chain = wait_for(lambda: stored("AAPL"), 120, "the simulated AAPL chain")
        assert chain["source"] == "simulated" and chain["simulated"] is True
        assert len(chain["expiries"]) == 7 and chain["expiry"] is None
        assert chain["count"] == len(chain["contracts"]) > 100
        for contract in chain["contracts"]:
            assert contract["bid"] < contract["ask"]
            assert contract["mid"] == pytest.approx(0.5 * (contract["bid"] + contract["ask"]))
        solved = [c for c in chain["contracts"] if c["iv"] is not None]
        assert len(solved) > 0.9 * chain["count"]
        assert all(0.05 < c["iv"] < 1.5 and c["greeks_vol"] == "ours" for c in solved)
        assert {"delta", "gamma", "vega", "theta", "rho"} <= set(solved[0]["greeks"])

        expiry = chain["expiries"][2]
        one = get("chain", underlying="AAPL", expiry=expiry)
        assert {c["expiry"] for c in one["contracts"]} == {expiry}
        assert one["snapshot"] == chain["snapshot"]
        unlisted = get("chain", 422, underlying="AAPL", expiry="2031-01-17")
        assert unlisted["detail"][0]["loc"][-1] == "expiry"
        assert expiry in unlisted["detail"][0]["msg"]
        missing = get("chain", 404, underlying="NOPE")
        assert "NOPE" in missing["detail"] and "underlying" in missing["detail"]

        surface = get("surface", underlying="AAPL")
        assert surface["simulated"] is True and len(surface["slices"]) == 7
        assert max(s["rmse_vol"] for s in surface["slices"]) < 0.02  # 1% vol noise
        assert len(surface["grid"]["iv"]) == 7 and len(surface["grid"]["iv"][0]) == 25
        assert len(surface["residuals"]) > 50

        # a chain published straight to the bus, twice, with a bad record after it
        asyncio.run(
            publish(
                kafka_bootstrap,
                planted_chain(planted, FIRST, 100.0) + planted_chain(planted, SECOND, 110.0),
            )
        )
        latest = wait_for(lambda: stored(planted), 60, "the planted chain")
        assert latest["snapshot"] == "2026-06-02T21:00:00Z" and latest["count"] == 52
        earlier = get("chain", underlying=planted, as_of="2026-06-02T12:00:00Z")
        assert earlier["snapshot"] == "2026-06-01T21:00:00Z"
        assert {c["underlying_price"] for c in earlier["contracts"]} == {100.0}
        get("chain", 404, underlying=planted, as_of="2026-06-01T20:59:59Z")

        flagged = get("surface", underlying=planted, as_of="2026-06-01T21:00:00Z", rate=str(RATE))
        assert flagged["arbitrage"]["free"] is False
        assert flagged["arbitrage"]["butterfly"][0]["min_g"] < 0
        assert flagged["slices"][0]["butterfly_arbitrage"] is True

        datasets = f"http://127.0.0.1:{ports.datasets}/v1/dlq"
        letters = wait_for(
            lambda: (
                httpx.get(datasets, params={"topic": topics.MD_OPTIONS}, timeout=10)
                .json()
                .get("total")
            ),
            30,
            "the bad option record dead-lettered",
        )
        assert letters == 1
