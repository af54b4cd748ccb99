"""The simulated market's option chains: listed expiries, strikes, an SSVI surface, quotes.

Pure numpy/scipy, no I/O (the ``simulated`` provider's option-chain fetcher wraps it). Each
underlying has one implied-vol surface, fixed by the seed and its id, in Gatheral & Jacquier's
SSVI form (2014, eq. 4.1) with the power-law ``phi`` of their Remark 4.4: ATM total variance
``theta(t)`` increasing in ``t``, ``phi(theta) = eta / (theta^gamma (1 + theta)^(1 - gamma))``,
``gamma = 1/2`` and ``eta (1 + |rho|) <= 2``, which is free of butterfly and calendar arbitrage.
Each expiry's smile is a raw SVI slice of that surface (:meth:`SsviSurface.raw_svi`).

Quotes: European Black-Scholes prices at the surface's vols (``rate`` and ``dividend_yield``
below, continuously compounded; the forward ``F = S e^((r - q) t)``), then a seeded noise of
``VOL_NOISE`` relative on each vol, and a bid/ask around that mid of ``SPREAD`` of it (at least
one tick each side), rounded outward to the ``TICK``. Units: ``t`` in years (Act/365 from the
snapshot to :data:`EXPIRY_TIME` UTC on the expiry date), vols annualized fractions, prices per
unit of the underlying.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
from scipy.special import ndtr

from sextant_ingest.market.model import FloatArray, make_rng

RATE = 0.04
"""Risk-free rate of the simulated market (annualized, continuously compounded)."""
DIVIDEND_YIELD = 0.0
"""Dividend yield of every simulated underlying (annualized, continuously compounded)."""
EXPIRY_TIME = time(21, 0)
"""Options expire at this UTC time of their expiry date (16:00 New York in winter)."""
TARGET_DAYS = (7, 14, 30, 61, 91, 182, 365)
"""Listed expiries: the Friday on or after each of these many days ahead (1 and 2 weeks), and
the third Friday of the month that far ahead (monthlies, 1 month to 1 year)."""
STRIKES_PER_EXPIRY = 15
STRIKE_SPAN_SD = (-2.5, 2.0)
"""Strikes span these many standard deviations (ATM vol times sqrt(t)) of log-moneyness."""
VOL_NOISE = 0.01
SPREAD = 0.04
TICK = 0.01
MULTIPLIER = 100.0
_DAYS_PER_YEAR = 365.0
_FRIDAY = 4


@dataclass(frozen=True)
class SsviSurface:
    """An SSVI surface: ATM vol term structure ``atm_vol(t) = base_vol (1 + term_slope
    e^(-t / 0.25))`` (annualized fraction), skew ``rho`` and curvature ``eta`` (``gamma = 1/2``).
    """

    base_vol: float
    term_slope: float
    rho: float
    eta: float

    def theta(self, t: FloatArray | float) -> FloatArray:
        """ATM total variance ``atm_vol(t)^2 t`` (increasing in ``t`` for ``term_slope`` > -0.3)."""
        t_arr = np.asarray(t, dtype=np.float64)
        atm = self.base_vol * (1.0 + self.term_slope * np.exp(-t_arr / 0.25))
        out: FloatArray = atm * atm * t_arr
        return out

    def phi(self, theta: FloatArray | float) -> FloatArray:
        """Gatheral & Jacquier's power-law ``phi`` with ``gamma = 1/2``."""
        theta_arr = np.asarray(theta, dtype=np.float64)
        out: FloatArray = self.eta / np.sqrt(theta_arr * (1.0 + theta_arr))
        return out

    def total_variance(self, k: FloatArray, t: FloatArray | float) -> FloatArray:
        """``w(k, t)`` at log forward moneyness ``k = ln(K / F)``."""
        theta = self.theta(t)
        phi = self.phi(theta)
        z = phi * k + self.rho
        out: FloatArray = (
            0.5 * theta * (1.0 + self.rho * phi * k + np.sqrt(z * z + 1 - self.rho**2))
        )
        return out

    def raw_svi(self, t: float) -> tuple[float, float, float, float, float]:
        """The expiry-``t`` slice as raw SVI ``(a, b, rho, m, sigma)`` (Gatheral & Jacquier,
        Lemma 3.3)."""
        theta = float(self.theta(t))
        phi = float(self.phi(theta))
        root = math.sqrt(1.0 - self.rho**2)
        return 0.5 * theta * root**2, 0.5 * theta * phi, self.rho, -self.rho / phi, root / phi


def surface_for(seed: int, underlying: str, base_vol: float) -> SsviSurface:
    """The surface of ``underlying`` (``base_vol``: its long-run ATM vol, annualized): an equity
    skew ``rho`` in [-0.75, -0.35], a short-dated premium of 0-20% and the largest ``eta`` the
    no-arbitrage bound allows, scaled down by 5-35%."""
    rng = make_rng(seed, "option-surface", underlying)
    rho = float(rng.uniform(-0.75, -0.35))
    term_slope = float(rng.uniform(0.0, 0.2))
    eta = 2.0 / (1.0 + abs(rho)) * float(rng.uniform(0.65, 0.95))
    return SsviSurface(base_vol=base_vol, term_slope=term_slope, rho=rho, eta=eta)


def listed_expiries(snapshot: datetime) -> list[date]:
    """Expiries listed at ``snapshot`` (see :data:`TARGET_DAYS`), sorted, unique."""
    today = snapshot.astimezone(UTC).date()
    expiries = set()
    for days in TARGET_DAYS:
        target = today + timedelta(days=days)
        if days < 30:
            expiries.add(target + timedelta(days=(_FRIDAY - target.weekday()) % 7))
        else:
            first = target.replace(day=1)
            expiries.add(first + timedelta(days=(_FRIDAY - first.weekday()) % 7 + 14))
    return sorted(e for e in expiries if expiry_moment(e) > snapshot)


def expiry_moment(expiry: date) -> datetime:
    """When an option of ``expiry`` expires (UTC)."""
    return datetime.combine(expiry, EXPIRY_TIME, UTC)


def years_to(expiry: date, snapshot: datetime) -> float:
    """Years (Act/365) from ``snapshot`` to the expiry moment."""
    return (expiry_moment(expiry) - snapshot) / timedelta(days=_DAYS_PER_YEAR)


def strikes_for(spot: float, atm_vol: float, t: float) -> FloatArray:
    """:data:`STRIKES_PER_EXPIRY` to twice as many strikes spanning :data:`STRIKE_SPAN_SD`
    standard deviations around ``spot``, on a round increment (see :func:`_round_step`)."""
    sd = atm_vol * math.sqrt(t)
    low, high = (spot * math.exp(n * sd) for n in STRIKE_SPAN_SD)
    step = _round_step((high - low) / (STRIKES_PER_EXPIRY - 1))
    strikes = np.arange(math.ceil(low / step), math.floor(high / step) + 1) * step
    return np.round(strikes[strikes > 0], 8)


def _round_step(raw: float) -> float:
    """The largest 1, 2, 2.5 or 5 times a power of ten that is at most ``raw``."""
    power = 10.0 ** math.floor(math.log10(raw))
    return max(m * power for m in (1.0, 2.0, 2.5, 5.0) if m * power <= raw)


def black_scholes(
    is_call: np.ndarray, spot: float, strike: FloatArray, t: float, vol: FloatArray
) -> FloatArray:
    """European prices at :data:`RATE` and :data:`DIVIDEND_YIELD` (per unit of the underlying)."""
    forward = spot * math.exp((RATE - DIVIDEND_YIELD) * t)
    discount = math.exp(-RATE * t)
    sd = vol * math.sqrt(t)
    d1 = np.log(forward / strike) / sd + 0.5 * sd
    d2 = d1 - sd
    call = discount * (forward * ndtr(d1) - strike * ndtr(d2))
    put = call - discount * (forward - strike)
    out: FloatArray = np.where(is_call, call, put)
    return out


@dataclass(frozen=True)
class ChainSlice:
    """One expiry of a chain as parallel arrays (calls then puts at each strike)."""

    expiry: date
    t: float
    strike: FloatArray
    is_call: np.ndarray
    model_vol: FloatArray
    """The surface's vol (before noise)."""
    model_price: FloatArray
    bid: FloatArray
    ask: FloatArray
    volume: FloatArray
    open_interest: FloatArray


def simulate_chain(
    seed: int, underlying: str, base_vol: float, spot: float, snapshot: datetime
) -> list[ChainSlice]:
    """The chain of ``underlying`` at ``snapshot`` with the underlying at ``spot``.

    Deterministic in ``(seed, underlying, base_vol, spot, snapshot)``: the surface is fixed by
    seed and underlying, the noise by the snapshot time too."""
    surface = surface_for(seed, underlying, base_vol)
    rng = make_rng(seed, "option-quotes", underlying, int(snapshot.timestamp() * 1e6))
    slices = []
    for expiry in listed_expiries(snapshot):
        t = years_to(expiry, snapshot)
        atm_vol = math.sqrt(float(surface.theta(t)) / t)
        strikes = np.repeat(strikes_for(spot, atm_vol, t), 2)
        is_call = np.tile([True, False], len(strikes) // 2)
        forward = spot * math.exp((RATE - DIVIDEND_YIELD) * t)
        k = np.log(strikes / forward)
        model_vol = np.sqrt(surface.total_variance(k, t) / t)
        model_price = black_scholes(is_call, spot, strikes, t, model_vol)
        noisy_vol = model_vol * (1.0 + VOL_NOISE * rng.standard_normal(len(strikes)))
        mid = black_scholes(is_call, spot, strikes, t, noisy_vol)
        half = np.maximum(0.5 * SPREAD * mid, TICK)
        bid = np.maximum(np.floor((mid - half) / TICK) * TICK, 0.0)
        ask = np.ceil((mid + half) / TICK) * TICK
        open_interest = rng.poisson(2000.0 * np.exp(-2.0 * np.abs(k) / max(atm_vol, 0.05)))
        volume = rng.binomial(open_interest, 0.1)
        slices.append(
            ChainSlice(
                expiry,
                t,
                strikes,
                is_call,
                model_vol,
                model_price,
                np.round(bid, 2).astype(np.float64),
                np.round(ask, 2).astype(np.float64),
                volume.astype(np.float64),
                open_interest.astype(np.float64),
            )
        )
    return slices


def occ_symbol(underlying: str, expiry: date, is_call: bool, strike: float) -> str:
    """The OCC option symbol, e.g. ``AAPL261218C00250000`` (root: the underlying's letters and
    digits, at most 6; strike in thousandths, 8 digits)."""
    root = "".join(ch for ch in underlying if ch.isalnum())[:6]
    right = "C" if is_call else "P"
    return f"{root}{expiry:%y%m%d}{right}{round(strike * 1000):08d}"
