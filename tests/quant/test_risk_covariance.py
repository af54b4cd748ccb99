"""Covariance forecasts: EWMA against a hand-rolled recursion, GARCH on real S&P 500 returns."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sextant_quant.risk import (
    clip_to_psd,
    estimate_moments,
    ewma_cov,
    garch_vols,
    normal_var,
    portfolio_var,
    sample_cov,
)


@pytest.fixture(scope="module")
def sp500_returns() -> pd.Series:
    """Daily simple returns of the S&P 500 (arch.data.sp500 adjusted closes, 1999-2018)."""
    from arch.data import sp500

    closes = sp500.load()["Adj Close"]
    return closes.pct_change().dropna()


def _ewma_loop(returns: np.ndarray, lam: float, init: np.ndarray) -> np.ndarray:
    cov = init.copy()
    for r in returns:
        cov = lam * cov + (1 - lam) * np.outer(r, r)
    return cov


def test_ewma_matches_hand_rolled_recursion():
    returns = np.random.default_rng(4).normal(0, 0.01, size=(60, 3))
    init = returns.T @ returns / len(returns)
    np.testing.assert_allclose(ewma_cov(returns), _ewma_loop(returns, 0.94, init), rtol=1e-12)
    custom = np.diag([1e-4, 2e-4, 3e-4])
    np.testing.assert_allclose(
        ewma_cov(returns, 0.97, init=custom), _ewma_loop(returns, 0.97, custom), rtol=1e-12
    )


def test_ewma_weights_the_latest_return_by_one_minus_lambda():
    returns = np.zeros((300, 1))
    returns[-1, 0] = 0.05
    # Older rows are zero and lam**300 wipes the seed: only (1 - lam) r_T^2 is left.
    assert ewma_cov(returns)[0, 0] == pytest.approx(0.06 * 0.05**2, rel=1e-9)


def test_sample_cov_and_moments():
    returns = np.random.default_rng(5).normal(0, 0.01, size=(100, 4))
    np.testing.assert_allclose(sample_cov(returns), np.cov(returns, rowvar=False))
    moments = estimate_moments(returns, vol_model="ewma")
    np.testing.assert_allclose(moments.mean, returns.mean(axis=0))
    np.testing.assert_allclose(moments.cov, ewma_cov(returns - returns.mean(axis=0)))
    assert estimate_moments(returns, zero_mean=True).mean.tolist() == [0.0] * 4


def test_garch_vol_forecast_on_real_sp500(sp500_returns):
    from arch import arch_model

    # The last 1,000 trading days up to the end of October 2008.
    window = sp500_returns.loc[:"2008-10-31"].to_numpy()[-1000:]
    resid = window - window.mean()
    vol = float(garch_vols(resid)[0])
    # Oracle: the one-step GARCH(1,1) recursion from arch's own fitted parameters.
    fit = arch_model(100 * resid, mean="Zero", vol="GARCH", p=1, q=1, rescale=False).fit(disp="off")
    omega, alpha, beta = fit.params["omega"], fit.params["alpha[1]"], fit.params["beta[1]"]
    by_hand = omega + alpha * (100 * resid[-1]) ** 2 + beta * fit.conditional_volatility[-1] ** 2
    assert vol == pytest.approx(math.sqrt(by_hand) / 100, rel=1e-8)
    # Late 2008 is the high-vol regime: the GARCH forecast is far above the 4-year sample vol.
    assert vol > 2 * window.std()
    garch = portfolio_var(window[:, None], [1.0], method="normal", vol_model="garch")
    sample = portfolio_var(window[:, None], [1.0], method="normal")
    assert garch.var > 2 * sample.var


def test_garch_with_ewma_or_sample_correlation(sp500_returns):
    # Two "assets": the S&P 500 and the same index one day later (real data, weak correlation).
    series = sp500_returns.to_numpy()
    panel = np.column_stack([series[1:1501], series[0:1500]])
    for correlation in ("ewma", "sample"):
        moments = estimate_moments(panel, vol_model="garch", correlation=correlation)
        resid = panel - panel.mean(axis=0)
        np.testing.assert_allclose(np.sqrt(np.diag(moments.cov)), garch_vols(resid), rtol=1e-12)
        assert np.linalg.eigvalsh(moments.cov)[0] > 0
        assert normal_var([0.5, 0.5], moments.cov, moments.mean).var > 0


def test_clip_to_psd_keeps_the_diagonal():
    bad = np.array([[1.0, 0.9, 0.2], [0.9, 1.0, 0.9], [0.2, 0.9, 1.0]])
    assert np.linalg.eigvalsh(bad)[0] < 0
    fixed = clip_to_psd(bad)
    assert np.linalg.eigvalsh(fixed)[0] > -1e-12
    np.testing.assert_allclose(np.diag(fixed), 1.0)
    nearest = clip_to_psd(bad, keep_diagonal=False)
    assert np.linalg.eigvalsh(nearest)[0] > -1e-12
