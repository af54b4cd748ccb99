"""Seed acceptance on real data: S&P 500 monthly excess returns (arch.data.sp500 month-end
closes, minus the French RF) regressed on the shipped Fama-French 3 factors, 1999-2018."""

from __future__ import annotations

import pandas as pd
from arch.data import sp500

from sextant_quant.factors import FamaFrench3, load_shipped_ff3_monthly


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
