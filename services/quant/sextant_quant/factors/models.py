"""Time-series factor models: excess returns regressed on factor returns.

``FactorModel`` holds the mechanics (alignment, OLS with Newey-West t-stats, rolling windows,
portfolio exposures, return attribution); ``FamaFrench3``, ``FamaFrench5`` and ``Carhart4`` only
name their factors, spelled as in Kenneth French's files. All returns are simple returns as
fractions per period (0.01 = 1%), never percent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, TypeAlias

import numpy as np
import pandas as pd

from sextant_quant.factors.ols import check_design, newey_west_lags, ols_hac, rolling_ols
from sextant_quant.factors.series import (
    SeriesLike,
    align,
    as_frame,
    infer_periods_per_year,
    require_finite,
)

INTERCEPT = "alpha"

RiskFree: TypeAlias = SeriesLike | str | None
"""A risk-free series to subtract from the returns, the name of a column of the factor frame
holding it (usually "RF"), or None when the returns are already excess returns."""


@dataclass(frozen=True)
class FactorFit:
    """A fitted factor regression for one or more assets (rows of the per-asset tables).

    Coefficients are per period: ``alpha`` is the intercept (fraction per period) and the factor
    columns are betas. Standard errors, t-stats and p-values are Newey-West (HAC) with
    ``hac_lags`` lags; p-values are two-sided normal.
    """

    model: str
    factors: tuple[str, ...]
    coefficients: pd.DataFrame
    """assets x ["alpha", *factors]"""
    std_errors: pd.DataFrame
    t_stats: pd.DataFrame
    p_values: pd.DataFrame
    r_squared: pd.Series
    adj_r_squared: pd.Series
    residual_vol: pd.Series
    """Standard error of the regression, sqrt(SSR / (T - k - 1)), per period."""
    residuals: pd.DataFrame
    """dates x assets"""
    n_obs: int
    hac_lags: int
    periods_per_year: float
    dropped_rows: Mapping[str, int]
    """Rows each input lost when the dates were aligned by inner join."""

    @property
    def assets(self) -> tuple[str, ...]:
        """Names of the fitted return series."""
        return tuple(str(a) for a in self.coefficients.index)

    @property
    def alpha(self) -> pd.Series:
        """Intercept per asset, fraction per period."""
        return self.coefficients[INTERCEPT]

    @property
    def alpha_annualized(self) -> pd.Series:
        """Intercept times periods per year (arithmetic annualization), fraction per year."""
        return self.alpha * self.periods_per_year

    @property
    def betas(self) -> pd.DataFrame:
        """Factor loadings, assets x factors."""
        return self.coefficients[list(self.factors)]

    @property
    def residual_vol_annualized(self) -> pd.Series:
        """Residual (idiosyncratic) volatility times sqrt(periods per year)."""
        return self.residual_vol * np.sqrt(self.periods_per_year)

    def summary(self, asset: str | None = None) -> pd.DataFrame:
        """One asset's coefficient table: rows alpha and the factors, columns coef, std_err,
        t_stat, p_value. ``asset`` may be omitted when only one was fitted."""
        name = _one_asset(self, asset)
        return pd.DataFrame(
            {
                "coef": self.coefficients.loc[name],
                "std_err": self.std_errors.loc[name],
                "t_stat": self.t_stats.loc[name],
                "p_value": self.p_values.loc[name],
            }
        )


@dataclass(frozen=True)
class PortfolioExposures:
    """A portfolio's factor exposures computed two ways over the same dates.

    ``from_weights`` is the weighted sum of the assets' alphas and betas; ``from_returns`` is the
    regression of the weighted portfolio excess return series. With constant weights the two
    coefficient sets agree exactly (OLS is linear in the dependent variable); the regression
    adds the portfolio's R-squared, residual vol and t-stats.
    """

    weights: pd.Series
    from_weights: pd.Series
    """["alpha", *factors], per period"""
    from_returns: FactorFit
    asset_fit: FactorFit


@dataclass(frozen=True)
class Attribution:
    """Return decomposition over a period: sum of excess returns = sum over factors of
    beta x (sum of factor returns) + alpha x periods + sum of residuals. Sums are arithmetic
    (not compounded), fractions over the whole period."""

    total: float
    factors: pd.Series
    """beta_f x sum of factor f's returns, per factor"""
    alpha: float
    residual: float
    by_period: pd.DataFrame
    """dates x [*factors, "alpha", "residual", "total"]; each row sums to its "total"."""
    n_obs: int
    dropped_rows: Mapping[str, int]


@dataclass(frozen=True)
class _Sample:
    excess: pd.DataFrame
    factors: pd.DataFrame
    dropped_rows: dict[str, int]


class FactorModel:
    """A linear factor model fitted by time-series OLS of excess returns on factor returns.

    ``hac_lags`` fixes the Newey-West bandwidth; None uses floor(4 (T/100)^(2/9)) for the sample
    size T. ``small_sample_correction`` scales the HAC covariance by T / (T - k - 1).
    ``min_obs`` is the fewest observations a fit (or a rolling window) accepts; it is never
    below k + 2 for k factors. ``periods_per_year`` annualizes alpha and residual vol; None
    infers it from the dates (and requires them).
    """

    name: ClassVar[str] = "custom"
    default_factors: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        factors: Sequence[str] | None = None,
        *,
        hac_lags: int | None = None,
        small_sample_correction: bool = False,
        min_obs: int = 24,
        periods_per_year: float | None = None,
    ) -> None:
        names = tuple(factors) if factors is not None else self.default_factors
        if not names:
            raise ValueError("a factor model needs at least one factor name")
        if len(set(names)) != len(names):
            raise ValueError(f"factor names must be unique, got {names}")
        if hac_lags is not None and hac_lags < 0:
            raise ValueError(f"hac_lags must be >= 0, got {hac_lags}")
        if periods_per_year is not None and periods_per_year <= 0:
            raise ValueError(f"periods_per_year must be > 0, got {periods_per_year}")
        self.factors: tuple[str, ...] = names
        self.hac_lags = hac_lags
        self.small_sample_correction = small_sample_correction
        self.min_obs = max(int(min_obs), len(names) + 2)
        self.periods_per_year = periods_per_year

    def __repr__(self) -> str:
        return f"{type(self).__name__}(factors={self.factors})"

    def fit(
        self, returns: SeriesLike, factors: SeriesLike, *, risk_free: RiskFree = None
    ) -> FactorFit:
        """Regress each return series (a Series, or a DataFrame with one column per asset) on
        the model's factors with an intercept. Dates are aligned by inner join; the rows each
        input lost are in ``dropped_rows``. Raises ValueError on NaNs, fewer than ``min_obs``
        aligned rows, constant returns or collinear factors.
        """
        return self._fit_sample(self._prepare(returns, factors, risk_free))

    def rolling_exposures(
        self,
        returns: SeriesLike,
        factors: SeriesLike,
        *,
        window: int = 36,
        risk_free: RiskFree = None,
    ) -> pd.DataFrame:
        """Alpha (per period), betas and R-squared of one return series over every full window
        of ``window`` consecutive aligned periods, indexed by each window's last date. The
        window must be at least ``min_obs`` long.
        """
        sample = self._prepare(returns, factors, risk_free)
        if sample.excess.shape[1] != 1:
            cols = ", ".join(map(str, sample.excess.columns))
            raise ValueError(f"rolling_exposures takes one return series, got columns {cols}")
        if window < self.min_obs:
            raise ValueError(
                f"window={window} is below min_obs={self.min_obs} for {len(self.factors)} factors"
            )
        n_obs = len(sample.excess)
        if window > n_obs:
            raise ValueError(f"window={window} exceeds the {n_obs} aligned observations")
        design = self._design(sample.factors)
        params, r_squared = rolling_ols(design, sample.excess.iloc[:, 0].to_numpy(), window)
        out = pd.DataFrame(
            params, index=sample.excess.index[window - 1 :], columns=[INTERCEPT, *self.factors]
        )
        out["r_squared"] = r_squared
        return out

    def portfolio_exposures(
        self,
        weights: Mapping[str, float] | pd.Series,
        asset_returns: pd.DataFrame,
        factors: SeriesLike,
        *,
        risk_free: RiskFree = None,
    ) -> PortfolioExposures:
        """Exposures of a constant-weight portfolio of the columns of ``asset_returns``: the
        weighted sum of each asset's alpha and betas, and the regression of the portfolio's
        excess return sum_i w_i (r_i - rf). Weights are fractions of capital (they need not
        sum to 1, e.g. for long-short books); assets without a weight are ignored.
        """
        w = pd.Series(weights, dtype=float)
        require_finite(w.to_frame("weight"), "weights")
        missing = [str(a) for a in w.index if a not in asset_returns.columns]
        if missing:
            raise ValueError(f"weights name assets absent from asset_returns: {', '.join(missing)}")
        sample = self._prepare(asset_returns[list(w.index)], factors, risk_free)
        asset_fit = self._fit_sample(sample)
        from_weights = asset_fit.coefficients.T @ w.to_numpy()
        from_weights.name = "portfolio"
        portfolio = (sample.excess @ w.to_numpy()).rename("portfolio").to_frame()
        from_returns = self._fit_sample(_Sample(portfolio, sample.factors, sample.dropped_rows))
        return PortfolioExposures(
            weights=w,
            from_weights=from_weights,
            from_returns=from_returns,
            asset_fit=asset_fit,
        )

    def attribute(
        self,
        returns: SeriesLike,
        factors: SeriesLike,
        *,
        fit: FactorFit | None = None,
        risk_free: RiskFree = None,
    ) -> Attribution:
        """Split one series' excess return over the aligned period into factor contributions
        (beta x factor return, summed), alpha (alpha x periods) and residual. With ``fit=None``
        the betas come from fitting this same period (the residual then sums to ~0); pass a
        ``fit`` from another period to attribute out of sample.
        """
        sample = self._prepare(returns, factors, risk_free)
        if sample.excess.shape[1] != 1:
            cols = ", ".join(map(str, sample.excess.columns))
            raise ValueError(f"attribute takes one return series, got columns {cols}")
        excess = sample.excess.iloc[:, 0]
        if fit is None:
            fit = self._fit_sample(sample)
            asset = fit.assets[0]
        else:
            if fit.factors != self.factors:
                raise ValueError(f"fit has factors {fit.factors}, this model {self.factors}")
            asset = _one_asset(fit, str(excess.name) if len(fit.assets) > 1 else None)
        betas = fit.betas.loc[asset]
        alpha = float(fit.alpha.loc[asset])
        contributions = sample.factors * betas.to_numpy()
        by_period = contributions.copy()
        by_period[INTERCEPT] = alpha
        by_period["residual"] = excess - contributions.sum(axis=1) - alpha
        by_period["total"] = excess
        return Attribution(
            total=float(excess.sum()),
            factors=contributions.sum(axis=0).rename("contribution"),
            alpha=alpha * len(excess),
            residual=float(by_period["residual"].sum()),
            by_period=by_period,
            n_obs=len(excess),
            dropped_rows=sample.dropped_rows,
        )

    def _fit_sample(self, sample: _Sample) -> FactorFit:
        n_obs = len(sample.excess)
        self._require_obs(n_obs, "aligned observations")
        periods_per_year = self._periods_per_year(sample.excess.index)
        flat = [str(c) for c, v in sample.excess.items() if np.ptp(v.to_numpy()) == 0]
        if flat:
            raise ValueError(f"returns are constant for {', '.join(flat)}; R-squared is undefined")
        design = self._design(sample.factors)
        lags = self.hac_lags if self.hac_lags is not None else newey_west_lags(n_obs)
        if lags >= n_obs:
            raise ValueError(f"hac_lags={lags} must be below the {n_obs} observations")
        result = ols_hac(design, sample.excess.to_numpy(), lags, self.small_sample_correction)
        assets = pd.Index(sample.excess.columns, name="asset")
        columns = pd.Index([INTERCEPT, *self.factors], name="coefficient")

        def table(values: np.ndarray) -> pd.DataFrame:
            return pd.DataFrame(values.T, index=assets, columns=columns)

        return FactorFit(
            model=self.name,
            factors=self.factors,
            coefficients=table(result.params),
            std_errors=table(result.std_errors),
            t_stats=table(result.t_stats),
            p_values=table(result.p_values),
            r_squared=pd.Series(result.r_squared, index=assets, name="r_squared"),
            adj_r_squared=pd.Series(result.adj_r_squared, index=assets, name="adj_r_squared"),
            residual_vol=pd.Series(result.residual_vol, index=assets, name="residual_vol"),
            residuals=pd.DataFrame(
                result.residuals, index=sample.excess.index, columns=sample.excess.columns
            ),
            n_obs=n_obs,
            hac_lags=lags,
            periods_per_year=periods_per_year,
            dropped_rows=sample.dropped_rows,
        )

    def _prepare(self, returns: SeriesLike, factors: SeriesLike, risk_free: RiskFree) -> _Sample:
        y = as_frame(returns, "returns")
        names = list(self.factors) if isinstance(factors, np.ndarray) else None
        f = as_frame(factors, "factors", names)
        missing = [name for name in self.factors if name not in f.columns]
        if missing:
            have = ", ".join(f"'{c}'" for c in f.columns)
            raise ValueError(
                f"factors lack column(s) {', '.join(repr(m) for m in missing)} needed by "
                f"{self.name}; have {have}"
            )
        frames = {"returns": y, "factors": f[list(self.factors)]}
        if isinstance(risk_free, str):
            if risk_free not in f.columns:
                raise ValueError(f"risk_free column '{risk_free}' is not in the factor frame")
            frames["risk_free"] = f[[risk_free]]
        elif risk_free is not None:
            rf = as_frame(risk_free, "risk_free")
            if rf.shape[1] != 1:
                raise ValueError(f"risk_free must be one series, got {rf.shape[1]} columns")
            frames["risk_free"] = rf
        aligned = align(frames)
        for (name, _), frame in zip(frames.items(), aligned.frames, strict=True):
            require_finite(frame, name)
        excess, factor_frame = aligned.frames[0], aligned.frames[1]
        if len(aligned.frames) == 3:
            excess = excess.sub(aligned.frames[2].iloc[:, 0], axis=0)
        return _Sample(excess, factor_frame, aligned.dropped_rows)

    def _design(self, factor_frame: pd.DataFrame) -> np.ndarray:
        design = np.column_stack([np.ones(len(factor_frame)), factor_frame.to_numpy()])
        check_design(design, ("the intercept", *self.factors))
        return design

    def _require_obs(self, n_obs: int, what: str) -> None:
        if n_obs < self.min_obs:
            raise ValueError(
                f"too few observations: {n_obs} {what}, {self.name} with {len(self.factors)} "
                f"factors needs at least {self.min_obs} (min_obs)"
            )

    def _periods_per_year(self, index: pd.Index) -> float:
        if self.periods_per_year is not None:
            return float(self.periods_per_year)
        return infer_periods_per_year(index)


class FamaFrench3(FactorModel):
    """Fama-French (1993) three factors: market excess return, size (SMB), value (HML)."""

    name = "Fama-French 3"
    default_factors = ("Mkt-RF", "SMB", "HML")


class FamaFrench5(FactorModel):
    """Fama-French (2015) five factors: FF3 plus profitability (RMW) and investment (CMA)."""

    name = "Fama-French 5"
    default_factors = ("Mkt-RF", "SMB", "HML", "RMW", "CMA")


class Carhart4(FactorModel):
    """Carhart (1997) four factors: FF3 plus momentum ("Mom" in Kenneth French's files)."""

    name = "Carhart 4"
    default_factors = ("Mkt-RF", "SMB", "HML", "Mom")


def _one_asset(fit: FactorFit, asset: str | None) -> str:
    if asset is None:
        if len(fit.assets) != 1:
            raise ValueError(f"the fit has assets {', '.join(fit.assets)}; name one")
        return fit.assets[0]
    if asset not in fit.coefficients.index:
        raise ValueError(f"asset '{asset}' is not in the fit ({', '.join(fit.assets)})")
    return asset
