"""Option analytics through the gateway, checked against the library's own Haug values."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from tests.conftest import Stack

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def post(stack: Stack, path: str, body: dict[str, object]) -> httpx.Response:
    """``POST /api/v1/quant/options/<path>`` as a viewer (a computation, not a job)."""
    return httpx.post(
        f"{stack.gateway_url}/api/v1/quant/options/{path}",
        json=body,
        timeout=30,
        auth=stack.auth("viewer"),
    )


def test_price_and_greeks_match_haug(full_stack: Stack) -> None:
    # Haug (2007) GBSM example: S=60, K=65, T=0.25, r=0.08, b=0.08, v=0.30 -> call 2.1334
    body = post(
        full_stack,
        "price",
        {
            "option_type": "call",
            "spot": 60,
            "strike": 65,
            "t": 0.25,
            "rate": 0.08,
            "carry": 0.08,
            "vol": 0.30,
        },
    ).json()
    assert body["price"][0] == pytest.approx(2.1334, abs=1e-4)
    assert 0 < body["delta"][0] < 1
    assert body["theta_per_day"][0] == pytest.approx(body["theta"][0] / 365)


def test_vectors_american_and_implied_vol_with_reasons(full_stack: Stack) -> None:
    american = post(
        full_stack,
        "price",
        {
            "model": "american_baw",
            "option_type": ["put", "put"],
            "spot": 100,
            "strike": [100, 110],
            "t": 0.5,
            "rate": 0.08,
            "carry": 0.08,
            "vol": 0.25,
        },
    ).json()["price"]
    european = post(
        full_stack,
        "price",
        {
            "option_type": ["put", "put"],
            "spot": 100,
            "strike": [100, 110],
            "t": 0.5,
            "rate": 0.08,
            "carry": 0.08,
            "vol": 0.25,
        },
    ).json()["price"]
    assert all(a >= e for a, e in zip(american, european, strict=True))
    iv = post(
        full_stack,
        "implied-vol",
        {
            "price": [european[0], 0.0001, 500.0],
            "option_type": "put",
            "spot": 100,
            "strike": [100, 150, 100],
            "t": 0.5,
            "rate": 0.08,
            "carry": 0.08,
        },
    ).json()
    assert iv["ok"] == [True, False, False]
    assert iv["vol"][0] == pytest.approx(0.25, abs=1e-10)
    assert iv["vol"][1] is None and "intrinsic" in iv["reason"][1]
    assert "upper bound" in iv["reason"][2]


def test_surface_fit_and_bad_input(full_stack: Stack) -> None:
    t = np.repeat([0.25, 0.5, 1.0], 9)
    k = np.tile(np.linspace(-0.4, 0.4, 9), 3)
    vol = 0.2 + 0.1 * k**2 - 0.05 * k + 0.01 * t  # synthetic smile
    surface = post(
        full_stack, "surface", {"t": t.tolist(), "log_moneyness": k.tolist(), "vol": vol.tolist()}
    ).json()
    assert len(surface["slices"]) == 3
    assert surface["arbitrage"]["free"] is True
    bad = post(
        full_stack,
        "price",
        {"option_type": "call", "spot": 100, "strike": 100, "t": 0.5, "vol": [0.2, -0.2]},
    )
    assert bad.status_code == 422
    # the schema says vol > 0: the error locates the item (vol, index 1)
    locs = [e["loc"] for e in bad.json()["detail"]]
    assert any(loc[:2] == ["body", "vol"] and loc[-1] == 1 for loc in locs), bad.text
