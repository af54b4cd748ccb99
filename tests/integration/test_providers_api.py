"""The unified fetcher behind the gateway: provider status and typed errors, no keys set."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Stack

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_providers_without_keys_are_reported_with_the_variable_to_set(full_stack: Stack) -> None:
    listing = httpx.get(
        f"{full_stack.gateway_url}/api/v1/providers", auth=full_stack.auth("viewer")
    )
    statuses = {s["name"]: s for s in listing.json()}
    assert {"polygon", "fred", "sec_edgar", "worldbank"} <= set(statuses)
    assert statuses["polygon"]["available"] is False
    assert "SEXTANT_POLYGON_API_KEY" in statuses["polygon"]["missing"]
    assert statuses["worldbank"]["available"] is True  # keyless


def test_fetch_errors_are_typed_at_the_gateway(full_stack: Stack) -> None:
    url = f"{full_stack.gateway_url}/api/v1/fetch"
    researcher = full_stack.auth("researcher")  # fetching from providers needs one
    bad_kind = httpx.post(url, json={"kind": "weather", "params": {}}, auth=researcher)
    assert bad_kind.status_code == 422
    assert bad_kind.json()["detail"][0]["loc"][-1] == "kind"
    no_keys = httpx.post(
        url,
        json={
            "kind": "bars",
            "asset_class": "equity",
            "params": {
                "instrument_id": "AAPL",
                "interval": "1d",
                "start": "2024-01-02T00:00:00Z",
                "end": "2024-02-01T00:00:00Z",
            },
            "provider": "polygon",
        },
        timeout=30,
        auth=researcher,
    )
    assert no_keys.status_code == 503
    assert "SEXTANT_POLYGON_API_KEY" in no_keys.json()["detail"]
