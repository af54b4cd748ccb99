"""Volatility regimes from a GARCH(1,1) conditional volatility (``arch``'s arch_model).

The conditional volatility at date t is the model's one-step-ahead forecast made with returns up
to t-1, so given the parameters it has no look-ahead; the parameters and (by default) the
quantile thresholds come from the whole sample, which makes the regime labels a research view
unless ``thresholds`` are fixed in advance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from arch import arch_model

from sextant_quant.factors.series import SeriesLike, as_series, infer_periods_per_year
from sextant_quant.regimes.hmm import MIN_HMM_OBS

VOL_LABELS = ("low", "normal", "high")

# arch's optimizer is best conditioned for returns of order 1, so it sees percent returns
_PERCENT = 100.0


@dataclass(frozen=True)
class GarchRegimes:
    """GARCH(1,1) fit, conditional volatility and the low/normal/high regime of each date."""

    conditional_vol: pd.Series
    """annualized fraction (0.20 = 20% a year)"""
    regimes: pd.Series
    """"low" below thresholds[0], "high" at or above thresholds[1], else "normal"; categorical"""
    thresholds: tuple[float, float]
    """annualized vol cut-offs"""
    params: pd.Series
    """mu (percent per period), omega (percent^2), alpha[1], beta[1] as arch names them"""
    persistence: float
    """alpha + beta: how slowly volatility shocks decay (< 1 for a stationary model)"""
    log_likelihood: float
    periods_per_year: float


def fit_garch_regimes(
    returns: SeriesLike,
    *,
    quantiles: tuple[float, float] = (1.0 / 3.0, 2.0 / 3.0),
    thresholds: tuple[float, float] | None = None,
    periods_per_year: float | None = None,
    mean: Literal["Constant", "Zero"] = "Constant",
    dist: Literal["normal", "t"] = "normal",
) -> GarchRegimes:
    """Fit GARCH(1,1) to one return series (fractions per period, at least 100 dates) and
    label each date's conditional volatility low/normal/high.

    ``thresholds`` are annualized vol cut-offs (e.g. (0.12, 0.25)); when None they are the
    ``quantiles`` of the fitted conditional vol. The fit is deterministic (arch's SLSQP from
    fixed starting values). Raises ValueError on NaNs, short series or a failed optimization.
    """
    series = as_series(returns)
    if len(series) < MIN_HMM_OBS:
        raise ValueError(
            f"too few observations for GARCH(1,1): {len(series)}, need at least {MIN_HMM_OBS}"
        )
    if not 0.0 < quantiles[0] < quantiles[1] < 1.0:
        raise ValueError(f"quantiles must satisfy 0 < q_low < q_high < 1, got {quantiles}")
    if thresholds is not None and not 0.0 < thresholds[0] < thresholds[1]:
        raise ValueError(f"thresholds must satisfy 0 < low < high, got {thresholds}")
    if np.ptp(series.to_numpy()) == 0:
        raise ValueError("returns are constant: GARCH has no variance to model")
    ppy = periods_per_year if periods_per_year is not None else infer_periods_per_year(series.index)

    model = arch_model(
        series * _PERCENT, mean=mean, vol="GARCH", p=1, q=1, dist=dist, rescale=False
    )
    result = model.fit(disp="off", show_warning=False)
    if result.convergence_flag != 0:
        raise ValueError(
            f"GARCH(1,1) optimization did not converge (flag {result.convergence_flag}); "
            "check the series for outliers or use a longer sample"
        )
    vol = pd.Series(
        np.asarray(result.conditional_volatility) / _PERCENT * np.sqrt(ppy),
        index=series.index,
        name="conditional_vol",
    )
    if not np.isfinite(vol.to_numpy()).all():
        raise ValueError("GARCH(1,1) produced a non-finite conditional volatility")
    if thresholds is None:
        low, high = (float(x) for x in np.quantile(vol.to_numpy(), quantiles))
    else:
        low, high = float(thresholds[0]), float(thresholds[1])
    codes = np.where(vol.to_numpy() < low, 0, np.where(vol.to_numpy() >= high, 2, 1))
    regimes = pd.Series(
        pd.Categorical.from_codes(codes, categories=list(VOL_LABELS)),
        index=series.index,
        name="vol_regime",
    )
    params = pd.Series(result.params, dtype=float)
    return GarchRegimes(
        conditional_vol=vol,
        regimes=regimes,
        thresholds=(low, high),
        params=params,
        persistence=float(params["alpha[1]"] + params["beta[1]"]),
        log_likelihood=float(result.loglikelihood),
        periods_per_year=float(ppy),
    )
