"""Covariance forecasts for VaR: sample, EWMA (RiskMetrics) and per-asset GARCH(1,1).

All inputs and outputs are per period of the return data (per day for daily returns), as simple
return fractions. Nothing here is annualised; horizon scaling happens in the VaR functions.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from ._validate import FloatArray, RiskInputError, check_returns

VolModel = Literal["sample", "ewma", "garch"]
CorrelationModel = Literal["ewma", "sample"]

RISKMETRICS_LAMBDA = 0.94
# A GARCH(1,1) fit on fewer daily observations than this is mostly noise.
GARCH_MIN_OBS = 100
# arch's optimiser is best conditioned on returns in percent, not fractions.
_GARCH_SCALE = 100.0


class RiskModelError(RuntimeError):
    """A volatility model could not be estimated on the data given (e.g. GARCH did not converge)."""


@dataclass(frozen=True)
class Moments:
    """Per-period mean vector and covariance of asset returns, and how they were estimated."""

    mean: FloatArray
    cov: FloatArray
    vol_model: VolModel
    correlation: CorrelationModel | None
    n_obs: int


def sample_cov(returns: ArrayLike) -> FloatArray:
    """Unbiased (ddof=1) sample covariance of 2-D returns (rows = periods, columns = assets)."""
    arr = _as_panel(returns)
    cov: FloatArray = np.atleast_2d(np.cov(arr, rowvar=False, ddof=1))
    return cov


def ewma_cov(
    returns: ArrayLike, lam: float = RISKMETRICS_LAMBDA, init: ArrayLike | None = None
) -> FloatArray:
    """RiskMetrics EWMA covariance forecast for the period after the last row of ``returns``.

    The recursion is ``S_{t+1} = lam * S_t + (1 - lam) * r_t r_t'`` over t = 1..T, seeded with
    ``S_1 = init`` (default: the zero-mean second moment ``R'R / T`` of the whole sample, whose
    weight lam**T is negligible once T is a few hundred). Like RiskMetrics the returns are taken
    as zero-mean: demean them first if that is not what you want (``estimate_moments`` does).
    Evaluated in closed form as one weighted matrix product, not a Python loop.
    """
    arr = _as_panel(returns)
    if not 0.0 < float(lam) < 1.0:
        raise RiskInputError(f"lam must be strictly between 0 and 1 (RiskMetrics: 0.94), got {lam}")
    n_obs, n_assets = arr.shape
    if init is None:
        seed: FloatArray = arr.T @ arr / n_obs
    else:
        seed = np.asarray(init, dtype=np.float64)
        if seed.shape != (n_assets, n_assets):
            raise RiskInputError(
                f"init must be {n_assets}x{n_assets} to match returns, got shape {seed.shape}"
            )
    # Weight of r_t in S_{T+1} is (1 - lam) * lam**(T - t): the newest row gets (1 - lam).
    decay = lam ** np.arange(n_obs - 1, -1, -1, dtype=np.float64)
    cov: FloatArray = (1.0 - lam) * (arr * decay[:, None]).T @ arr + lam**n_obs * seed
    return 0.5 * (cov + cov.T)


def garch_vols(returns: ArrayLike) -> FloatArray:
    """One-period-ahead GARCH(1,1) volatility forecast per asset column, fitted with ``arch``.

    Each column is fitted separately as a zero-mean GARCH(1,1) with normal innovations (demean the
    returns first if needed). Returns per-period volatilities as fractions. Raises
    ``RiskModelError`` naming the column if the optimiser does not converge.
    """
    from arch import arch_model  # heavy import, only needed for this vol model

    arr = _as_panel(returns)
    n_obs = arr.shape[0]
    if n_obs < GARCH_MIN_OBS:
        raise RiskInputError(
            f"returns has {n_obs} observations; GARCH(1,1) needs at least {GARCH_MIN_OBS}, "
            "use vol_model='ewma' for short histories"
        )
    vols = np.empty(arr.shape[1])
    for j in range(arr.shape[1]):
        column = arr[:, j]
        if not np.any(column):
            vols[j] = 0.0
            continue
        model = arch_model(_GARCH_SCALE * column, mean="Zero", vol="GARCH", p=1, q=1, rescale=False)
        with warnings.catch_warnings():
            # Convergence is checked explicitly below; arch's warning would only duplicate it.
            warnings.simplefilter("ignore")
            fit = model.fit(disp="off")
        if fit.convergence_flag != 0:
            raise RiskModelError(
                f"GARCH(1,1) fit for returns column {j} did not converge "
                f"(optimizer flag {fit.convergence_flag}); use vol_model='ewma' or a longer history"
            )
        variance = float(fit.forecast(horizon=1, reindex=False).variance.to_numpy()[-1, 0])
        vols[j] = np.sqrt(variance) / _GARCH_SCALE
    return vols


def cov_to_corr(cov: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Split a covariance into (vols, correlation); zero-variance assets get 0 correlation."""
    arr = np.asarray(cov, dtype=np.float64)
    vols = np.sqrt(np.clip(np.diag(arr), 0.0, None))
    inv = np.divide(1.0, vols, out=np.zeros_like(vols), where=vols > 0)
    corr = arr * np.outer(inv, inv)
    np.fill_diagonal(corr, 1.0)
    return vols, corr


def corr_to_cov(vols: ArrayLike, corr: ArrayLike) -> FloatArray:
    """Covariance ``D C D`` from volatilities and a correlation matrix."""
    v = np.asarray(vols, dtype=np.float64)
    cov: FloatArray = np.asarray(corr, dtype=np.float64) * np.outer(v, v)
    return cov


def estimate_moments(
    returns: ArrayLike,
    *,
    vol_model: VolModel = "sample",
    lam: float = RISKMETRICS_LAMBDA,
    correlation: CorrelationModel = "ewma",
    zero_mean: bool = False,
) -> Moments:
    """Per-period mean vector and covariance forecast from a return history.

    ``returns`` are simple returns as fractions, rows = periods (oldest first), columns = assets.
    The mean is the sample mean (or zero with ``zero_mean``); the volatility models see the
    residuals ``r_t - mean``. ``vol_model``: ``"sample"`` (ddof=1 covariance about the sample
    mean, whatever ``zero_mean`` says), ``"ewma"``
    (RiskMetrics, decay ``lam``) or ``"garch"`` (per-asset GARCH(1,1) volatility forecast via
    ``arch`` combined with the ``correlation`` matrix of the EWMA or sample covariance).
    """
    arr = _as_panel(returns)
    n_obs = arr.shape[0]
    if n_obs < 2:
        raise RiskInputError(f"returns has {n_obs} observation; at least 2 are needed")
    mean = np.zeros(arr.shape[1]) if zero_mean else arr.mean(axis=0)
    resid = arr - mean
    corr_model: CorrelationModel | None = None
    if vol_model == "sample":
        cov = np.atleast_2d(np.cov(resid, rowvar=False, ddof=1))
    elif vol_model == "ewma":
        cov = ewma_cov(resid, lam)
    elif vol_model == "garch":
        if correlation == "ewma":
            base = ewma_cov(resid, lam)
        elif correlation == "sample":
            base = sample_cov(resid)
        else:
            raise RiskInputError(f"correlation must be 'ewma' or 'sample', got {correlation!r}")
        _, corr = cov_to_corr(base)
        cov = corr_to_cov(garch_vols(resid), corr)
        corr_model = correlation
    else:
        raise RiskInputError(f"vol_model must be 'sample', 'ewma' or 'garch', got {vol_model!r}")
    return Moments(mean=mean, cov=cov, vol_model=vol_model, correlation=corr_model, n_obs=n_obs)


def _as_panel(returns: ArrayLike) -> FloatArray:
    arr = check_returns(returns)
    return arr[:, None] if arr.ndim == 1 else arr
