"""An implied volatility surface: raw SVI per expiry, linear in total variance across expiries.

Coordinates: ``k = ln(K / F)`` (log forward moneyness), ``t`` in years, vols annualized fractions
and total variance ``w = vol^2 t``. Between fitted expiries ``w(k, t)`` is linear in ``t`` at
fixed ``k``; before the first expiry it is ``w_1(k) t / t_1`` and after the last ``w_n(k) t / t_n``
(the first/last smile held constant in vol). Arbitrage checks follow Gatheral & Jacquier (2014):
a slice has butterfly arbitrage where Durrleman's ``g(k) < 0`` and the surface has calendar
arbitrage where total variance decreases from one expiry to the next at some ``k``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import brentq
from scipy.special import ndtri

from ._inputs import FloatArray, OptionInputError, as_float
from .svi import SviSlice, check_quotes, fit_svi

# Forward (undiscounted) call delta N(d1) of the 25-delta call; the 25-delta put has N(d1) = 0.75.
DELTA_25 = 0.25
# Violations smaller than this are rounding, not arbitrage (g and w are O(1e-2..1)).
ARBITRAGE_TOLERANCE = 1e-12
GRID_POINTS = 401


@dataclass(frozen=True)
class SliceMetrics:
    """Smile metrics of one expiry, in annualized vol units (fractions) unless stated.

    ``atm_skew`` is dvol/dk and ``atm_convexity`` d2vol/dk2 at ``k = 0`` (per unit of log
    moneyness). ``rr25`` is vol(25-delta call) - vol(25-delta put) and ``bf25`` is their mean minus
    the ATM vol, with forward deltas ``N(d1)``, ``d1 = -k / sqrt(w) + sqrt(w) / 2``; they are NaN
    when the smile never reaches that delta (only possible for a slice violating Lee's wing bound).
    ``min_g`` is the smallest Durrleman g on the check grid (negative = butterfly arbitrage).
    """

    t: float
    atm_vol: float
    atm_skew: float
    atm_convexity: float
    rr25: float
    bf25: float
    rmse_vol: float
    min_g: float
    butterfly_arbitrage: bool


@dataclass(frozen=True)
class ButterflyViolation:
    """Durrleman's g < 0 on ``[k_from, k_to]`` of the expiry-``t`` slice, worst at ``k_worst``."""

    t: float
    k_from: float
    k_to: float
    k_worst: float
    min_g: float


@dataclass(frozen=True)
class CalendarViolation:
    """Total variance falls from expiry ``t_near`` to ``t_far`` on ``[k_from, k_to]`` (worst drop
    ``max_drop`` in total-variance units at ``k_worst``)."""

    t_near: float
    t_far: float
    k_from: float
    k_to: float
    k_worst: float
    max_drop: float


@dataclass(frozen=True)
class ArbitrageReport:
    """Static-arbitrage findings on a k grid; ``free`` when there are none."""

    butterfly: tuple[ButterflyViolation, ...]
    calendar: tuple[CalendarViolation, ...]

    @property
    def free(self) -> bool:
        return not self.butterfly and not self.calendar


@dataclass(frozen=True)
class SurfaceFit:
    """SVI slices sorted by expiry, with interpolation, smile metrics and arbitrage checks."""

    slices: tuple[SviSlice, ...]

    @property
    def expiries(self) -> FloatArray:
        return np.array([s.t for s in self.slices])

    def total_variance(self, k: ArrayLike, t: ArrayLike) -> FloatArray:
        """Total variance ``w(k, t)``; ``k`` and ``t`` broadcast against each other."""
        k_arr, t_arr = np.broadcast_arrays(as_float(k, "k"), as_float(t, "t"))
        bad = ~((t_arr > 0) & (t_arr < np.inf))
        if bad.any():
            raise OptionInputError(f"t must be finite and > 0, got {float(t_arr[bad][0])!r}")
        ts = self.expiries
        per_slice = np.stack([s.total_variance(k_arr) for s in self.slices])  # (n, *shape)
        hi = np.clip(np.searchsorted(ts, t_arr), 1, len(ts) - 1) if len(ts) > 1 else None
        if hi is None:
            out: FloatArray = per_slice[0] * t_arr / ts[0]
            return out
        lo = hi - 1
        w_lo = np.take_along_axis(per_slice, lo[None], axis=0)[0]
        w_hi = np.take_along_axis(per_slice, hi[None], axis=0)[0]
        frac = (t_arr - ts[lo]) / (ts[hi] - ts[lo])
        out = w_lo + frac * (w_hi - w_lo)
        out = np.where(t_arr < ts[0], per_slice[0] * t_arr / ts[0], out)
        out = np.where(t_arr > ts[-1], per_slice[-1] * t_arr / ts[-1], out)
        return out

    def vol(self, k: ArrayLike, t: ArrayLike) -> FloatArray:
        """Annualized implied vol ``sqrt(w(k, t) / t)`` at log-moneyness ``k`` and expiry ``t``."""
        t_arr = as_float(t, "t")
        w = self.total_variance(k, t_arr)
        bad = ~(w > 0)
        if bad.any():
            raise OptionInputError(
                f"total variance is {float(w[bad][0])!r} (not > 0) at some (k, t): the surface has "
                "negative variance there; check arbitrage() and the fit"
            )
        out: FloatArray = np.sqrt(w / t_arr)
        return out

    def term_structure(self) -> tuple[FloatArray, FloatArray]:
        """Expiries (years) and their ATM (k = 0) vols."""
        return self.expiries, np.array([float(s.vol(0.0)) for s in self.slices])

    def metrics(self, k_grid: ArrayLike | None = None) -> list[SliceMetrics]:
        """Smile metrics per expiry; ``min_g`` uses ``k_grid`` (default as in ``arbitrage``)."""
        grid = self._grid(k_grid)
        return [_slice_metrics(s, grid) for s in self.slices]

    def arbitrage(self, k_grid: ArrayLike | None = None) -> ArbitrageReport:
        """Butterfly (g < 0) and calendar (w decreasing in t) violations on ``k_grid``.

        The default grid spans the quoted log-moneyness range widened by a quarter of its width
        on each side, in 401 points.
        """
        grid = self._grid(k_grid)
        butterflies: list[ButterflyViolation] = []
        for s in self.slices:
            g = s.params.durrleman_g(grid)
            for i, j in _runs(g < -ARBITRAGE_TOLERANCE):
                worst = i + int(np.argmin(g[i:j]))
                butterflies.append(
                    ButterflyViolation(
                        s.t, float(grid[i]), float(grid[j - 1]), float(grid[worst]), float(g[worst])
                    )
                )
        calendars: list[CalendarViolation] = []
        for near, far in zip(self.slices, self.slices[1:], strict=False):
            drop = near.total_variance(grid) - far.total_variance(grid)
            for i, j in _runs(drop > ARBITRAGE_TOLERANCE):
                worst = i + int(np.argmax(drop[i:j]))
                calendars.append(
                    CalendarViolation(
                        near.t,
                        far.t,
                        float(grid[i]),
                        float(grid[j - 1]),
                        float(grid[worst]),
                        float(drop[worst]),
                    )
                )
        return ArbitrageReport(tuple(butterflies), tuple(calendars))

    def _grid(self, k_grid: ArrayLike | None) -> FloatArray:
        if k_grid is not None:
            grid = as_float(k_grid, "k_grid").reshape(-1)
            if not np.isfinite(grid).all():
                raise OptionInputError("k_grid must be finite")
            return grid
        k_min = min(s.k_min for s in self.slices)
        k_max = max(s.k_max for s in self.slices)
        pad = 0.25 * max(k_max - k_min, 1e-3)
        return np.linspace(k_min - pad, k_max + pad, GRID_POINTS)


def fit_svi_surface(
    t: ArrayLike,
    log_moneyness: ArrayLike,
    vol: ArrayLike,
    weights: ArrayLike | None = None,
) -> SurfaceFit:
    """Fit one raw SVI smile per expiry to long-format quotes and return the surface.

    Each quote is a row ``(t, log_moneyness, vol)``: ``t`` in years (quotes sharing a ``t`` form
    one slice, at least 5 per expiry), ``log_moneyness = ln(K / F)`` with the expiry's forward,
    ``vol`` the annualized implied vol; ``weights`` optional per-quote least-squares weights.
    """
    t_arr = as_float(t, "t").reshape(-1)
    k_arr, v_arr = check_quotes(log_moneyness, vol)
    if t_arr.size != k_arr.size:
        raise OptionInputError(f"t has {t_arr.size} entries but there are {k_arr.size} quotes")
    bad = ~((t_arr > 0) & (t_arr < np.inf))
    if bad.any():
        i = int(np.argmax(bad))
        raise OptionInputError(f"t must be finite and > 0, got {float(t_arr[i])!r} at index {i}")
    w_arr = None if weights is None else as_float(weights, "weights").reshape(-1)
    if w_arr is not None and w_arr.size != k_arr.size:
        raise OptionInputError(
            f"weights has {w_arr.size} entries but there are {k_arr.size} quotes"
        )
    slices = []
    for expiry in np.unique(t_arr):
        rows = t_arr == expiry
        try:
            slices.append(
                fit_svi(
                    k_arr[rows], v_arr[rows], float(expiry), None if w_arr is None else w_arr[rows]
                )
            )
        except OptionInputError as exc:
            raise OptionInputError(f"{exc} (expiry t={expiry:g})") from None
    return SurfaceFit(tuple(slices))


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[start, stop)`` index ranges where ``mask`` is True."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(
        zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True)
    )


def _slice_metrics(s: SviSlice, grid: FloatArray) -> SliceMetrics:
    t = s.t
    w0, w1, w2 = (float(v) for v in s.params.derivatives(0.0))
    atm_vol = float(np.sqrt(w0 / t))
    # vol(k) = sqrt(w / t): vol' = w' / (2 sqrt(w t)),
    # vol'' = w'' / (2 sqrt(w t)) - w'^2 / (4 w sqrt(w t)).
    root = np.sqrt(w0 * t)
    skew = w1 / (2.0 * root)
    convexity = w2 / (2.0 * root) - w1 * w1 / (4.0 * w0 * root)
    k_call = _delta_strike(s, DELTA_25, w0)
    k_put = _delta_strike(s, 1.0 - DELTA_25, w0)
    vol_call, vol_put = float(s.vol(k_call)), float(s.vol(k_put))
    g = s.params.durrleman_g(grid)
    min_g = float(np.min(g))
    return SliceMetrics(
        t=t,
        atm_vol=atm_vol,
        atm_skew=float(skew),
        atm_convexity=float(convexity),
        rr25=vol_call - vol_put,
        bf25=0.5 * (vol_call + vol_put) - atm_vol,
        rmse_vol=s.rmse_vol,
        min_g=min_g,
        butterfly_arbitrage=min_g < -ARBITRAGE_TOLERANCE,
    )


def _delta_strike(s: SviSlice, call_delta: float, w_atm: float) -> float:
    """The k where the forward call delta N(d1) is ``call_delta`` (NaN if the smile has none)."""
    target = float(ndtri(call_delta))

    def gap(k: float) -> float:
        w = float(s.total_variance(k))
        if w <= 0:
            return np.nan
        return -k / np.sqrt(w) + 0.5 * np.sqrt(w) - target

    # d1 falls from +inf to -inf across k for an arbitrage-free smile; widen until it brackets.
    step = 4.0 * np.sqrt(w_atm)
    lo, hi = -step, step
    for _ in range(12):
        g_lo, g_hi = gap(lo), gap(hi)
        if np.isfinite(g_lo) and np.isfinite(g_hi) and g_lo > 0 > g_hi:
            return float(brentq(gap, lo, hi, xtol=1e-14, rtol=1e-14))
        lo, hi = 2.0 * lo, 2.0 * hi
    return float("nan")
