"""VaR/CVaR: historical, normal, Cornish-Fisher and Monte Carlo against independent oracles."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, special, stats

from sextant_quant.risk import (
    RiskInputError,
    cornish_fisher_var,
    estimate_moments,
    historical_var,
    monte_carlo_var,
    normal_var,
    portfolio_var,
    simulate_portfolio_returns,
)


@pytest.fixture
def book() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Three assets: daily vols 1%, 1.5%, 2%, positive correlations, long-only weights."""
    vols = np.array([0.01, 0.015, 0.02])
    corr = np.array([[1.0, 0.3, 0.5], [0.3, 1.0, 0.4], [0.5, 0.4, 1.0]])
    cov = corr * np.outer(vols, vols)
    return np.array([0.5, 0.3, 0.2]), np.array([4e-4, 2e-4, 1e-4]), cov


def test_normal_var_matches_closed_form_with_horizon(book):
    w, mu, cov = book
    h, c = 10.0, 0.99
    mean_h = h * w @ mu
    sigma_h = math.sqrt(h * w @ cov @ w)
    z = stats.norm.ppf(1 - c)
    result = normal_var(w, cov, mu, confidence=c, horizon=h)
    assert result.var == pytest.approx(-(mean_h + sigma_h * z), rel=1e-12)
    assert result.cvar == pytest.approx(
        -(mean_h - sigma_h * stats.norm.pdf(z) / (1 - c)), rel=1e-12
    )
    assert result.sigma == pytest.approx(sigma_h, rel=1e-12)


def test_normal_cvar_equals_tail_integral_of_the_loss_quantile(book):
    w, mu, cov = book
    c = 0.975
    result = normal_var(w, cov, mu, confidence=c)
    m, s = float(w @ mu), math.sqrt(w @ cov @ w)
    # CVaR = (1/(1-c)) * integral over u in (c, 1) of the loss quantile VaR_u.
    tail, _ = integrate.quad(lambda u: -(m + s * stats.norm.ppf(1 - u)), c, 1)
    assert result.cvar == pytest.approx(tail / (1 - c), rel=1e-8)


def test_historical_var_hand_example_and_numpy_quantile():
    returns = -np.arange(1, 21) / 100.0  # losses 1%..20%, shuffled below
    returns = np.random.default_rng(3).permutation(returns)
    losses = -returns
    linear = historical_var(returns, confidence=0.95)
    # Linear rule: position 0.95 * (20 - 1) = 18.05 between the 19th and 20th smallest losses.
    assert linear.var == pytest.approx(0.19 + 0.05 * 0.01, abs=1e-15)
    assert linear.var == pytest.approx(np.quantile(losses, 0.95), abs=1e-15)
    assert linear.cvar == pytest.approx(0.20)  # only the 20% loss is >= 19.05%
    kth = historical_var(returns, confidence=0.95, interpolation="inverted_cdf")
    assert kth.var == pytest.approx(0.19)  # the ceil(20 * 0.95) = 19th smallest loss
    assert kth.cvar == pytest.approx((0.19 + 0.20) / 2)
    assert kth.details["tail_count"] == 2


def test_historical_var_from_asset_returns_and_sqrt_time(book):
    w, mu, cov = book
    rng = np.random.default_rng(11)
    panel = rng.multivariate_normal(mu, cov, size=500)
    from_assets = historical_var(panel, w, confidence=0.99)
    from_series = historical_var(panel @ w, confidence=0.99)
    assert from_assets.var == from_series.var
    assert from_assets.cvar == from_series.cvar
    ten_day = historical_var(panel, w, confidence=0.99, horizon=10)
    assert ten_day.var == pytest.approx(math.sqrt(10) * from_assets.var, rel=1e-14)
    assert ten_day.cvar == pytest.approx(math.sqrt(10) * from_assets.cvar, rel=1e-14)


def test_historical_var_needs_one_over_tail_probability_observations():
    rng = np.random.default_rng(0)
    assert historical_var(rng.normal(size=100), confidence=0.99).n_obs == 100
    with pytest.raises(RiskInputError, match=r"returns has 99 observations.*at least 100"):
        historical_var(rng.normal(size=99), confidence=0.99)


@pytest.mark.parametrize("horizon", [1.0, 5.0])
def test_cornish_fisher_reduces_to_normal_without_skew_and_kurtosis(book, horizon):
    w, mu, cov = book
    normal = normal_var(w, cov, mu, confidence=0.99, horizon=horizon)
    cf = cornish_fisher_var(
        w, cov, mu, skew=0.0, excess_kurtosis=0.0, confidence=0.99, horizon=horizon
    )
    assert cf.var == pytest.approx(normal.var, rel=1e-14)
    assert cf.cvar == pytest.approx(normal.cvar, rel=1e-14)


def test_cornish_fisher_quantile_and_cvar_against_numerical_integration(book):
    w, mu, cov = book
    s, k, c = -0.6, 2.5, 0.99
    m, sigma = float(w @ mu), math.sqrt(w @ cov @ w)

    def z_cf(z: float) -> float:
        return z + (z**2 - 1) * s / 6 + (z**3 - 3 * z) * k / 24 - (2 * z**3 - 5 * z) * s**2 / 36

    result = cornish_fisher_var(w, cov, mu, skew=s, excess_kurtosis=k, confidence=c)
    assert result.var == pytest.approx(-(m + sigma * z_cf(special.ndtri(1 - c))), rel=1e-13)
    tail, _ = integrate.quad(lambda u: z_cf(special.ndtri(u)), 0, 1 - c, limit=200)
    assert result.cvar == pytest.approx(-(m + sigma * tail / (1 - c)), rel=1e-7)
    # Negative skew and fat tails make the loss tail heavier than normal.
    normal = normal_var(w, cov, mu, confidence=c)
    assert result.var > normal.var and result.cvar > normal.cvar


def test_cornish_fisher_horizon_scales_the_cumulants(book):
    w, mu, cov = book
    ten = cornish_fisher_var(w, cov, mu, skew=-0.4, excess_kurtosis=3.0, horizon=10)
    assert ten.details["skew"] == pytest.approx(-0.4 / math.sqrt(10))
    assert ten.details["excess_kurtosis"] == pytest.approx(0.3)


def test_cornish_fisher_rejects_an_expansion_that_is_not_a_quantile_in_the_tail(book):
    w, mu, cov = book
    with pytest.raises(RiskInputError, match="not monotone over the tail"):
        cornish_fisher_var(w, cov, mu, skew=2.0, excess_kurtosis=0.0, confidence=0.99)


def test_monte_carlo_normal_within_one_percent_and_reproducible(book):
    w, mu, cov = book
    exact = normal_var(w, cov, mu, confidence=0.99)
    first = monte_carlo_var(w, cov, mu, confidence=0.99, paths=200_000, seed=42)
    again = monte_carlo_var(w, cov, mu, confidence=0.99, paths=200_000, seed=42)
    other = monte_carlo_var(w, cov, mu, confidence=0.99, paths=200_000, seed=43)
    assert first.var == pytest.approx(exact.var, rel=0.01)
    assert first.cvar == pytest.approx(exact.cvar, rel=0.01)
    assert (first.var, first.cvar) == (again.var, again.cvar)
    assert first.var != other.var
    assert first.method == "monte_carlo_normal" and first.n_obs == 200_000


def test_monte_carlo_projection_equals_full_correlated_paths(book):
    w, mu, cov = book
    for dist in ("normal", "t"):
        ours = simulate_portfolio_returns(
            w, cov, mu, paths=5_000, distribution=dist, df=4.0, seed=9, horizon=2.0
        )
        rng = np.random.default_rng(9)
        mixing = rng.chisquare(4.0, 5_000) if dist == "t" else np.full(5_000, 2.0)
        paths = rng.standard_normal((5_000, 3)) @ np.linalg.cholesky(2.0 * cov).T
        paths = 2.0 * mu + paths * np.sqrt(2.0 / mixing)[:, None]
        np.testing.assert_allclose(ours, paths @ w, rtol=0, atol=1e-15)


def test_monte_carlo_student_t_matches_its_closed_form_and_has_heavier_tail(book):
    w, mu, cov = book
    df = 4.0
    normal = monte_carlo_var(w, cov, mu, confidence=0.99, paths=200_000, seed=5)
    t = monte_carlo_var(w, cov, mu, confidence=0.99, paths=200_000, seed=5, distribution="t", df=df)
    assert t.var > normal.var and t.cvar > normal.cvar
    # Same covariance: the simulated volatility matches, only the tail differs.
    assert t.sigma == pytest.approx(normal.sigma, rel=0.02)
    scale = math.sqrt(w @ cov @ w * (df - 2) / df)
    exact_var = -(w @ mu) + scale * stats.t.ppf(0.99, df)
    assert t.var == pytest.approx(exact_var, rel=0.02)


def test_monte_carlo_handles_a_singular_covariance(book):
    _, mu, cov = book
    # Asset 4 duplicates asset 1: PSD but singular, so Cholesky fails and the eigen factor is used.
    big = np.zeros((4, 4))
    big[:3, :3] = cov
    big[3, :3] = big[:3, 3] = cov[0]
    big[3, 3] = cov[0, 0]
    weights = np.array([0.25, 0.3, 0.2, 0.25])
    merged = np.array([0.5, 0.3, 0.2])
    mean = np.append(mu, mu[0])
    exact = normal_var(merged, cov, mu, confidence=0.99)
    sim = monte_carlo_var(weights, big, mean, confidence=0.99, paths=200_000, seed=1)
    assert normal_var(weights, big, mean, confidence=0.99).var == pytest.approx(exact.var)
    assert sim.var == pytest.approx(exact.var, rel=0.01)


def test_portfolio_var_dispatches_on_estimated_moments(book):
    w, mu, cov = book
    panel = np.random.default_rng(2).multivariate_normal(mu, cov, size=750)
    moments = estimate_moments(panel)
    via = portfolio_var(panel, w, method="normal", confidence=0.99)
    direct = normal_var(w, moments.cov, moments.mean, confidence=0.99)
    assert via.var == direct.var and via.cvar == direct.cvar
    for method in ("historical", "cornish_fisher", "monte_carlo_normal", "monte_carlo_t"):
        result = portfolio_var(panel, w, method=method, confidence=0.99, paths=20_000)
        assert result.var > 0 and result.cvar >= result.var
    ewma = portfolio_var(panel, w, method="normal", vol_model="ewma", zero_mean=True)
    assert ewma.mean == 0.0


def test_zero_exposure_gives_zero_var_not_nan(book):
    _, _, cov = book
    result = normal_var(np.zeros(3), cov, confidence=0.99)
    assert result.var == 0.0 and result.cvar == 0.0
    sim = monte_carlo_var(np.zeros(3), cov, paths=1_000, seed=0)
    assert sim.var == 0.0 and sim.cvar == 0.0
