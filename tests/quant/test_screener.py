"""``/api/v1/quant/screener`` through the gateway on the real stack (shipped S&P 500 and NASDAQ,
the simulated market), checked against pandas on the same bars read from ``/api/v1/bars``."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from tests.conftest import Stack
from tests.support import (
    assert_screener_row,
    auth_for,
    daily_frame,
    make_bar,
    publish_bars,
    screener_reference,
    wait_for,
    wait_for_shipped_history,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PLANTED = "ZZPIT"
"""An instrument only this module stores (source ``test``), with one bar far after the rest."""


@pytest.fixture(scope="module")
def gateway(full_stack: Stack) -> str:
    return wait_for_shipped_history(full_stack.gateway_url)


def screen(gateway: str, **params: Any) -> httpx.Response:
    return httpx.get(
        f"{gateway}/api/v1/quant/screener",
        params=params,
        timeout=60,
        auth=auth_for(gateway, "viewer"),
    )


def test_metrics_equal_pandas_on_real_and_simulated_instruments(gateway: str) -> None:
    body = screen(gateway, limit=10_000).json()
    rows = {r["symbol"]: r for r in body["rows"]}
    assert body["benchmark"] == "SPX" and body["count"] == body["matched"] == body["universe"]
    assert set(body["metrics"]) <= set(rows["SPX"])
    assert rows["SPX"]["source"] == "shipped" and rows["SPX"]["simulated"] is False
    assert rows["SPX"]["beta_1y"] == pytest.approx(1.0, rel=1e-12)
    simulated = [r for r in body["rows"] if r["source"] == "simulated"]
    assert simulated and all(r["simulated"] for r in simulated)
    # one instrument per asset class: crypto trades on weekends, unlike the benchmark
    picked = {r["asset_class"]: r["symbol"] for r in simulated}
    assert {"equity", "crypto"} <= set(picked)
    spx = daily_frame(gateway, "SPX")["close"]
    for symbol in ["SPX", "COMP", *picked.values()]:
        frame = daily_frame(gateway, symbol)
        assert rows[symbol]["last_date"] == frame.index[-1].strftime("%Y-%m-%d")
        assert_screener_row(rows[symbol], screener_reference(frame, spx))


def test_as_of_in_the_past_uses_only_bars_up_to_it(gateway: str) -> None:
    body = screen(gateway, as_of="2015-06-30", limit=10_000, benchmark="COMP").json()
    assert body["as_of"] == "2015-06-30" and body["benchmark"] == "COMP"
    assert all(r["last_date"] <= "2015-06-30" for r in body["rows"])
    rows = {r["symbol"]: r for r in body["rows"]}
    comp = daily_frame(gateway, "COMP", end="2015-06-30")["close"]
    assert_screener_row(
        rows["SPX"], screener_reference(daily_frame(gateway, "SPX", end="2015-06-30"), comp)
    )


def test_as_of_excludes_a_planted_late_bar(full_stack: Stack, gateway: str) -> None:
    days = pd.bdate_range("2019-01-01", periods=300, tz=UTC)
    closes = 50 * np.exp(np.cumsum(np.random.default_rng(3).normal(0, 0.02, len(days))))
    late = datetime(2021, 6, 1, tzinfo=UTC)
    bars = [
        *(
            make_bar(PLANTED, d.to_pydatetime(), close=float(c))
            for d, c in zip(days, closes, strict=True)
        ),
        make_bar(PLANTED, late, close=1e6),
    ]
    asyncio.run(publish_bars(full_stack.bootstrap, bars))
    wait_for(
        lambda: (
            httpx.get(f"{gateway}/api/v1/bars", params={"symbol": PLANTED}, auth=auth_for(gateway))
            .json()
            .get("count")
            == len(bars)
        ),
        60,
        f"{PLANTED} stored",
    )
    before = screen(gateway, as_of=(late - timedelta(days=1)).date().isoformat(), limit=10_000)
    row = next(r for r in before.json()["rows"] if r["symbol"] == PLANTED)
    frame = daily_frame(gateway, PLANTED).iloc[:-1]
    assert row["obs"] == 300 and row["source"] == "test" and row["simulated"] is False
    spx = daily_frame(gateway, "SPX")["close"]
    assert_screener_row(row, screener_reference(frame, spx))
    after = screen(gateway, as_of=late.date().isoformat(), limit=10_000).json()
    assert next(r for r in after["rows"] if r["symbol"] == PLANTED)["price"] == 1e6


def test_filters_sort_and_limit_pick_what_the_full_table_says(gateway: str) -> None:
    everything = screen(gateway, limit=10_000).json()["rows"]
    kept = [r for r in everything if r["vol_60d"] is not None and r["vol_60d"] < 0.5]
    kept = [r for r in kept if r["ret_3m"] is not None and r["ret_3m"] > -0.5]
    kept.sort(key=lambda r: (r["ret_1m"] is None, -(r["ret_1m"] or 0.0), r["symbol"]))
    body = screen(gateway, filter=["vol_60d<0.5", "ret_3m>-0.5"], sort="-ret_1m", limit=5).json()
    assert body["filters"] == ["vol_60d<0.5", "ret_3m>-0.5"] and body["sort"] == "-ret_1m"
    assert body["matched"] == len(kept) > 5
    assert [r["symbol"] for r in body["rows"]] == [r["symbol"] for r in kept[:5]]
    commas = screen(gateway, filter="vol_60d<0.5, ret_3m>-0.5", sort="-ret_1m", limit=5).json()
    assert commas["rows"] == body["rows"]
    ascending = screen(gateway, sort="max_dd_1y", limit=10_000).json()["rows"]
    drawdowns = [r["max_dd_1y"] for r in ascending]
    known = [d for d in drawdowns if d is not None]
    assert known == sorted(known) and drawdowns == known + [None] * (len(drawdowns) - len(known))


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"filter": "vol_99d<0.3"}, 422, "filter"),
        ({"filter": "vol_60d~0.3"}, 422, "filter"),
        ({"filter": "vol_60d<abc"}, 422, "filter"),
        ({"filter": "vol_60d<nan"}, 422, "filter"),
        ({"sort": "-sharpe"}, 422, "sort"),
        ({"as_of": "yesterday"}, 422, "as_of"),
        ({"benchmark": "NOSUCH"}, 404, "benchmark"),
        ({"limit": 10_001}, 422, "limit"),
        ({"filter": ["ret_1m>0"] * 65}, 422, "filter"),
        ({"colour": "red"}, 422, "colour"),
    ],
)
def test_bad_input_names_the_field(
    gateway: str, params: dict[str, Any], status: int, field: str
) -> None:
    response = screen(gateway, **params)
    assert response.status_code == status, response.text
    assert response.json()["detail"][0]["loc"][-1] == field


def test_as_of_before_every_bar_screens_nothing_and_says_so(gateway: str) -> None:
    body = screen(gateway, as_of="1900-01-02").json()
    assert body["universe"] == body["matched"] == body["count"] == 0 and body["rows"] == []
    assert body["warnings"][0].startswith("no daily bar on or before 1900-01-02: the first is ")


def test_biggest_accepted_request(gateway: str) -> None:
    body = screen(gateway, filter=["ret_1m>-1"] * 64, limit=10_000, sort="-addv_60d").json()
    assert len(body["filters"]) == 64 and body["count"] == body["matched"] > 0


def test_a_benchmark_sharing_no_dates_says_why_betas_are_null(gateway: str) -> None:
    rows = screen(gateway, limit=10_000).json()["rows"]
    benchmark = next(r["symbol"] for r in rows if r["simulated"])
    body = screen(gateway, benchmark=benchmark, limit=10_000).json()
    spx = next(r for r in body["rows"] if r["symbol"] == "SPX")
    assert spx["obs"] > 252 and spx["beta_1y"] is None  # the shipped S&P 500 ends earlier
    unexplained = [r for r in body["rows"] if r["obs"] > 252 and r["beta_1y"] is None]
    assert body["warnings"] == [
        f"beta_1y is null for {len(unexplained)} instruments with a year of bars: fewer than "
        f"252 daily returns on dates they share with {benchmark}"
    ]
