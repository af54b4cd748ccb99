"""Factor exposures, rolling exposures and attribution of the real S&P 500 (shipped history in
the lake) through the gateway and a real quant service, for every shipped model: FF3, FF5 and
Carhart. The answers must equal the library's fit on the same closes (arch.data.sp500)."""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from arch.data import sp500

from sextant_quant.api.routes.factors import monthly_returns
from sextant_quant.factors import ShippedModel, factor_data
from tests.conftest import Stack
from tests.support import auth_for, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MODELS: list[ShippedModel] = ["ff3", "ff5", "carhart"]


def get(base: str, path: str, **params: Any) -> httpx.Response:
    """``GET /api/v1/quant/factors<path>`` at the gateway ``base`` as a viewer."""
    return httpx.get(
        f"{base}/api/v1/quant/factors{path}",
        params=params,
        timeout=60,
        auth=auth_for(base, "viewer"),
    )


@pytest.fixture(scope="module")
def gateway(full_stack: Stack) -> str:
    """The gateway once the whole S&P 500 history (1999-2018, 238 FF3 months) is stored."""

    def complete() -> bool:
        response = get(full_stack.gateway_url, "", symbol="SPX")
        return response.status_code == 200 and response.json()["n_obs"] == 238

    wait_for(complete, 120, "SPX history stored")
    return full_stack.gateway_url


def library_returns() -> pd.Series:
    """Month-end returns of the S&P 500 closes that ship with arch (what ingest stores)."""
    return monthly_returns(sp500.load()["Adj Close"])


@pytest.mark.parametrize("model", MODELS)
def test_each_model_answers_the_library_exposures(gateway: str, model: ShippedModel) -> None:
    response = get(gateway, "", symbol="SPX", model=model)
    assert response.status_code == 200, response.text
    body = response.json()
    data = factor_data(model)
    fit = data.model().fit(library_returns(), data.returns, risk_free="RF")
    assert body["model"] == model and body["frequency"] == "monthly"
    assert body["n_obs"] == fit.n_obs and body["start"] == "1999-02-28"
    assert body["factor_data"] == {
        "source": data.source,
        "start": data.first_month_start.strftime("%Y-%m-%d"),
        "end": data.last_month_end.strftime("%Y-%m-%d"),
    }
    names = [c["name"] for c in body["coefficients"]]
    assert names == ["alpha", *data.model.default_factors]
    coefs = [c["coef"] for c in body["coefficients"]]
    t_stats = [c["t_stat"] for c in body["coefficients"]]
    np.testing.assert_allclose(coefs, fit.coefficients.iloc[0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(t_stats, fit.t_stats.iloc[0], rtol=1e-12, atol=0)
    assert body["alpha_annualized"] == pytest.approx(float(fit.alpha_annualized.iloc[0]))
    assert body["r_squared"] > 0.95


def test_ff5_and_carhart_sources_name_their_data(gateway: str) -> None:
    ff5 = get(gateway, "", symbol="SPX", model="ff5").json()
    assert "CRSP 202101" in ff5["factor_data"]["source"]
    assert ff5["end"] == "2018-12-31" and ff5["factor_data"]["end"] == "2021-01-31"
    carhart = get(gateway, "", symbol="SPX", model="carhart").json()
    assert "linearmodels" in carhart["factor_data"]["source"]
    assert carhart["end"] == "2017-03-31" and carhart["n_obs"] == 218


def test_rolling_exposures_over_36_months(gateway: str) -> None:
    response = get(gateway, "/rolling", symbol="SPX", model="ff5", window=36)
    assert response.status_code == 200, response.text
    body = response.json()
    data = factor_data("ff5")
    rolling = data.model().rolling_exposures(
        library_returns(), data.returns, window=36, risk_free="RF"
    )
    assert body["window"] == 36 and len(body["dates"]) == len(rolling) == 204
    assert body["dates"][0] == "2002-01-31" and body["dates"][-1] == "2018-12-31"
    assert list(body["betas"]) == list(data.model.default_factors)
    for factor, values in body["betas"].items():
        np.testing.assert_allclose(values, rolling[factor], rtol=0, atol=1e-12)
    np.testing.assert_allclose(body["alpha_annualized"], rolling["alpha"] * 12, atol=1e-12)
    np.testing.assert_allclose(body["r_squared"], rolling["r_squared"], atol=1e-12)


def test_attribution_adds_up_per_month_and_cumulatively(gateway: str) -> None:
    response = get(gateway, "/attribution", symbol="SPX", model="carhart", end="2016-12-31")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["components"] == ["Mkt-RF", "SMB", "HML", "Mom", "alpha", "residual"]
    assert body["end"] == "2016-12-31" and len(body["dates"]) == body["n_obs"] == 215
    per_period = pd.DataFrame(body["per_period"], index=body["dates"])
    np.testing.assert_allclose(
        per_period[body["components"]].sum(axis=1), per_period["excess_return"], atol=1e-15
    )
    cumulative = pd.DataFrame(body["cumulative"], index=body["dates"])
    np.testing.assert_allclose(cumulative, per_period.cumsum(), atol=1e-12)
    assert abs(cumulative["residual"].iloc[-1]) < 1e-12  # in sample
    betas = {k: v for k, v in body["coefficients"].items() if k != "alpha"}
    mkt = per_period["Mkt-RF"] / betas["Mkt-RF"]
    assert mkt.iloc[0] == pytest.approx(factor_data("carhart").returns.loc["1999-02-28", "Mkt-RF"])


def test_bad_factor_requests_name_the_field(gateway: str) -> None:
    def error(path: str, **params: Any) -> tuple[list[str], str]:
        response = get(gateway, path, **params)
        assert response.status_code == 422, response.text
        detail = response.json()["detail"][0]
        return detail["loc"], detail["msg"]

    loc, _ = error("", symbol="SPX", model="ff7")
    assert loc == ["query", "model"]
    loc, msg = error("/rolling", symbol="SPX", model="ff5", window=300)
    assert loc == ["query", "window"] and "exceeds the 239 aligned observations" in msg
    loc, msg = error("/rolling", symbol="SPX", model="ff3", window=12)
    assert loc == ["query", "window"] and "min_obs=24" in msg
    loc, msg = error("", symbol="SPX", model="carhart", end="2018-06-30")
    assert loc == ["query", "end"] and "1949-01-01..2017-03-31" in msg
    loc, msg = error("/attribution", symbol="SPX", model="ff5", start="1960-01-01")
    assert loc == ["query", "start"] and "1963-07-01" in msg
    loc, msg = error("/rolling", symbol="SPX", model="carhart", start="2018-01-01")
    assert loc == ["query", "start"] and "outside the Carhart 4 factor data" in msg
    loc, msg = error("", symbol="BTC-USD", model="carhart")  # simulated, recent months only
    assert loc == ["query", "symbol"] and "share no month with the Carhart 4" in msg
    unknown = get(gateway, "/rolling", symbol="NOSUCH", model="ff5")
    assert unknown.status_code == 404 and "NOSUCH" in unknown.text
    body = httpx.post(
        f"{gateway}/api/v1/quant/factors/portfolio",
        json={"symbols": ["SPX"], "weights": [1.0], "model": "carhart", "end": "2018-06-30"},
        timeout=60,
        auth=auth_for(gateway, "viewer"),
    )
    assert body.status_code == 422 and body.json()["detail"][0]["loc"] == ["body", "end"]
