"""Snapshots through the gateway on the real shipped S&P 500 history."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Stack
from tests.integration.test_stack import spx_2008
from tests.support import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_snapshot_of_2008_is_content_addressed_and_verifiable(full_stack: Stack) -> None:
    wait_for(lambda: spx_2008(full_stack), 90, "SPX history stored")
    url = f"{full_stack.gateway_url}/api/v1/datasets/snapshots"
    body = {"symbols": ["SPX"], "interval": "1d", "start": "2008-01-01", "end": "2008-12-31"}
    researcher = full_stack.auth("researcher")  # creating a snapshot needs one
    first = httpx.post(url, json={**body, "as_of": "2020-01-01"}, timeout=30, auth=researcher)
    assert first.status_code == 201, first.text
    again = httpx.post(
        url, json={**body, "as_of": "2021-01-01"}, timeout=30, auth=researcher
    ).json()
    assert again["id"] == first.json()["id"]  # same data, same id
    assert first.json()["row_count"] == 253
    viewer = full_stack.auth("viewer")
    verify = httpx.get(f"{url}/{again['id']}/verify", auth=viewer).json()
    assert verify["ok"] is True
    data = httpx.get(f"{url}/{again['id']}/data", auth=viewer).json()
    assert data["count"] == len(data["rows"]) == 253
    assert {row["source"] for row in data["rows"]} == {"shipped"}
    unknown = httpx.post(
        url, json={**body, "symbols": ["NOSUCH"], "as_of": "2020-01-01"}, auth=researcher
    )
    assert unknown.status_code == 404
    assert unknown.json()["detail"][0]["loc"] == ["body", "symbols"]


def test_the_real_sp500_history_has_no_gap_over_one_trading_day(full_stack: Stack) -> None:
    wait_for(lambda: spx_2008(full_stack), 90, "SPX history stored")
    report = httpx.get(
        f"{full_stack.gateway_url}/api/v1/datasets/storage/gaps",
        params={"symbol": "SPX", "interval": "1d", "max_gap": 1},
        timeout=60,
        auth=full_stack.auth("viewer"),  # reading storage needs no admin
    ).json()
    assert report["ok"] is True, report["gaps"][:5]
    stats = httpx.get(
        f"{full_stack.gateway_url}/api/v1/datasets/storage/stats",
        params={"symbol": "SPX"},
        auth=full_stack.auth("viewer"),
    )
    assert stats.status_code == 200
