"""Value at Risk and expected shortfall (CVaR) of a linear portfolio.

Conventions used by every function here:

* Returns are simple returns as fractions per period of the input data (per day for daily data);
  ``weights`` are exposures as fractions of portfolio value (they need not sum to 1; shorts are
  negative). The portfolio return over one period is ``w @ r`` and the loss is ``-(w @ r)``.
* VaR at confidence ``c`` is the ``c``-quantile of the loss and CVaR (expected shortfall) is the
  mean loss at or beyond VaR. Both are reported as **positive fractions of portfolio value** for a
  loss (0.023 = 2.3% of value). A negative number means even the tail outcome is a gain; it is
  reported as is, never clipped.
* ``horizon`` is in periods of the input data. Parametric methods scale the mean by ``h`` and the
  volatility by ``sqrt(h)`` (i.i.d. returns); Cornish-Fisher also scales skewness by
  ``1/sqrt(h)`` and excess kurtosis by ``1/h`` (cumulants of a sum of i.i.d. returns); historical
  VaR/CVaR are the one-period figures times ``sqrt(h)`` (the square-root-of-time rule, exact only
  for zero-mean normal returns); Monte Carlo simulates one step with mean ``h * mu`` and
  covariance ``h * cov`` (exact for normal returns, the square-root-of-time approximation for
  Student-t, whose sums are not Student-t).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy import special, stats

from ._validate import (
    FloatArray,
    RiskInputError,
    check_confidence,
    check_cov,
    check_finite,
    check_positive,
    check_vector,
    cov_factor,
    portfolio_returns,
)
from .covariance import RISKMETRICS_LAMBDA, CorrelationModel, VolModel, estimate_moments

QuantileMethod = Literal["linear", "lower", "higher", "nearest", "midpoint", "inverted_cdf"]
Distribution = Literal["normal", "t"]
VaRMethod = Literal["historical", "normal", "cornish_fisher", "monte_carlo_normal", "monte_carlo_t"]

_QUANTILE_METHODS = ("linear", "lower", "higher", "nearest", "midpoint", "inverted_cdf")
# Standard normals are drawn and projected in row blocks of about this many bytes, so the
# simulation never holds the full paths x assets matrix (0.4 GB at 100k x 500).
_MC_BLOCK_BYTES = 1 << 21


@dataclass(frozen=True)
class VaRResult:
    """VaR and CVaR as positive loss fractions of portfolio value over ``horizon`` periods.

    ``mean`` and ``sigma`` are the portfolio's mean return and volatility over the horizon (as
    fractions) where the method uses them; ``n_obs`` is the number of historical observations or
    simulated paths; ``details`` holds method-specific figures (skewness, z-scores, seed ...).
    """

    method: str
    confidence: float
    horizon: float
    var: float
    cvar: float
    mean: float | None = None
    sigma: float | None = None
    n_obs: int | None = None
    details: Mapping[str, float] = field(default_factory=dict)


def historical_var(
    returns: ArrayLike,
    weights: ArrayLike | None = None,
    *,
    confidence: float = 0.95,
    horizon: float = 1.0,
    interpolation: QuantileMethod = "linear",
) -> VaRResult:
    """Historical-simulation VaR/CVaR from a return history.

    ``returns`` is either the portfolio's own 1-D return series or 2-D asset returns (periods x
    assets) combined with ``weights``. VaR is the empirical ``confidence``-quantile of the losses
    computed with ``numpy.quantile(losses, confidence, method=interpolation)``; the default
    ``"linear"`` interpolates between adjacent order statistics (Hyndman-Fan type 7, numpy's
    default); ``"inverted_cdf"`` gives the classic "k-th worst loss" without interpolation. CVaR
    is the mean of the losses >= VaR. At least ``1 / (1 - confidence)`` observations are required
    so that the tail holds at least one of them. Multi-period figures use sqrt-of-time scaling.
    """
    c = check_confidence(confidence)
    h = check_positive(horizon, "horizon")
    if interpolation not in _QUANTILE_METHODS:
        raise RiskInputError(
            f"interpolation must be one of {', '.join(_QUANTILE_METHODS)}; got {interpolation!r}"
        )
    losses = -portfolio_returns(returns, weights)
    needed = _min_tail_sample(c)
    if losses.size < needed:
        raise RiskInputError(
            f"returns has {losses.size} observations; historical VaR at confidence {c} needs at "
            f"least {needed} (1 / (1 - confidence)) so the tail holds one observation"
        )
    var, cvar, tail = _empirical_var_cvar(losses, c, interpolation)
    scale = math.sqrt(h)
    return VaRResult(
        method="historical",
        confidence=c,
        horizon=h,
        var=var * scale,
        cvar=cvar * scale,
        n_obs=int(losses.size),
        details={"tail_count": float(tail)},
    )


def normal_var(
    weights: ArrayLike,
    cov: ArrayLike,
    mean: ArrayLike | None = None,
    *,
    confidence: float = 0.95,
    horizon: float = 1.0,
    fix_psd: bool = False,
) -> VaRResult:
    """Parametric (variance-covariance) VaR/CVaR under normal returns, in closed form.

    With ``mu = h * w @ mean``, ``sigma = sqrt(h * w' cov w)`` and ``z = Phi^-1(1 - c)``:
    ``VaR = -(mu + sigma z)`` and ``CVaR = -(mu - sigma phi(z) / (1 - c))``. ``mean`` and ``cov``
    are per period; ``mean`` defaults to zero.
    """
    result = cornish_fisher_var(
        weights, cov, mean, confidence=confidence, horizon=horizon, fix_psd=fix_psd
    )
    return replace(result, method="normal", details={"z": result.details["z"]})


def cornish_fisher_var(
    weights: ArrayLike,
    cov: ArrayLike,
    mean: ArrayLike | None = None,
    *,
    skew: float = 0.0,
    excess_kurtosis: float = 0.0,
    confidence: float = 0.95,
    horizon: float = 1.0,
    fix_psd: bool = False,
) -> VaRResult:
    """Parametric VaR/CVaR with the Cornish-Fisher skewness/kurtosis-adjusted quantile.

    ``skew`` and ``excess_kurtosis`` are those of the one-period portfolio return. With
    ``z = Phi^-1(1 - c)`` the adjusted quantile is
    ``z_cf = z + (z^2-1) S/6 + (z^3-3z) K/24 - (2z^3-5z) S^2/36`` and ``VaR = -(mu + sigma z_cf)``.
    CVaR is the exact tail integral of the same expansion, ``-(mu + sigma E[z_cf(Z) | Z < z])``,
    evaluated in closed form from the normal partial moments (equal to integrating the CF quantile
    over the tail numerically). Raises if the expansion is not monotone over the tail, where it
    stops being a quantile function (typical for excess kurtosis above ~6-8).
    With ``skew = excess_kurtosis = 0`` this is exactly ``normal_var``.
    """
    c = check_confidence(confidence)
    h = check_positive(horizon, "horizon")
    w, sigma_cov, m = _check_moments(weights, cov, mean, fix_psd=fix_psd)
    s1 = check_finite(skew, "skew")
    k1 = check_finite(excess_kurtosis, "excess_kurtosis")
    mu = h * float(w @ m)
    sigma = math.sqrt(h * max(float(w @ sigma_cov @ w), 0.0))
    # Cumulants of a sum of h i.i.d. returns: skew / sqrt(h), excess kurtosis / h.
    s, k = s1 / math.sqrt(h), k1 / h
    p = 1.0 - c
    z = float(special.ndtri(p))
    _check_cf_monotone(z, s, k, s1, k1)
    z_cf = z + (z * z - 1) * s / 6 + (z**3 - 3 * z) * k / 24 - (2 * z**3 - 5 * z) * s * s / 36
    density = math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    # E[z_cf(Z) 1{Z<z}] / p from the partial moments E[Z^k 1{Z<z}], k = 0..3.
    tail_mean = density / p * (-1 - s * z / 6 + k * (1 - z * z) / 24 - s * s * (1 - 2 * z * z) / 36)
    return VaRResult(
        method="cornish_fisher",
        confidence=c,
        horizon=h,
        var=-(mu + sigma * z_cf),
        cvar=-(mu + sigma * tail_mean),
        mean=mu,
        sigma=sigma,
        details={"z": z, "z_cf": z_cf, "skew": s, "excess_kurtosis": k},
    )


def simulate_portfolio_returns(
    weights: ArrayLike,
    cov: ArrayLike,
    mean: ArrayLike | None = None,
    *,
    paths: int = 100_000,
    horizon: float = 1.0,
    distribution: Distribution = "normal",
    df: float = 5.0,
    seed: int | np.random.Generator = 0,
    fix_psd: bool = False,
) -> FloatArray:
    """Simulated portfolio returns over ``horizon`` periods, one per path (fractions of value).

    Asset returns are multivariate normal ``h*mean + L z`` (``L L' = h*cov``) or multivariate
    Student-t ``h*mean + sqrt((df-2)/W) L z`` with ``W ~ chi2(df)`` shared across assets, so the
    covariance is ``h*cov`` for any ``df > 2``. Because the portfolio is linear, each path's
    return ``w @ (L z) = z @ (L' w)`` is computed by projecting the standard normals on
    ``L' w`` block by block, never materialising the paths x assets return matrix; this is exact
    path by path, not an approximation. Draw order (chi2 first for Student-t, then the normals
    row by row) equals ``rng.standard_normal((paths, n_assets)) @ L.T @ w`` with the same seed.
    """
    w, sigma_cov, m = _check_moments(weights, cov, mean, fix_psd=fix_psd)
    h = check_positive(horizon, "horizon")
    n_paths = _check_paths(paths)
    if distribution not in ("normal", "t"):
        raise RiskInputError(f"distribution must be 'normal' or 't', got {distribution!r}")
    nu = _check_df(df) if distribution == "t" else math.inf
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)

    projection = cov_factor(sigma_cov).T @ w * math.sqrt(h)
    mixing = rng.chisquare(nu, n_paths) if distribution == "t" else None
    pnl = np.empty(n_paths)
    block_rows = max(1, _MC_BLOCK_BYTES // (8 * w.size))
    block = np.empty((min(block_rows, n_paths), w.size))
    for start in range(0, n_paths, block_rows):
        rows = block[: min(block_rows, n_paths - start)]
        rng.standard_normal(out=rows)
        np.matmul(rows, projection, out=pnl[start : start + rows.shape[0]])
    if mixing is not None:
        pnl *= np.sqrt((nu - 2.0) / mixing)
    pnl += h * float(w @ m)
    return pnl


def monte_carlo_var(
    weights: ArrayLike,
    cov: ArrayLike,
    mean: ArrayLike | None = None,
    *,
    confidence: float = 0.99,
    horizon: float = 1.0,
    distribution: Distribution = "normal",
    df: float = 5.0,
    paths: int = 100_000,
    seed: int | np.random.Generator = 0,
    fix_psd: bool = False,
) -> VaRResult:
    """Monte Carlo VaR/CVaR under multivariate normal or Student-t (``df``) asset returns.

    Simulates ``paths`` portfolio returns with ``simulate_portfolio_returns`` (seeded: the same
    inputs and ``seed`` give the same numbers) and reads VaR/CVaR off the simulated losses like
    ``historical_var`` (linear-interpolated quantile, mean of losses >= VaR). ``details`` holds
    ``cvar_std_error``, the standard error of the tail mean (ignoring the error in VaR itself).
    """
    c = check_confidence(confidence)
    h = check_positive(horizon, "horizon")
    n_paths = _check_paths(paths)
    needed = _min_tail_sample(c)
    if n_paths < needed:
        raise RiskInputError(f"paths must be >= {needed} at confidence {c}, got {paths}")
    losses = -simulate_portfolio_returns(
        weights,
        cov,
        mean,
        paths=n_paths,
        horizon=h,
        distribution=distribution,
        df=df,
        seed=seed,
        fix_psd=fix_psd,
    )
    var, cvar, tail = _empirical_var_cvar(losses, c, "linear")
    tail_losses = losses[losses >= var]
    cvar_se = float(tail_losses.std(ddof=1) / math.sqrt(tail)) if tail > 1 else 0.0
    details: dict[str, float] = {"tail_count": float(tail), "cvar_std_error": cvar_se}
    if distribution == "t":
        details["df"] = float(df)
    if not isinstance(seed, np.random.Generator):
        details["seed"] = float(seed)
    return VaRResult(
        method=f"monte_carlo_{distribution}",
        confidence=c,
        horizon=h,
        var=var,
        cvar=cvar,
        mean=float(-losses.mean()),
        sigma=float(losses.std(ddof=1)),
        n_obs=n_paths,
        details=details,
    )


def portfolio_var(
    returns: ArrayLike,
    weights: ArrayLike,
    *,
    method: VaRMethod = "historical",
    confidence: float = 0.95,
    horizon: float = 1.0,
    vol_model: VolModel = "sample",
    lam: float = RISKMETRICS_LAMBDA,
    correlation: CorrelationModel = "ewma",
    zero_mean: bool = False,
    df: float = 5.0,
    paths: int = 100_000,
    seed: int = 0,
    interpolation: QuantileMethod = "linear",
) -> VaRResult:
    """VaR/CVaR of ``weights`` from a 2-D asset return history (periods x assets, oldest first).

    ``historical`` uses the returns directly (``vol_model`` must stay ``"sample"``). The other
    methods first estimate the per-period mean and covariance with ``estimate_moments`` (sample,
    EWMA with decay ``lam``, or GARCH(1,1) vols with ``correlation`` from EWMA or sample) and
    then call ``normal_var``, ``cornish_fisher_var`` (skewness and excess kurtosis of the
    historical portfolio returns, bias-corrected) or ``monte_carlo_var``.
    """
    if method == "historical":
        if vol_model != "sample":
            raise RiskInputError(
                f"vol_model={vol_model!r} applies to parametric and Monte Carlo methods; "
                "historical VaR uses the returns as they are (leave vol_model='sample')"
            )
        return historical_var(
            returns, weights, confidence=confidence, horizon=horizon, interpolation=interpolation
        )
    moments = estimate_moments(
        returns, vol_model=vol_model, lam=lam, correlation=correlation, zero_mean=zero_mean
    )
    if method == "normal":
        result = normal_var(
            weights, moments.cov, moments.mean, confidence=confidence, horizon=horizon
        )
    elif method == "cornish_fisher":
        series = portfolio_returns(returns, weights)
        if series.size < 4:
            raise RiskInputError(
                f"returns has {series.size} observations; Cornish-Fisher needs at least 4 "
                "to estimate skewness and kurtosis"
            )
        result = cornish_fisher_var(
            weights,
            moments.cov,
            moments.mean,
            skew=float(stats.skew(series, bias=False)),
            excess_kurtosis=float(stats.kurtosis(series, fisher=True, bias=False)),
            confidence=confidence,
            horizon=horizon,
        )
    elif method in ("monte_carlo_normal", "monte_carlo_t"):
        result = monte_carlo_var(
            weights,
            moments.cov,
            moments.mean,
            confidence=confidence,
            horizon=horizon,
            distribution="normal" if method == "monte_carlo_normal" else "t",
            df=df,
            paths=paths,
            seed=seed,
        )
    else:
        raise RiskInputError(
            "method must be one of historical, normal, cornish_fisher, monte_carlo_normal, "
            f"monte_carlo_t; got {method!r}"
        )
    return replace(result, details={**result.details, "estimation_obs": float(moments.n_obs)})


def _check_moments(
    weights: ArrayLike, cov: ArrayLike, mean: ArrayLike | None, *, fix_psd: bool
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Checked weights, covariance (matching the weights) and mean (zero when ``None``)."""
    w = check_vector(weights, "weights")
    sigma_cov = check_cov(cov, w.size, fix_psd=fix_psd)
    m = np.zeros(w.size) if mean is None else check_vector(mean, "mean", w.size)
    return w, sigma_cov, m


def _min_tail_sample(confidence: float) -> int:
    # 1 / (1 - c) observations put one in the tail; the epsilon absorbs 1 - 0.99 != 0.01.
    return math.ceil(1.0 / (1.0 - confidence) - 1e-9)


def _empirical_var_cvar(
    losses: FloatArray, confidence: float, interpolation: QuantileMethod
) -> tuple[float, float, int]:
    var = float(np.quantile(losses, confidence, method=interpolation))
    tail = losses[losses >= var]
    return var, float(tail.mean()), int(tail.size)


def _check_cf_monotone(z: float, s: float, k: float, skew: float, kurt: float) -> None:
    # d z_cf / dz = a z^2 + b z + c0; it must stay > 0 on (-inf, z] for z_cf to be a quantile
    # function over the whole tail that VaR and CVaR read.
    a = k / 8 - s * s / 6
    b = s / 3
    c0 = 1 - k / 8 + 5 * s * s / 36
    if a > 0:
        vertex = -b / (2 * a)
        lowest = c0 - b * b / (4 * a) if vertex <= z else a * z * z + b * z + c0
    elif a == 0 and b <= 0:
        lowest = b * z + c0
    else:
        lowest = -math.inf
    if lowest <= 0:
        raise RiskInputError(
            f"the Cornish-Fisher expansion is not monotone over the tail for skew={skew:.4g}, "
            f"excess_kurtosis={kurt:.4g}, so its quantile is not valid; use historical_var or "
            "monte_carlo_var with distribution='t' for such heavy tails"
        )


def _check_paths(paths: int) -> int:
    if isinstance(paths, bool) or not isinstance(paths, (int, np.integer)) or paths < 2:
        raise RiskInputError(f"paths must be an integer >= 2, got {paths!r}")
    return int(paths)


def _check_df(df: float) -> float:
    nu = check_finite(df, "df")
    if nu <= 2.0:
        raise RiskInputError(
            f"df must be > 2 so the Student-t covariance is finite and can be matched, got {df!r}"
        )
    return nu
