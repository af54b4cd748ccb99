"""Factor models against statsmodels OLS (the oracle): coefficients, Newey-West t-stats, R²,
rolling windows, portfolio exposures, attribution, and the errors bad input gets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from sextant_quant.factors import (
    Carhart4,
    FactorModel,
    FamaFrench3,
    FamaFrench5,
    newey_west_lags,
)

FF3 = ["Mkt-RF", "SMB", "HML"]


def make_panel(n: int = 240, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Monthly factors (FF5 + Mom + RF) and three asset return series with autocorrelated,
    heteroskedastic errors, so HAC and plain standard errors differ."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("1999-01-31", periods=n, freq="ME")
    names = ["Mkt-RF", "SMB", "HML", "RMW", "CMA", "Mom"]
    factors = pd.DataFrame(
        rng.normal([0.006, 0.002, 0.002, 0.003, 0.002, 0.005], 0.03, (n, 6)),
        index=dates,
        columns=names,
    )
    factors["RF"] = rng.uniform(0.0, 0.004, n)
    assets = {}
    for i, name in enumerate(["AAA", "BBB", "CCC"]):
        eps = np.zeros(n)
        shocks = rng.normal(0, 0.01 + 0.005 * i, n) * (
            1 + np.abs(factors["Mkt-RF"].to_numpy()) * 20
        )
        for t in range(1, n):
            eps[t] = 0.4 * eps[t - 1] + shocks[t]
        betas = np.array([1.0 + 0.2 * i, 0.3 - 0.4 * i, -0.2 + 0.3 * i])
        excess = 0.001 * (i - 1) + factors[FF3].to_numpy() @ betas + eps
        assets[name] = excess + factors["RF"].to_numpy()
    return pd.DataFrame(assets, index=dates), factors


def statsmodels_fit(y: pd.Series, x: pd.DataFrame, lags: int, correction: bool = False):
    return sm.OLS(y, sm.add_constant(x)).fit(
        cov_type="HAC", cov_kwds={"maxlags": lags, "use_correction": correction}
    )


@pytest.mark.parametrize("correction", [False, True])
def test_fit_matches_statsmodels_hac(correction: bool) -> None:
    returns, factors = make_panel()
    fit = FamaFrench3(small_sample_correction=correction).fit(returns, factors, risk_free="RF")
    assert fit.hac_lags == newey_west_lags(240) == 4
    assert fit.n_obs == 240 and fit.periods_per_year == 12.0
    for asset in returns.columns:
        oracle = statsmodels_fit(returns[asset] - factors["RF"], factors[FF3], 4, correction)
        np.testing.assert_allclose(fit.coefficients.loc[asset], oracle.params, rtol=0, atol=1e-10)
        np.testing.assert_allclose(fit.std_errors.loc[asset], oracle.bse, rtol=1e-10, atol=0)
        np.testing.assert_allclose(fit.t_stats.loc[asset], oracle.tvalues, rtol=1e-10, atol=0)
        np.testing.assert_allclose(fit.p_values.loc[asset], oracle.pvalues, rtol=1e-8, atol=1e-300)
        assert fit.r_squared[asset] == pytest.approx(oracle.rsquared, abs=1e-10)
        assert fit.adj_r_squared[asset] == pytest.approx(oracle.rsquared_adj, abs=1e-10)
        assert fit.residual_vol[asset] == pytest.approx(np.sqrt(oracle.scale), rel=1e-10)
        np.testing.assert_allclose(fit.residuals[asset], oracle.resid, atol=1e-12)
    assert fit.alpha_annualized["AAA"] == pytest.approx(fit.alpha["AAA"] * 12)
    assert fit.residual_vol_annualized["AAA"] == pytest.approx(fit.residual_vol["AAA"] * 12**0.5)
    assert list(fit.summary("BBB").columns) == ["coef", "std_err", "t_stat", "p_value"]


@pytest.mark.parametrize(
    ("model", "columns"),
    [
        (FamaFrench5(hac_lags=3), ["Mkt-RF", "SMB", "HML", "RMW", "CMA"]),
        (Carhart4(hac_lags=0), ["Mkt-RF", "SMB", "HML", "Mom"]),
        (FactorModel(["Mkt-RF"], hac_lags=12), ["Mkt-RF"]),
    ],
)
def test_other_models_match_statsmodels(model: FactorModel, columns: list[str]) -> None:
    returns, factors = make_panel(n=180, seed=3)
    fit = model.fit(returns["CCC"], factors, risk_free=factors["RF"])
    oracle = statsmodels_fit(returns["CCC"] - factors["RF"], factors[columns], model.hac_lags or 0)
    assert fit.factors == tuple(columns)
    np.testing.assert_allclose(fit.coefficients.iloc[0], oracle.params, atol=1e-10)
    np.testing.assert_allclose(fit.t_stats.iloc[0], oracle.tvalues, rtol=1e-10)
    assert fit.r_squared.iloc[0] == pytest.approx(oracle.rsquared, abs=1e-10)


def test_numpy_inputs_need_no_dates_but_periods_per_year() -> None:
    returns, factors = make_panel()
    model = FamaFrench3(periods_per_year=12)
    fit = model.fit(returns["AAA"].to_numpy(), factors[FF3].to_numpy())
    by_dates = FamaFrench3().fit(returns["AAA"], factors)
    np.testing.assert_allclose(fit.coefficients.to_numpy(), by_dates.coefficients.to_numpy())
    with pytest.raises(ValueError, match="pass periods_per_year"):
        FamaFrench3().fit(returns["AAA"].to_numpy(), factors[FF3].to_numpy())


def test_misaligned_dates_are_inner_joined_and_counted() -> None:
    returns, factors = make_panel()
    fit = FamaFrench3().fit(returns["AAA"].iloc[10:], factors.iloc[:-5], risk_free="RF")
    assert fit.n_obs == 225
    assert fit.dropped_rows == {"returns": 5, "factors": 10, "risk_free": 10}
    assert fit.residuals.index[0] == returns.index[10]


def test_period_and_timezone_aware_indexes_join_on_period_end_dates() -> None:
    returns, factors = make_panel()
    by_period = returns["AAA"].iloc[12:].to_period("M")
    aware = factors.tz_localize("UTC")
    fit = FamaFrench3().fit(by_period, aware, risk_free="RF")
    plain = FamaFrench3().fit(returns["AAA"].iloc[12:], factors, risk_free="RF")
    assert fit.n_obs == 228 and fit.dropped_rows["factors"] == 12
    np.testing.assert_allclose(fit.coefficients.to_numpy(), plain.coefficients.to_numpy())


def test_rolling_exposures_match_a_loop_of_statsmodels_fits() -> None:
    returns, factors = make_panel(n=120)
    window = 36
    rolling = FamaFrench3().rolling_exposures(
        returns["BBB"], factors, window=window, risk_free="RF"
    )
    assert len(rolling) == 120 - window + 1
    assert rolling.index[0] == returns.index[window - 1]
    assert not rolling.isna().any().any()
    excess = returns["BBB"] - factors["RF"]
    for end in (window - 1, 50, 97, 119):
        sl = slice(end - window + 1, end + 1)
        oracle = sm.OLS(excess.iloc[sl], sm.add_constant(factors[FF3].iloc[sl])).fit()
        row = rolling.loc[returns.index[end]]
        np.testing.assert_allclose(row[["alpha", *FF3]], oracle.params, rtol=0, atol=1e-10)
        assert row["r_squared"] == pytest.approx(oracle.rsquared, abs=1e-10)


def test_portfolio_exposures_from_weights_equal_the_portfolio_regression() -> None:
    returns, factors = make_panel()
    weights = {"AAA": 0.5, "BBB": 0.3, "CCC": 0.2}
    result = FamaFrench3().portfolio_exposures(weights, returns, factors, risk_free="RF")
    betas = result.asset_fit.coefficients
    manual = sum(w * betas.loc[a] for a, w in weights.items())
    np.testing.assert_allclose(result.from_weights, manual, atol=1e-14)
    np.testing.assert_allclose(
        result.from_returns.coefficients.loc["portfolio"], result.from_weights, atol=1e-12
    )
    portfolio_excess = (returns - factors[["RF"]].to_numpy()) @ pd.Series(weights)
    oracle = statsmodels_fit(portfolio_excess, factors[FF3], result.from_returns.hac_lags)
    np.testing.assert_allclose(result.from_returns.t_stats.iloc[0], oracle.tvalues, rtol=1e-10)
    with pytest.raises(ValueError, match="absent from asset_returns: ZZZ"):
        FamaFrench3().portfolio_exposures({"ZZZ": 1.0}, returns, factors)


def test_attribution_sums_to_the_total_in_and_out_of_sample() -> None:
    returns, factors = make_panel()
    model = FamaFrench3()
    inside = model.attribute(returns["AAA"], factors, risk_free="RF")
    parts = inside.factors.sum() + inside.alpha + inside.residual
    assert parts == pytest.approx(inside.total, abs=1e-12)
    assert inside.residual == pytest.approx(0.0, abs=1e-12)  # OLS residuals sum to 0
    np.testing.assert_allclose(
        inside.by_period[[*FF3, "alpha", "residual"]].sum(axis=1), inside.by_period["total"]
    )

    early = model.fit(returns["AAA"].iloc[:120], factors, risk_free="RF")
    outside = model.attribute(returns["AAA"].iloc[120:], factors, fit=early, risk_free="RF")
    assert outside.n_obs == 120
    assert outside.factors.sum() + outside.alpha + outside.residual == pytest.approx(
        outside.total, abs=1e-12
    )
    assert abs(outside.residual) > 1e-4
    mkt = early.betas.loc["AAA", "Mkt-RF"] * factors["Mkt-RF"].iloc[120:].sum()
    assert outside.factors["Mkt-RF"] == pytest.approx(mkt, rel=1e-12)
    assert outside.alpha == pytest.approx(early.alpha["AAA"] * 120)


# -- bad input -----------------------------------------------------------------------------


def test_nan_is_named_with_column_and_date() -> None:
    returns, factors = make_panel()
    factors.loc[factors.index[7], "SMB"] = np.nan
    with pytest.raises(ValueError, match=r"factors has 1 NaN.*'SMB' at 1999-08-31"):
        FamaFrench3().fit(returns, factors)
    # a NaN outside the aligned dates does not matter
    FamaFrench3().fit(returns.iloc[8:], factors)


def test_too_few_observations() -> None:
    returns, factors = make_panel(n=23)
    with pytest.raises(ValueError, match=r"too few observations: 23 .* at least 24"):
        FamaFrench3().fit(returns, factors)
    with pytest.raises(ValueError, match=r"too few observations: 6 .* at least 7"):
        FamaFrench5(min_obs=2).fit(returns.iloc[:6], factors)
    with pytest.raises(ValueError, match="window=12 is below min_obs=24"):
        FamaFrench3().rolling_exposures(returns["AAA"], factors, window=12)


def test_mismatched_lengths_and_missing_columns() -> None:
    returns, factors = make_panel()
    with pytest.raises(
        ValueError, match="mismatched lengths: returns has 240 rows, factors has 239"
    ):
        FamaFrench3(periods_per_year=12).fit(
            returns["AAA"].to_numpy(), factors[FF3].to_numpy()[:-1]
        )
    with pytest.raises(ValueError, match=r"lack column.*'Mom'"):
        Carhart4().fit(returns, factors.drop(columns="Mom"))
    with pytest.raises(ValueError, match="risk_free column 'rf'"):
        FamaFrench3().fit(returns, factors, risk_free="rf")
    later = factors.copy()
    later.index = later.index + pd.DateOffset(years=50)
    with pytest.raises(ValueError, match="share no dates"):
        FamaFrench3().fit(returns, later)


def test_singular_design_names_the_collinear_factor() -> None:
    returns, factors = make_panel()
    factors["HML"] = 2.0 * factors["Mkt-RF"] - factors["SMB"]
    with pytest.raises(ValueError, match="singular factor design: 'HML' is a linear combination"):
        FamaFrench3().fit(returns, factors)
    factors["HML"] = 0.01
    with pytest.raises(ValueError, match="'HML' is a linear combination of the intercept"):
        FamaFrench3().fit(returns, factors)


def test_constant_returns_and_bad_settings() -> None:
    returns, factors = make_panel()
    returns["BBB"] = 0.01
    with pytest.raises(ValueError, match="returns are constant for BBB"):
        FamaFrench3().fit(returns, factors)
    with pytest.raises(ValueError, match="hac_lags must be >= 0"):
        FamaFrench3(hac_lags=-1)
    with pytest.raises(ValueError, match="at least one factor"):
        FactorModel()
    with pytest.raises(ValueError, match="rolling_exposures takes one return series"):
        FamaFrench3().rolling_exposures(returns, factors)
