"""``/api/v1/quant/correlations`` through the gateway on the real stack, checked against numpy,
pandas and scipy on the same bars read from ``/api/v1/bars``."""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from scipy.cluster.hierarchy import leaves_list, linkage, optimal_leaf_ordering
from scipy.spatial.distance import squareform

from tests.conftest import Stack
from tests.support import auth_for, daily_frame, wait_for_shipped_history

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def gateway(full_stack: Stack) -> str:
    return wait_for_shipped_history(full_stack.gateway_url)


@pytest.fixture(scope="module")
def simulated(gateway: str) -> list[str]:
    """The simulated market's equities and crypto (they trade on different days)."""
    listing = httpx.get(f"{gateway}/api/v1/instruments", auth=auth_for(gateway, "viewer"))
    instruments = listing.json()["instruments"]
    return sorted(
        i["instrument_id"]
        for i in instruments
        if i["source"] == "simulated" and i["asset_class"] in {"equity", "crypto"}
    )


def correlations(gateway: str, **params: Any) -> httpx.Response:
    return httpx.get(
        f"{gateway}/api/v1/quant/correlations",
        params=params,
        timeout=60,
        auth=auth_for(gateway, "viewer"),
    )


def common_closes(gateway: str, symbols: list[str], window: int, end: str | None) -> pd.DataFrame:
    """The last ``window + 1`` closes on the dates every symbol has a bar, the pandas way."""
    params = {"end": end} if end else {}
    closes = pd.concat(
        [daily_frame(gateway, s, **params)["close"].rename(s) for s in symbols],
        axis=1,
        join="inner",
    )
    return closes.iloc[-window - 1 :]


def test_real_history_equals_numpy_and_the_order_equals_scipy(gateway: str) -> None:
    symbols = ["SPX", "COMP"]
    body = correlations(gateway, symbols="SPX,COMP", window=500, end="2012-12-31").json()
    returns = common_closes(gateway, symbols, 500, "2012-12-31").pct_change().dropna()
    expected = np.corrcoef(returns.to_numpy(), rowvar=False)
    np.testing.assert_allclose(body["matrix"], expected, rtol=1e-12, atol=1e-14)
    assert body["end"] == returns.index[-1].strftime("%Y-%m-%d") == "2012-12-31"
    assert body["sources"] == ["shipped", "shipped"] and body["simulated"] == []
    assert body["matrix"][0][1] > 0.8  # the S&P 500 and the NASDAQ composite move together


@pytest.mark.parametrize("method", ["pearson", "spearman"])
def test_simulated_market_matrix_and_clustered_order(
    gateway: str, simulated: list[str], method: str
) -> None:
    symbols = simulated
    body = correlations(gateway, symbols=",".join(symbols), window=40, method=method).json()
    closes = common_closes(gateway, symbols, 40, None)
    expected = closes.pct_change().dropna().corr(method=method).to_numpy()
    np.testing.assert_allclose(body["matrix"], expected, rtol=1e-10, atol=1e-12)
    assert body["start"] == closes.index[0].strftime("%Y-%m-%d")
    assert body["end"] == closes.index[-1].strftime("%Y-%m-%d")
    assert sorted(body["order_index"]) == list(range(len(symbols)))
    assert body["order"] == [symbols[i] for i in body["order_index"]]
    distance = squareform(np.clip(1 - expected, 0, None), checks=False)
    tree = optimal_leaf_ordering(linkage(distance, method="average"), distance)
    assert body["order_index"] == leaves_list(tree).tolist()
    assert body["simulated"] == simulated and set(body["sources"]) == {"simulated"}


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"symbols": "SPX,NOSUCH"}, 404, "symbols"),
        ({"symbols": "SPX"}, 422, "symbols"),
        ({"symbols": "SPX,SPX"}, 422, "symbols"),
        ({"symbols": "SPX,CO MP"}, 422, "symbols"),
        ({"symbols": ",".join(f"S{i}" for i in range(501))}, 422, "symbols"),
        ({"symbols": "SPX,COMP", "window": 1}, 422, "window"),
        ({"symbols": "SPX,COMP", "end": "1950-01-31"}, 422, "window"),
        ({"symbols": "SPX,COMP", "end": "someday"}, 422, "end"),
        ({"symbols": "SPX,COMP", "method": "kendall"}, 422, "method"),
    ],
)
def test_bad_input_names_the_field(
    gateway: str, params: dict[str, Any], status: int, field: str
) -> None:
    response = correlations(gateway, **params)
    assert response.status_code == status, response.text
    assert response.json()["detail"][0]["loc"][-1] == field


def test_too_few_overlapping_days_says_how_many(gateway: str, simulated: list[str]) -> None:
    days = len(common_closes(gateway, simulated[:2], 10_000, None)) - 1
    response = correlations(gateway, symbols=",".join(simulated[:2]), window=days + 1)
    assert response.status_code == 422
    detail = response.json()["detail"][0]
    assert detail["loc"][-1] == "window" and f"only {days} daily returns" in detail["msg"]
    assert correlations(gateway, symbols=",".join(simulated[:2]), window=days).status_code == 200
    # the shipped S&P 500 ends before the simulated market's history starts
    disjoint = correlations(gateway, symbols=f"SPX,{simulated[0]}", window=2)
    assert disjoint.status_code == 422 and "only 0 daily returns" in disjoint.text


def test_biggest_accepted_request(gateway: str, simulated: list[str]) -> None:
    padding = [f"ZZ{i}" for i in range(500 - len(simulated))]
    unknown = correlations(gateway, symbols=",".join(simulated + padding))
    assert unknown.status_code == 404  # 500 symbols pass the count check; these are not stored
    assert "ZZ0" in unknown.json()["detail"][0]["msg"]
    body = correlations(gateway, symbols=",".join(simulated), window=40).json()
    assert len(body["matrix"]) == len(simulated) == len(body["order"])
