"""Raw SVI smiles (Gatheral 2004): one expiry's total implied variance against log-moneyness.

``w(k) = a + b (rho (k - m) + sqrt((k - m)^2 + sigma^2))`` with ``k = ln(K / F)`` (log forward
moneyness) and ``w = vol^2 * t`` (total variance; ``vol`` annualized, ``t`` in years). The fit keeps
the raw-SVI constraints ``b >= 0``, ``|rho| < 1``, ``sigma > 0`` and ``a + b sigma sqrt(1 - rho^2)
>= 0`` (non-negative minimum variance) by optimizing over ``(w_min, b, rho, m, sigma)`` with box
bounds, where ``w_min = a + b sigma sqrt(1 - rho^2)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import least_squares

from ._inputs import FloatArray, OptionInputError, as_float, where

RHO_BOUND = 1.0 - 1e-9
SIGMA_FLOOR = 1e-8
MIN_QUOTES = 5  # five parameters


@dataclass(frozen=True)
class SviParams:
    """Raw SVI parameters of one expiry (total-variance units; ``m`` and ``sigma`` in k units)."""

    a: float
    b: float
    rho: float
    m: float
    sigma: float

    def total_variance(self, k: ArrayLike) -> FloatArray:
        """``w(k)`` at log-moneyness ``k``."""
        z = np.asarray(k, dtype=np.float64) - self.m
        out: FloatArray = self.a + self.b * (self.rho * z + np.sqrt(z * z + self.sigma**2))
        return out

    def derivatives(self, k: ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``w``, ``dw/dk`` and ``d2w/dk2`` at ``k``."""
        z = np.asarray(k, dtype=np.float64) - self.m
        root = np.sqrt(z * z + self.sigma**2)
        w = self.a + self.b * (self.rho * z + root)
        w1 = self.b * (self.rho + z / root)
        w2 = self.b * self.sigma**2 / root**3
        return w, w1, w2

    def durrleman_g(self, k: ArrayLike) -> FloatArray:
        """Durrleman's butterfly condition ``g(k)``; the smile is free of butterfly arbitrage where
        ``g >= 0`` (Gatheral & Jacquier 2014, eq. 2.1):

        ``g = (1 - k w' / (2 w))^2 - (w'^2 / 4) (1 / w + 1 / 4) + w'' / 2``.
        """
        k_arr = np.asarray(k, dtype=np.float64)
        w, w1, w2 = self.derivatives(k_arr)
        with np.errstate(divide="ignore", invalid="ignore"):
            g: FloatArray = (
                (1.0 - k_arr * w1 / (2.0 * w)) ** 2 - 0.25 * w1 * w1 * (1.0 / w + 0.25) + 0.5 * w2
            )
        # Zero or negative variance is itself an arbitrage: report it as g = -inf.
        return np.where(w > 0, g, -np.inf)

    @property
    def min_variance(self) -> float:
        """The minimum of ``w``: ``a + b sigma sqrt(1 - rho^2)``."""
        return self.a + self.b * self.sigma * math.sqrt(1.0 - self.rho**2)


@dataclass(frozen=True)
class SviSlice:
    """An SVI fit of one expiry: ``t`` in years, fit error in vol units (annualized fraction)."""

    t: float
    params: SviParams
    rmse_vol: float
    max_error_vol: float
    n_quotes: int
    k_min: float
    k_max: float

    def total_variance(self, k: ArrayLike) -> FloatArray:
        return self.params.total_variance(k)

    def vol(self, k: ArrayLike) -> FloatArray:
        """Annualized implied vol ``sqrt(w(k) / t)`` (NaN never: w > 0 for admissible fits)."""
        out: FloatArray = np.sqrt(np.maximum(self.total_variance(k), 0.0) / self.t)
        return out


def check_quotes(k: ArrayLike, vol: ArrayLike, name: str = "") -> tuple[FloatArray, FloatArray]:
    """Finite log-moneyness and positive finite vols of equal 1-D length."""
    k_arr = as_float(k, "log_moneyness").reshape(-1)
    v_arr = as_float(vol, "vol").reshape(-1)
    if k_arr.size != v_arr.size:
        raise OptionInputError(
            f"log_moneyness has {k_arr.size} quotes but vol has {v_arr.size}{name}"
        )
    bad_k = ~np.isfinite(k_arr)
    if bad_k.any():
        value = float(k_arr[bad_k][0])
        raise OptionInputError(
            f"log_moneyness must be finite, got {value!r}{where(k_arr, bad_k)}{name}"
        )
    bad_v = ~((v_arr > 0) & (v_arr < np.inf))
    if bad_v.any():
        raise OptionInputError(
            f"vol must be finite and > 0, got {float(v_arr[bad_v][0])!r}{where(v_arr, bad_v)}{name}"
        )
    if k_arr.size < MIN_QUOTES:
        raise OptionInputError(
            f"an SVI slice needs at least {MIN_QUOTES} quotes, got {k_arr.size}{name}"
        )
    return k_arr, v_arr


def fit_svi(
    log_moneyness: ArrayLike,
    vol: ArrayLike,
    t: float,
    weights: ArrayLike | None = None,
) -> SviSlice:
    """Fit raw SVI to one expiry's quotes by least squares on total variance.

    ``log_moneyness`` is ``ln(K / F)``, ``vol`` the annualized implied vols (fractions), ``t`` the
    expiry in years and ``weights`` optional non-negative weights per quote (e.g. vega or 1/spread
    squared). Starts come from the quasi-explicit method of Zeliade (2009): for fixed ``(m,
    sigma)`` SVI is linear in ``(a, b rho sigma, b sigma)``, solved on a grid; the best starts are
    then refined with ``scipy.optimize.least_squares`` under the raw-SVI constraints.
    """
    if not (math.isfinite(t) and t > 0):
        raise OptionInputError(f"t must be finite and > 0, got {t!r}")
    k, v = check_quotes(log_moneyness, vol)
    w_quote = v * v * t
    sqrt_wt = np.ones_like(k) if weights is None else np.sqrt(_check_weights(weights, k.size))

    span = max(float(k.max() - k.min()), 1e-4)
    lower = np.array([0.0, 0.0, -RHO_BOUND, k.min() - 2.0 * span, SIGMA_FLOOR])
    upper = np.array([np.inf, np.inf, RHO_BOUND, k.max() + 2.0 * span, 10.0 * span])

    def residuals(theta: FloatArray) -> FloatArray:
        out: FloatArray = (_raw(theta).total_variance(k) - w_quote) * sqrt_wt
        return out

    best: tuple[float, FloatArray] | None = None
    for start in _starts(k, w_quote, sqrt_wt, span):
        start = np.clip(start, lower, upper)
        fit = least_squares(
            residuals,
            start,
            bounds=(lower, upper),
            method="trf",
            x_scale="jac",
            ftol=1e-15,
            xtol=1e-15,
            gtol=1e-15,
            max_nfev=2000,
        )
        if best is None or fit.cost < best[0]:
            best = (float(fit.cost), fit.x)
    assert best is not None
    params = _raw(best[1])
    model_vol = np.sqrt(np.maximum(params.total_variance(k), 0.0) / t)
    err = model_vol - v
    return SviSlice(
        t=float(t),
        params=params,
        rmse_vol=float(np.sqrt(np.mean(err * err))),
        max_error_vol=float(np.max(np.abs(err))),
        n_quotes=int(k.size),
        k_min=float(k.min()),
        k_max=float(k.max()),
    )


def _raw(theta: FloatArray) -> SviParams:
    """Raw SVI from the optimizer's ``(w_min, b, rho, m, sigma)``."""
    w_min, b, rho, m, sigma = (float(p) for p in theta)
    return SviParams(
        a=w_min - b * sigma * math.sqrt(1.0 - rho * rho), b=b, rho=rho, m=m, sigma=sigma
    )


def _check_weights(weights: ArrayLike, n: int) -> FloatArray:
    w = as_float(weights, "weights").reshape(-1)
    if w.size != n:
        raise OptionInputError(f"weights has {w.size} entries but there are {n} quotes")
    bad = ~((w >= 0) & (w < np.inf))
    if bad.any():
        raise OptionInputError(
            f"weights must be finite and >= 0, got {float(w[bad][0])!r}{where(w, bad)}"
        )
    return w


def _starts(k: FloatArray, w: FloatArray, sqrt_wt: FloatArray, span: float) -> list[FloatArray]:
    """The three best quasi-explicit starts ``(w_min, b, rho, m, sigma)`` on an (m, sigma) grid."""
    candidates: list[tuple[float, FloatArray]] = []
    for m in np.linspace(k.min(), k.max(), 9):
        for sigma in span * np.geomspace(0.01, 2.0, 8):
            y = (k - m) / sigma
            design = np.column_stack([np.ones_like(y), y, np.sqrt(y * y + 1.0)]) * sqrt_wt[:, None]
            coef, *_ = np.linalg.lstsq(design, w * sqrt_wt, rcond=None)
            a, d, c = coef  # w = a + d y + c sqrt(y^2 + 1): c = b sigma, d = rho b sigma
            b = max(c / sigma, 1e-6)
            rho = float(np.clip(d / c if c > 0 else 0.0, -0.99, 0.99))
            w_min = max(a + c * math.sqrt(1.0 - rho * rho), 0.0)
            theta = np.array([w_min, b, rho, m, sigma])
            resid = (_raw(theta).total_variance(k) - w) * sqrt_wt
            candidates.append((float(resid @ resid), theta))
    candidates.sort(key=lambda item: item[0])
    return [theta for _, theta in candidates[:3]]
