"""A stored option chain snapshot analysed: mids, implied vols, Greeks and a fitted SVI surface.

Pure numpy, no I/O; the quotes come as rows (dicts with the fields of the ``OptionQuote`` event:
``contract``, ``expiry``, ``strike``, ``right``, ``bid``, ``ask``, ``underlying_price``,
``implied_vol``, ...). Conventions: every contract is valued as a European option under
generalized Black-Scholes-Merton with the given ``rate`` r and ``dividend_yield`` q (annualized,
continuously compounded; carry b = r - q), ``t`` in years (Act/365) from the snapshot to
:data:`EXPIRY_TIME` UTC on the expiry date, prices per unit of the underlying (a contract
covers ``multiplier`` units). An American option's mid is inverted as if European, which
overstates the vol of deep in-the-money puts a little: the surface uses out-of-the-money
quotes only (puts below the forward, calls at or above it), where early exercise is worth
least.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np

from ._inputs import FloatArray, OptionInputError
from .bsm import bsm_greeks
from .implied_volatility import implied_vol
from .surface import (
    GRID_POINTS,
    ArbitrageReport,
    ButterflyViolation,
    CalendarViolation,
    SurfaceFit,
    fit_svi_surface,
)
from .svi import MIN_QUOTES

EXPIRY_TIME = time(21, 0)
"""Options expire at this UTC time of their expiry date (16:00 New York in winter)."""
GREEK_NAMES = ("delta", "gamma", "vega", "theta", "theta_per_day", "rho")


def years_to_expiry(expiry: date, snapshot: datetime) -> float:
    """Years (Act/365) from ``snapshot`` to the expiry moment of ``expiry``."""
    moment = datetime.combine(expiry, EXPIRY_TIME, UTC)
    return (moment - snapshot) / timedelta(days=365)


@dataclass(frozen=True)
class ChainFrame:
    """A snapshot's quotes as parallel arrays (one entry per contract).

    ``mid`` is ``(bid + ask) / 2`` (NaN without a two-sided quote), ``spot`` the underlying's
    price the source gave (NaN when none), ``t`` years to expiry; ``iv`` our implied vol of the
    mid (NaN where unsolvable, ``iv_reason`` says why), ``provider_iv`` the source's own.
    """

    rows: Sequence[dict[str, Any]]
    t: FloatArray
    strike: FloatArray
    is_call: np.ndarray
    mid: FloatArray
    spot: FloatArray
    iv: FloatArray
    iv_reason: list[str]
    provider_iv: FloatArray
    rate: float
    dividend_yield: float

    @property
    def forward(self) -> FloatArray:
        """The forward ``S e^((r - q) t)`` of each contract's expiry."""
        out: FloatArray = self.spot * np.exp((self.rate - self.dividend_yield) * self.t)
        return out


def price_chain(
    rows: Sequence[dict[str, Any]], snapshot: datetime, rate: float, dividend_yield: float
) -> ChainFrame:
    """Mids and implied vols of every quote of one snapshot taken at ``snapshot``."""
    n = len(rows)
    t = np.array([years_to_expiry(_as_date(r["expiry"]), snapshot) for r in rows], dtype=float)
    strike = np.array([float(r["strike"]) for r in rows], dtype=float)
    is_call = np.array([r["right"] == "call" for r in rows], dtype=bool)
    bid, ask, spot, provider_iv = (
        np.array([_number(r.get(name)) for r in rows], dtype=float)
        for name in ("bid", "ask", "underlying_price", "implied_vol")
    )
    mid = np.where((ask > 0) & (bid >= 0), 0.5 * (bid + ask), np.nan)
    iv = np.full(n, np.nan)
    reasons = ["no two-sided quote" if math.isnan(m) else "" for m in mid.tolist()]
    solvable = ~np.isnan(mid) & (mid > 0) & ~np.isnan(spot) & (t > 0)
    for i in np.flatnonzero(~np.isnan(mid) & ~solvable).tolist():
        reasons[i] = "no underlying price" if math.isnan(spot[i]) else "expired or zero mid"
    if solvable.any():
        solved = implied_vol(
            mid[solvable],
            is_call[solvable],
            spot[solvable],
            strike[solvable],
            t[solvable],
            rate,
            rate - dividend_yield,
        )
        iv[solvable] = solved.vol
        for i, reason in zip(np.flatnonzero(solvable).tolist(), solved.reason, strict=True):
            reasons[i] = str(reason)
    return ChainFrame(
        rows, t, strike, is_call, mid, spot, iv, reasons, provider_iv, rate, dividend_yield
    )


def chain_greeks(frame: ChainFrame) -> tuple[dict[str, FloatArray], list[str | None]]:
    """Greeks of every contract at our implied vol, or the provider's where ours is missing
    (NaN where neither exists), and which vol each used (``"ours"``, ``"provider"``, None).

    Units (per unit of the underlying, European GBSM): ``delta`` per 1.00 of spot, ``gamma``
    per 1.00 of spot per 1.00 of spot, ``vega`` per 1.00 of vol (0.01 vol moves the price
    vega / 100), ``theta`` per year and ``theta_per_day`` per calendar day (theta / 365),
    ``rho`` per 1.00 of rate."""
    ours = ~np.isnan(frame.iv)
    theirs = ~ours & ~np.isnan(frame.provider_iv)
    vol = np.where(ours, frame.iv, frame.provider_iv)
    usable = (ours | theirs) & ~np.isnan(frame.spot) & (frame.t > 0)
    out = {name: np.full(len(frame.rows), np.nan) for name in GREEK_NAMES}
    if usable.any():
        greeks = bsm_greeks(
            frame.is_call[usable],
            frame.spot[usable],
            frame.strike[usable],
            frame.t[usable],
            frame.rate,
            frame.rate - frame.dividend_yield,
            vol[usable],
        )
        for name in GREEK_NAMES:
            out[name][usable] = getattr(greeks, name)
    used: list[str | None] = [
        ("ours" if o else "provider") if u else None
        for o, u in zip(ours.tolist(), usable.tolist(), strict=True)
    ]
    return out, used


@dataclass(frozen=True)
class ChainSurface:
    """The SVI surface fitted to a snapshot's out-of-the-money implied vols.

    ``expiries`` are the fitted expiries (dates, with ``t`` in years); ``skipped`` maps an
    expiry left out to why (fewer than 5 usable quotes). ``quotes`` holds per fitted quote its
    residual: model vol minus market vol (annualized fractions). ``arbitrage`` is checked where
    there are quotes (:func:`quoted_arbitrage`)."""

    fit: SurfaceFit
    expiries: list[date]
    skipped: dict[date, str]
    quotes: list[dict[str, Any]]
    arbitrage: ArbitrageReport


def fit_chain_surface(frame: ChainFrame) -> ChainSurface:
    """Fit one raw SVI smile per expiry with at least 5 solved out-of-the-money quotes.

    Raises :class:`OptionInputError` when no expiry has enough."""
    forward = frame.forward
    k = np.log(frame.strike / forward)
    otm = np.where(frame.is_call, k >= 0, k < 0)
    usable = otm & ~np.isnan(frame.iv)
    expiries = sorted({_as_date(r["expiry"]) for r in frame.rows})
    by_expiry = np.array([_as_date(r["expiry"]) for r in frame.rows], dtype=object)
    fitted: list[date] = []
    skipped: dict[date, str] = {}
    for expiry in expiries:
        count = int((usable & (by_expiry == expiry)).sum())
        if count >= MIN_QUOTES:
            fitted.append(expiry)
        else:
            skipped[expiry] = f"{count} usable out-of-the-money quotes, {MIN_QUOTES} needed"
    if not fitted:
        raise OptionInputError(
            "no expiry has enough solved out-of-the-money quotes to fit a smile "
            f"(at least {MIN_QUOTES} each): {'; '.join(f'{e}: {r}' for e, r in skipped.items())}"
        )
    keep = usable & np.array([e in fitted for e in by_expiry.tolist()], dtype=bool)
    fit = fit_svi_surface(frame.t[keep], k[keep], frame.iv[keep])
    model = np.sqrt(np.maximum(fit.total_variance(k[keep], frame.t[keep]), 0.0) / frame.t[keep])
    quotes = [
        {
            "contract": frame.rows[i]["contract"],
            "expiry": by_expiry[i],
            "strike": float(frame.strike[i]),
            "log_moneyness": float(k[i]),
            "market_vol": float(frame.iv[i]),
            "model_vol": float(m),
            "residual": float(m - frame.iv[i]),
        }
        for i, m in zip(np.flatnonzero(keep).tolist(), model.tolist(), strict=True)
    ]
    return ChainSurface(fit, fitted, skipped, quotes, quoted_arbitrage(fit))


def quoted_arbitrage(fit: SurfaceFit) -> ArbitrageReport:
    """Butterfly violations of each slice on its quoted log-moneyness range, and calendar
    violations of each pair of adjacent expiries on the range both quote (401 points each).

    Only where there are quotes: a short expiry's smile extrapolated to the wings of a year's
    (fitted to a handful of noisy quotes) crosses its neighbours freely, and that says nothing
    about the market."""
    butterflies: list[ButterflyViolation] = []
    for s in fit.slices:
        grid = np.linspace(s.k_min, s.k_max, GRID_POINTS)
        butterflies.extend(SurfaceFit((s,)).arbitrage(grid).butterfly)
    calendars: list[CalendarViolation] = []
    for near, far in zip(fit.slices, fit.slices[1:], strict=False):
        low, high = max(near.k_min, far.k_min), min(near.k_max, far.k_max)
        if low < high:
            grid = np.linspace(low, high, GRID_POINTS)
            calendars.extend(SurfaceFit((near, far)).arbitrage(grid).calendar)
    return ArbitrageReport(tuple(butterflies), tuple(calendars))


def surface_grid(
    surface: ChainSurface, frame: ChainFrame, points: int
) -> tuple[FloatArray, FloatArray]:
    """``points`` strikes evenly over the quoted range and the fitted surface's implied vol at
    each (strike, fitted expiry): an array of shape (expiries, strikes), NaN where the surface
    has no positive variance."""
    strikes = np.linspace(frame.strike.min(), frame.strike.max(), points)
    ts = surface.fit.expiries
    spot = float(np.nanmedian(frame.spot))
    forwards = spot * np.exp((frame.rate - frame.dividend_yield) * ts)
    k = np.log(strikes[None, :] / forwards[:, None])
    t = np.broadcast_to(ts[:, None], k.shape)
    w = surface.fit.total_variance(k, t)
    vols: FloatArray = np.where(w > 0, np.sqrt(np.maximum(w, 0.0) / t), np.nan)
    return strikes, vols


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _number(value: Any) -> float:
    return float(value) if value is not None else math.nan
