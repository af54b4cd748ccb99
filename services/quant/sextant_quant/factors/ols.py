"""Least squares with an intercept and Newey-West (HAC) standard errors, for many return series
against one factor design at once. Plain numpy; statsmodels OLS(cov_type="HAC") is the oracle in
the tests.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats


def newey_west_lags(n_obs: int) -> int:
    """Newey-West (1994) rule-of-thumb bandwidth ``floor(4 * (T / 100) ** (2 / 9))``: 4 lags for
    T = 100 and for T = 240 (20 years of months), 9 for T = 5000 (20 years of days)."""
    return math.floor(4.0 * (n_obs / 100.0) ** (2.0 / 9.0))


def check_design(design: np.ndarray, names: Sequence[str]) -> None:
    """Raise ValueError when ``design`` (T x p, first column the intercept) is rank deficient,
    naming the first column that is a linear combination of the ones before it."""
    tol_rank = np.linalg.matrix_rank(design)
    if tol_rank == design.shape[1]:
        return
    for j in range(1, design.shape[1] + 1):
        if np.linalg.matrix_rank(design[:, :j]) < j:
            before = ", ".join(names[: j - 1])
            raise ValueError(
                f"singular factor design: '{names[j - 1]}' is a linear combination of "
                f"{before} (collinear or constant factor); drop it or choose other factors"
            )
    raise ValueError("singular factor design")  # pragma: no cover - rank says otherwise


def bartlett_weights(lags: int) -> np.ndarray:
    """Bartlett kernel weights ``1 - j / (lags + 1)`` for j = 0..lags."""
    return 1.0 - np.arange(lags + 1) / (lags + 1.0)


@dataclass(frozen=True)
class OLSArrays:
    """Per-series results, parameters first (intercept, then factors) down the rows and one
    column per return series."""

    params: np.ndarray
    std_errors: np.ndarray
    t_stats: np.ndarray
    p_values: np.ndarray
    residuals: np.ndarray
    r_squared: np.ndarray
    adj_r_squared: np.ndarray
    residual_vol: np.ndarray
    """sqrt(SSR / (T - p)): the regression's standard error, per period."""


def ols_hac(
    design: np.ndarray, targets: np.ndarray, lags: int, small_sample_correction: bool = False
) -> OLSArrays:
    """Regress every column of ``targets`` (T x n) on ``design`` (T x p, intercept included),
    with Newey-West covariance: Bartlett kernel over ``lags`` lags, scaled by T / (T - p) when
    ``small_sample_correction`` (statsmodels' ``use_correction``). p-values are two-sided from
    the normal distribution, as statsmodels reports for HAC covariances.
    """
    n_obs, n_params = design.shape
    params, *_ = np.linalg.lstsq(design, targets, rcond=None)
    residuals = targets - design @ params
    bread = np.linalg.inv(design.T @ design)

    # scores[t, i, :] = x_t * u_{t,i}: the moment contributions of series i at date t
    scores = design[:, None, :] * residuals[:, :, None]
    weights = bartlett_weights(lags)
    meat = np.einsum("tip,tiq->ipq", scores, scores)
    for lag in range(1, lags + 1):
        gamma = np.einsum("tip,tiq->ipq", scores[lag:], scores[:-lag])
        meat += weights[lag] * (gamma + gamma.transpose(0, 2, 1))
    cov = bread[None] @ meat @ bread[None]
    if small_sample_correction:
        cov *= n_obs / (n_obs - n_params)
    std_errors = np.sqrt(np.diagonal(cov, axis1=1, axis2=2)).T
    t_stats = params / std_errors
    p_values = 2.0 * stats.norm.sf(np.abs(t_stats))

    ssr = (residuals**2).sum(axis=0)
    sst = ((targets - targets.mean(axis=0)) ** 2).sum(axis=0)
    r_squared = 1.0 - ssr / sst
    adj_r_squared = 1.0 - (1.0 - r_squared) * (n_obs - 1) / (n_obs - n_params)
    residual_vol = np.sqrt(ssr / (n_obs - n_params))
    return OLSArrays(
        params=params,
        std_errors=std_errors,
        t_stats=t_stats,
        p_values=p_values,
        residuals=residuals,
        r_squared=r_squared,
        adj_r_squared=adj_r_squared,
        residual_vol=residual_vol,
    )


def rolling_ols(
    design: np.ndarray, target: np.ndarray, window: int, chunk: int = 2048
) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients (W x p) and R-squared (W,) of OLS of ``target`` (T,) on ``design`` (T x p)
    over every full window of ``window`` consecutive rows, W = T - window + 1. Windows are solved
    in stacked QR batches of ``chunk`` to bound memory. Raises ValueError on a window whose
    design is singular, naming its position.
    """
    n_obs, n_params = design.shape
    n_windows = n_obs - window + 1
    x_windows = np.lib.stride_tricks.sliding_window_view(design, window, axis=0)  # W, p, window
    y_windows = np.lib.stride_tricks.sliding_window_view(target, window)  # W, window
    params = np.empty((n_windows, n_params))
    r_squared = np.empty(n_windows)
    for start in range(0, n_windows, chunk):
        stop = min(start + chunk, n_windows)
        x = np.ascontiguousarray(x_windows[start:stop].transpose(0, 2, 1))
        y = y_windows[start:stop]
        q, r = np.linalg.qr(x)
        diag = np.abs(np.diagonal(r, axis1=1, axis2=2))
        singular = diag < 1e-10 * np.maximum(diag.max(axis=1, keepdims=True), 1e-300)
        if singular.any():
            first = start + int(np.argwhere(singular.any(axis=1))[0, 0])
            raise ValueError(
                f"singular factor design in the rolling window ending at row {first + window - 1}"
                " (a factor is constant or collinear there); use a longer window"
            )
        qty = np.einsum("wtp,wt->wp", q, y)
        beta = np.linalg.solve(r, qty[:, :, None])[:, :, 0]
        resid = y - np.einsum("wtp,wp->wt", x, beta)
        ssr = (resid**2).sum(axis=1)
        sst = ((y - y.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
        if (sst == 0).any():
            first = start + int(np.argwhere(sst == 0)[0, 0])
            raise ValueError(
                f"returns are constant in the rolling window ending at row {first + window - 1};"
                " R-squared is undefined there"
            )
        params[start:stop] = beta
        r_squared[start:stop] = 1.0 - ssr / sst
    return params, r_squared
