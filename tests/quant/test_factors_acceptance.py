"""Acceptance on real data: S&P 500 monthly excess returns (arch.data.sp500 month-end closes,
minus the French RF) regressed on each model's shipped factors (FF3, FF5, Carhart), 1999-2018,
with statsmodels as the oracle for coefficients, Newey-West t-stats and rolling windows."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from arch.data import sp500

from sextant_quant.factors import (
    FactorData,
    FamaFrench3,
    ShippedModel,
    factor_data,
    load_shipped_ff3_monthly,
)


def sp500_monthly_returns() -> pd.Series:
    closes = sp500.load()["Adj Close"].resample("ME").last()
    return closes.pct_change().dropna().rename("SP500")


def test_sp500_on_ff3_explains_over_70_percent() -> None:
    fit = FamaFrench3().fit(sp500_monthly_returns(), load_shipped_ff3_monthly(), risk_free="RF")
    r2 = float(fit.r_squared["SP500"])
    print(f"\nS&P 500 on FF3, {fit.n_obs} months 1999-02..2018-11: R² = {r2:.4f}")
    print(fit.summary().round(4).to_string())
    assert fit.n_obs == 238  # 1999-02..2018-11; 2018-12 has no factor row yet
    assert fit.dropped_rows["returns"] == 1
    assert r2 > 0.7
    assert 0.9 < fit.betas.loc["SP500", "Mkt-RF"] < 1.1
    assert fit.t_stats.loc["SP500", "Mkt-RF"] > 50


def statsmodels_hac(excess: pd.Series, factors: pd.DataFrame, lags: int) -> Any:
    """The oracle: statsmodels OLS with Newey-West (HAC) covariance, no small-sample correction."""
    return sm.OLS(excess, sm.add_constant(factors)).fit(
        cov_type="HAC", cov_kwds={"maxlags": lags, "use_correction": False}
    )


def oracle_sample(data: FactorData) -> tuple[pd.Series, pd.DataFrame]:
    """SPX monthly excess returns and the model's factors on their common months, built with
    pandas alone (not through the model's alignment)."""
    returns = sp500_monthly_returns()
    common = returns.index.intersection(data.returns.index)
    factors = data.returns.loc[common]
    excess = returns.loc[common] - factors["RF"]
    return excess, factors[list(data.model.default_factors)]


@pytest.mark.parametrize(
    ("name", "n_obs", "last"),
    [("ff3", 238, "2018-11-30"), ("ff5", 239, "2018-12-31"), ("carhart", 218, "2017-03-31")],
)
def test_sp500_on_each_shipped_model_equals_statsmodels_hac(
    name: ShippedModel, n_obs: int, last: str
) -> None:
    data = factor_data(name)
    fit = data.model().fit(sp500_monthly_returns(), data.returns, risk_free="RF")
    excess, factors = oracle_sample(data)
    oracle = statsmodels_hac(excess, factors, fit.hac_lags)
    print(f"\nS&P 500 on {data.model.name}: {fit.n_obs} months, R² = {fit.r_squared.iloc[0]:.4f}")
    print(fit.summary().round(4).to_string())
    assert fit.n_obs == len(excess) == n_obs
    assert fit.residuals.index[0] == pd.Timestamp("1999-02-28")
    assert fit.residuals.index[-1] == pd.Timestamp(last)
    np.testing.assert_allclose(fit.coefficients.iloc[0], oracle.params, rtol=0, atol=1e-10)
    np.testing.assert_allclose(fit.t_stats.iloc[0], oracle.tvalues, rtol=1e-10, atol=0)
    assert fit.r_squared.iloc[0] == pytest.approx(oracle.rsquared, abs=1e-10)
    assert fit.r_squared.iloc[0] > 0.95
    assert 0.9 < fit.betas.iloc[0]["Mkt-RF"] < 1.1


def test_rolling_ff5_exposures_of_the_sp500_equal_statsmodels_window_by_window() -> None:
    data = factor_data("ff5")
    window = 36
    rolling = data.model().rolling_exposures(
        sp500_monthly_returns(), data.returns, window=window, risk_free="RF"
    )
    excess, factors = oracle_sample(data)
    assert len(rolling) == len(excess) - window + 1 == 204
    for end in (window - 1, 120, len(excess) - 1):
        rows = slice(end - window + 1, end + 1)
        oracle = sm.OLS(excess.iloc[rows], sm.add_constant(factors.iloc[rows])).fit()
        got = rolling.loc[excess.index[end]]
        np.testing.assert_allclose(
            got[["alpha", *factors.columns]], oracle.params, rtol=0, atol=1e-10
        )
        assert got["r_squared"] == pytest.approx(oracle.rsquared, abs=1e-10)


def test_carhart_attribution_of_the_sp500_adds_up() -> None:
    data = factor_data("carhart")
    attribution = data.model().attribute(sp500_monthly_returns(), data.returns, risk_free="RF")
    excess, factors = oracle_sample(data)
    parts = attribution.by_period.drop(columns="total")
    np.testing.assert_allclose(parts.sum(axis=1), excess, rtol=0, atol=1e-15)
    assert attribution.total == pytest.approx(excess.sum(), abs=1e-12)
    parts_total = attribution.factors.sum() + attribution.alpha + attribution.residual
    assert parts_total == pytest.approx(attribution.total, abs=1e-12)
    assert abs(attribution.residual) < 1e-12  # in sample, OLS residuals sum to zero
    oracle = sm.OLS(excess, sm.add_constant(factors)).fit()
    np.testing.assert_allclose(
        attribution.factors, oracle.params[factors.columns] * factors.sum(), rtol=0, atol=1e-10
    )
    assert attribution.alpha == pytest.approx(oracle.params["const"] * len(excess), abs=1e-10)
    # a price index without dividends trails the CRSP total-return market: alpha < 0
    print(
        f"\nS&P 500 on Carhart 4, {len(excess)} months: excess {attribution.total:.4f} = "
        f"factors {attribution.factors.round(4).to_dict()} + alpha {attribution.alpha:.4f}"
    )
    assert attribution.alpha < 0
