"""Input checks shared by the risk functions: each failure names the field and says what to do."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .. import _checks

FloatArray = NDArray[np.float64]

# Relative tolerance for "symmetric" and "positive semi-definite": eigenvalues above
# -PSD_RTOL * largest |eigenvalue| are rounding noise, not a genuinely indefinite matrix.
PSD_RTOL = 1e-10


class RiskInputError(ValueError):
    """A risk function was given unusable input; the message names the field and the fix."""


def check_confidence(confidence: float, name: str = "confidence") -> float:
    """Return ``confidence`` as a float strictly inside (0, 1)."""
    value = check_finite(confidence, name)
    if not 0.0 < value < 1.0:
        raise RiskInputError(
            f"{name} must be strictly between 0 and 1 (e.g. 0.95 or 0.99), got {confidence!r}"
        )
    return value


def check_positive(value: float, name: str) -> float:
    """Return ``value`` as a float that is finite and > 0."""
    return _checks.check_positive(value, name, RiskInputError)


def check_unit_interval(value: float, name: str) -> float:
    """Return ``value`` as a float in the closed interval [0, 1]."""
    out = check_finite(value, name)
    if not 0.0 <= out <= 1.0:
        raise RiskInputError(f"{name} must be in [0, 1], got {value!r}")
    return out


def check_vector(values: ArrayLike, name: str, size: int | None = None) -> FloatArray:
    """A finite, non-empty 1-D float array (of length ``size`` when given)."""
    arr = _as_float_array(values, name)
    if arr.ndim != 1:
        raise RiskInputError(f"{name} must be 1-D, got an array of shape {arr.shape}")
    if arr.size == 0:
        raise RiskInputError(f"{name} is empty")
    if size is not None and arr.size != size:
        raise RiskInputError(f"{name} has {arr.size} entries but the portfolio has {size} assets")
    _reject_non_finite(arr, name)
    return arr


def check_returns(returns: ArrayLike, name: str = "returns") -> FloatArray:
    """Finite returns as a float array: 1-D (one series) or 2-D (periods x assets)."""
    arr = _as_float_array(returns, name)
    if arr.ndim not in (1, 2):
        raise RiskInputError(
            f"{name} must be 1-D (portfolio returns) or 2-D (periods x assets), "
            f"got shape {arr.shape}"
        )
    if arr.shape[0] == 0 or arr.size == 0:
        raise RiskInputError(f"{name} is empty")
    _reject_non_finite(arr, name)
    return arr


def portfolio_returns(returns: ArrayLike, weights: ArrayLike | None) -> FloatArray:
    """Per-period portfolio returns ``R @ w``, or the 1-D series itself without weights."""
    arr = check_returns(returns)
    if arr.ndim == 1:
        if weights is not None:
            raise RiskInputError(
                "weights were given but returns is 1-D; pass 2-D asset returns (periods x assets) "
                "or drop weights to treat returns as the portfolio's own return series"
            )
        return arr
    if weights is None:
        raise RiskInputError(
            f"returns has {arr.shape[1]} asset columns; pass weights (one per column)"
        )
    w = check_vector(weights, "weights")
    if w.size != arr.shape[1]:
        raise RiskInputError(
            f"weights has {w.size} entries but returns has {arr.shape[1]} columns (assets)"
        )
    out: FloatArray = arr @ w
    return out


def check_cov(
    cov: ArrayLike, n_assets: int | None, *, fix_psd: bool, name: str = "cov"
) -> FloatArray:
    """A finite, symmetric, positive semi-definite covariance matrix.

    Singular (rank-deficient) matrices are accepted: nothing here inverts the covariance. An
    indefinite matrix is an error unless ``fix_psd`` is set, in which case it is symmetrised and
    its negative eigenvalues clipped with the variances kept (``clip_to_psd``).
    """
    arr = _as_float_array(cov, name)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise RiskInputError(f"{name} must be a square matrix, got shape {arr.shape}")
    if n_assets is not None and arr.shape[0] != n_assets:
        raise RiskInputError(
            f"{name} is {arr.shape[0]}x{arr.shape[1]} but weights has {n_assets} entries"
        )
    _reject_non_finite(arr, name)
    diag = np.diag(arr)
    if np.any(diag < 0):
        i = int(np.argmin(diag))
        raise RiskInputError(f"{name} has a negative variance {diag[i]:.6g} on diagonal entry {i}")
    scale = max(float(np.max(np.abs(arr))), np.finfo(float).tiny)
    asym = float(np.max(np.abs(arr - arr.T)))
    if asym > PSD_RTOL * scale and not fix_psd:
        raise RiskInputError(
            f"{name} is not symmetric (max |cov - cov.T| = {asym:.3g}); "
            "pass fix_psd=True to symmetrise it"
        )
    arr = 0.5 * (arr + arr.T)
    if _is_positive_definite(arr):
        return arr
    min_eig = float(np.linalg.eigvalsh(arr)[0])
    if min_eig >= -PSD_RTOL * scale:
        return arr
    if not fix_psd:
        raise RiskInputError(
            f"{name} is not positive semi-definite (min eigenvalue {min_eig:.3g}); "
            "pass fix_psd=True to clip negative eigenvalues (variances are kept)"
        )
    return clip_to_psd(arr, keep_diagonal=True)


def clip_to_psd(matrix: ArrayLike, *, keep_diagonal: bool = True) -> FloatArray:
    """Repair a symmetric matrix to positive semi-definite by clipping negative eigenvalues to 0.

    Without ``keep_diagonal`` this is the nearest PSD matrix in the Frobenius norm (Higham 1988).
    With it (the default) the result is then rescaled ``D^-1/2 A D^-1/2``-style so the original
    diagonal (variances, or the unit diagonal of a correlation matrix) is restored; the rescaling is
    a congruence, so the result stays PSD.
    """
    arr = _as_float_array(matrix, "matrix")
    sym = 0.5 * (arr + arr.T)
    eigval, eigvec = np.linalg.eigh(sym)
    fixed: FloatArray = (eigvec * np.clip(eigval, 0.0, None)) @ eigvec.T
    fixed = 0.5 * (fixed + fixed.T)
    if keep_diagonal:
        target = np.diag(sym)
        current = np.diag(fixed)
        ok = (current > 0) & (target > 0)
        scale = np.where(ok, np.sqrt(np.where(ok, target, 1.0) / np.where(ok, current, 1.0)), 0.0)
        fixed = fixed * np.outer(scale, scale)
    return fixed


def cov_factor(cov: FloatArray) -> FloatArray:
    """A square-root factor ``L`` with ``L @ L.T == cov``: Cholesky, or eigen-based if singular."""
    try:
        lower: FloatArray = np.linalg.cholesky(cov).astype(np.float64, copy=False)
        return lower
    except np.linalg.LinAlgError:
        eigval, eigvec = np.linalg.eigh(cov)
        root: FloatArray = eigvec * np.sqrt(np.clip(eigval, 0.0, None))
        return root


def _is_positive_definite(arr: FloatArray) -> bool:
    try:
        np.linalg.cholesky(arr)
    except np.linalg.LinAlgError:
        return False
    return True


def check_finite(value: float, name: str) -> float:
    """Return ``value`` as a finite float."""
    return _checks.check_finite(value, name, RiskInputError)


def _as_float_array(values: ArrayLike, name: str) -> FloatArray:
    return _checks.as_float_array(values, name, RiskInputError)


def _reject_non_finite(arr: FloatArray, name: str) -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        where = f"index {first[0]}" if len(first) == 1 else f"row {first[0]}, column {first[1]}"
        raise RiskInputError(
            f"{name} contains {int(bad.sum())} NaN/inf value(s) (first at {where}); "
            "drop or fill them before computing risk"
        )
