"""The synthetic market's return and price model: pure numpy, no I/O, no calendars.

Time is counted in calendar-day indices from an epoch the caller chooses (day 0). Every random
number comes from a PCG64 stream named by ``(seed, *keys)`` and consumed from its start, so a
value depends only on the seed, its stream name and its position: asking for more days, other
days or other instruments never changes it.

Daily model, per calendar day ``i`` (log returns, vols annualized over 365 calendar days):

* a shared regime, calm or stressed (a 2-state Markov chain drawn as geometric spells), scales
  every vol and tilts the market's drift;
* a market factor and a crypto factor (correlated ``crypto_market_corr``);
* per instrument ``r = drift + market_beta * market + crypto_beta * crypto + idio + jump``.

Intraday paths are Brownian bridges from a session's open to its close, stretched so that they
touch the session's high and low exactly: intraday bars aggregate to the daily bar.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

DAYS_PER_YEAR = 365.0
"""Vols and drifts are annual; the model steps calendar days (crypto trades on every one)."""


def make_rng(seed: int, *keys: str | int) -> np.random.Generator:
    """A PCG64 generator for the stream named ``(seed, *keys)``.

    Keys are hashed with BLAKE2b, not ``hash()``: Python salts string hashes per process.
    """
    entropy = [_stable_int(seed), *(_stable_int(key) for key in keys)]
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy)))


def _stable_int(part: str | int) -> int:
    text = f"str:{part}" if isinstance(part, str) else f"int:{int(part)}"  # numpy ints too
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


@dataclass(frozen=True)
class MarketParams:
    """Shared factors and regimes. Vols are annualized fractions, drifts annual log drifts."""

    market_vol: float = 0.16
    crypto_vol: float = 0.50
    crypto_market_corr: float = 0.30
    calm_vol: float = 0.8
    """Vol multiplier of every instrument while the market is calm."""
    stressed_vol: float = 2.0
    """Vol multiplier while stressed."""
    calm_days: float = 180.0
    """Mean length of a calm spell, in calendar days."""
    stressed_days: float = 25.0
    """Mean length of a stressed spell, in calendar days."""
    calm_drift: float = 0.06
    """Market factor drift while calm; with ``stressed_drift`` it averages about zero."""
    stressed_drift: float = -0.45
    """Market factor drift while stressed: stress is a sell-off shared by every equity."""


@dataclass(frozen=True)
class InstrumentParams:
    """How one instrument moves. Vols are annualized fractions, drifts annual log drifts.

    ``vol`` is the total target vol: the idiosyncratic part is what is left after the factor and
    jump variance (floored at a fifth of ``vol``).
    """

    price: float
    """Price at the start of the anchor day (the provider's anchor date)."""
    vol: float
    market_beta: float = 0.0
    crypto_beta: float = 0.0
    drift: float = 0.0
    jumps_per_year: float = 0.0
    jump_mean: float = 0.0
    """Mean log size of a jump."""
    jump_vol: float = 0.0
    """Standard deviation of a jump's log size."""
    volume: float = 0.0
    """Typical volume of one day, in units traded (shares, coins, ticks)."""
    gap_share: float = 0.0
    """Share of a session's variance realized as the opening gap (0: trades continuously)."""

    def __post_init__(self) -> None:
        if not (self.price > 0 and math.isfinite(self.price)):
            raise ValueError(f"price must be a finite number > 0, got {self.price}")
        if not self.vol > 0:
            raise ValueError(f"vol must be > 0 (annualized fraction), got {self.vol}")
        if self.volume < 0 or self.jumps_per_year < 0 or self.jump_vol < 0:
            raise ValueError("volume, jumps_per_year and jump_vol must be >= 0")
        if not 0 <= self.gap_share < 1:
            raise ValueError(f"gap_share must be in [0, 1), got {self.gap_share}")


@dataclass(frozen=True)
class MarketPath:
    """Shared state of days ``0..n-1``: regime vol multiplier and the two factors' log returns."""

    multiplier: FloatArray
    market: FloatArray
    crypto: FloatArray


@dataclass(frozen=True)
class DailyPath:
    """OHLCV of one instrument on every calendar day ``0..n-1``, closed days included.

    ``session_var`` is the variance of the log move from open to close, which the intraday bridge
    spreads over the session.
    """

    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray
    session_var: FloatArray


@dataclass(frozen=True)
class Ohlcv:
    """Bars as parallel arrays (any shape)."""

    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray


def simulate_market(seed: int, n_days: int, params: MarketParams) -> MarketPath:
    """The regime and factor paths of days ``0..n_days-1`` for ``seed``."""
    stressed = _stressed_days(seed, n_days, params)
    multiplier = np.where(stressed, params.stressed_vol, params.calm_vol)
    drift = np.where(stressed, params.stressed_drift, params.calm_drift) / DAYS_PER_YEAR
    z_market = make_rng(seed, "market").standard_normal(n_days)
    z_crypto = make_rng(seed, "crypto").standard_normal(n_days)
    rho = params.crypto_market_corr
    daily = multiplier / math.sqrt(DAYS_PER_YEAR)
    market = drift + params.market_vol * daily * z_market
    crypto = params.crypto_vol * daily * (rho * z_market + math.sqrt(1 - rho * rho) * z_crypto)
    return MarketPath(multiplier=multiplier, market=market, crypto=crypto)


def _stressed_days(seed: int, n_days: int, params: MarketParams) -> BoolArray:
    """Which days are stressed: alternating calm/stressed spells of geometric length.

    Geometric spell lengths are exactly a 2-state Markov chain, drawn without a Python loop.
    """
    count = 2 * n_days // int(params.calm_days + params.stressed_days) + 16
    while True:
        # Drawing more uniforms keeps the first ones, so growing ``count`` changes no spell.
        uniforms = make_rng(seed, "regime").random(count)
        mean = np.where(np.arange(count) % 2 == 0, params.calm_days, params.stressed_days)
        lengths = np.maximum(1, np.ceil(np.log1p(-uniforms) / np.log1p(-1 / mean)))
        if lengths.sum() >= n_days:
            break
        count *= 2
    states = np.arange(count) % 2 == 1
    return np.repeat(states, lengths.astype(np.int64))[:n_days]


def simulate_daily(
    seed: int,
    key: str,
    market: MarketPath,
    params: InstrumentParams,
    market_params: MarketParams,
    anchor_day: int,
) -> DailyPath:
    """Daily OHLCV of instrument ``key`` on days ``0..n-1`` (``n`` = length of ``market``).

    Prices are exponentials of cumulated log returns, so they stay positive; the price at the
    start of ``anchor_day`` is ``params.price``. The open is the previous day's close moved by a
    gap (``gap_share`` of the day's variance); high and low are drawn from the distribution of
    a Brownian bridge's extremes between open and close; volume grows with the day's move.
    """
    n_days = len(market.market)
    if not 0 <= anchor_day <= n_days:
        raise ValueError(f"anchor_day must be in [0, {n_days}], got {anchor_day}")
    sys_var = _factor_variance(params, market_params)
    jump_var = params.jumps_per_year * (params.jump_vol**2 + params.jump_mean**2)
    idio_vol = math.sqrt(max(params.vol**2 - sys_var - jump_var, (0.2 * params.vol) ** 2))
    day_sd = market.multiplier * (params.vol / math.sqrt(DAYS_PER_YEAR))

    def stream(name: str) -> np.random.Generator:
        return make_rng(seed, "instrument", key, name)

    idio = market.multiplier * (idio_vol / math.sqrt(DAYS_PER_YEAR))
    idio = idio * stream("idio").standard_normal(n_days)
    is_jump = stream("jump").random(n_days) < params.jumps_per_year / DAYS_PER_YEAR
    jump_size = params.jump_mean + params.jump_vol * stream("jump-size").standard_normal(n_days)
    returns = (
        params.drift / DAYS_PER_YEAR
        + params.market_beta * market.market
        + params.crypto_beta * market.crypto
        + idio
        + np.where(is_jump, jump_size, 0.0)
    )
    # cum[i] = log move from the start of day 0 to the start of day i; pin the anchor's start.
    cum = np.concatenate(([0.0], np.cumsum(returns)))
    log_path = math.log(params.price) + (cum - cum[anchor_day])
    log_close = log_path[1:]

    # Split each day's return into an opening gap and the session's move, uncorrelated, with
    # variances gap_share and 1 - gap_share of the day's.
    share = params.gap_share
    gap_noise = math.sqrt(share * (1 - share)) * day_sd * stream("gap").standard_normal(n_days)
    gap = share * returns + gap_noise
    log_open = log_path[:-1] + gap
    session_var = (1 - share) * day_sd**2
    log_high = bridge_high(log_open, log_close, session_var, stream("high").random(n_days))
    log_low = bridge_low(log_open, log_close, session_var, stream("low").random(n_days))
    typical_sd = params.vol / math.sqrt(DAYS_PER_YEAR)
    activity = (np.abs(log_close - log_open) + 0.5 * (log_high - log_low)) / (1.6 * typical_sd)
    noise = np.exp(0.25 * stream("volume").standard_normal(n_days) - 0.03)
    volume = params.volume * (0.3 + 0.7 * activity) * noise
    open_, close = np.exp(log_open), np.exp(log_close)
    return DailyPath(
        open=open_,
        # exp of a bound can round past exp of the bounded value: re-assert the order in prices.
        high=np.maximum(np.exp(log_high), np.maximum(open_, close)),
        low=np.minimum(np.exp(log_low), np.minimum(open_, close)),
        close=close,
        volume=volume,
        session_var=session_var,
    )


def _factor_variance(params: InstrumentParams, m: MarketParams) -> float:
    """Annual variance an instrument gets from the market and crypto factors (calm = 1)."""
    market = params.market_beta * m.market_vol
    crypto = params.crypto_beta * m.crypto_vol
    return market**2 + crypto**2 + 2 * market * crypto * m.crypto_market_corr


def bridge_high(start: FloatArray, end: FloatArray, var: FloatArray, u: FloatArray) -> FloatArray:
    """Maximum of Brownian bridges from ``start`` to ``end`` with total variance ``var``.

    Inverse-CDF draw from uniforms ``u`` in [0, 1): ``P(max > m) = exp(-2 (m - a)(m - b) / var)``.
    Never below ``max(start, end)``.
    """
    high = (start + end + np.sqrt((end - start) ** 2 - 2 * var * np.log1p(-u))) / 2
    return np.maximum(high, np.maximum(start, end))


def bridge_low(start: FloatArray, end: FloatArray, var: FloatArray, u: FloatArray) -> FloatArray:
    """Minimum of Brownian bridges, mirror of :func:`bridge_high`; never above the endpoints."""
    low = (start + end - np.sqrt((end - start) ** 2 - 2 * var * np.log1p(-u))) / 2
    return np.minimum(low, np.minimum(start, end))


@dataclass(frozen=True)
class IntradayNoise:
    """Random inputs of intraday paths, one row per session, padded to the widest session.

    Shapes: ``z`` is (sessions, knots); the others are (sessions, knots - 1), one per step.
    """

    z: FloatArray
    u_high: FloatArray
    u_low: FloatArray
    z_volume: FloatArray


def draw_intraday_noise(
    seed: int, key: str, label: str, days: IntArray, knot_counts: IntArray
) -> IntradayNoise:
    """Per-session draws for ``days``; session ``days[j]`` has ``knot_counts[j]`` knots.

    Each session has its own stream ``(seed, key, label, day)``: its path does not depend on
    which other sessions are asked for, so overlapping queries and the live feed agree.
    """
    width = int(knot_counts.max()) if len(knot_counts) else 1
    rows = len(days)
    z = np.zeros((rows, width))
    u_high = np.zeros((rows, width - 1))
    u_low = np.zeros((rows, width - 1))
    z_volume = np.zeros((rows, width - 1))
    for row, (day, count) in enumerate(zip(days.tolist(), knot_counts.tolist(), strict=True)):
        rng = make_rng(seed, "intraday", key, label, day)
        z[row, :count] = rng.standard_normal(count)
        u_high[row, : count - 1] = rng.random(count - 1)
        u_low[row, : count - 1] = rng.random(count - 1)
        z_volume[row, : count - 1] = rng.standard_normal(count - 1)
    return IntradayNoise(z=z, u_high=u_high, u_low=u_low, z_volume=z_volume)


def intraday_ohlcv(
    session: Ohlcv,
    session_var: FloatArray,
    tau: FloatArray,
    bar_mask: BoolArray,
    volume_profile: FloatArray,
    noise: IntradayNoise,
) -> Ohlcv:
    """Bars between consecutive knots of each session, as (sessions, knots - 1) arrays.

    ``session`` holds one daily bar per row (1-d arrays) and ``session_var`` the variance of its
    open-to-close log move. ``tau`` (sessions, knots) is each knot's time as a fraction of its
    session, 0 at the open and 1 at the close, rows padded with 1.0. ``bar_mask`` says which
    steps between knots are bars (not padding, not a gap before the first bar);
    ``volume_profile`` weights volume across the session.

    The log path is a Brownian bridge from the open to the close whose excursions above and
    below the straight line are stretched to touch the session's high and low: the bars' first
    open, last close, highest high and lowest low are the daily bar's, and their volumes add up
    to the daily volume times the share of the session they cover. Masked steps come out as
    meaningless numbers (zero volume) for the caller to drop.
    """
    log_open = np.log(session.open)[:, None]
    log_close = np.log(session.close)[:, None]
    log_high = np.log(session.high)[:, None]
    log_low = np.log(session.low)[:, None]
    var = session_var[:, None]

    step_tau = np.diff(tau, axis=1)
    step_var = var * step_tau
    walk = np.cumsum(np.sqrt(step_var) * noise.z[:, 1:], axis=1)
    walk = np.concatenate((np.zeros((len(tau), 1)), walk), axis=1)
    deviation = walk - tau * walk[:, -1:]  # exactly 0 at the open (tau 0) and close (tau 1)
    line = log_open + tau * (log_close - log_open)

    # The largest stretch that keeps the path inside [low, high] makes it touch the bound.
    with np.errstate(divide="ignore", invalid="ignore"):
        up = np.where(deviation > 0, (log_high - line) / deviation, np.inf).min(axis=1)
        down = np.where(deviation < 0, (log_low - line) / deviation, np.inf).min(axis=1)
    up = np.where(np.isfinite(up), up, 0.0)[:, None]
    down = np.where(np.isfinite(down), down, 0.0)[:, None]
    path = line + up * np.maximum(deviation, 0.0) + down * np.minimum(deviation, 0.0)
    path = np.clip(path, log_low, log_high)

    start, end = path[:, :-1], path[:, 1:]
    high = np.minimum(bridge_high(start, end, step_var, noise.u_high), log_high)
    low = np.maximum(bridge_low(start, end, step_var, noise.u_low), log_low)

    with np.errstate(divide="ignore", invalid="ignore"):
        activity = np.where(step_var > 0, np.abs(end - start) / np.sqrt(step_var), 0.0)
    weight = np.where(
        bar_mask, volume_profile * (0.4 + 0.75 * activity) * np.exp(0.25 * noise.z_volume), 0.0
    )
    # cumsum, not sum: a sequential total that padding zeros cannot change by an ulp.
    total = np.cumsum(weight, axis=1)[:, -1:]
    covered = np.cumsum(np.where(bar_mask, step_tau, 0.0), axis=1)[:, -1:]
    daily_volume = session.volume[:, None] * covered
    volume = daily_volume * weight / np.where(total > 0, total, 1.0)

    open_, close = np.exp(start), np.exp(end)
    return Ohlcv(
        open=open_,
        high=np.maximum(np.exp(high), np.maximum(open_, close)),
        low=np.minimum(np.exp(low), np.minimum(open_, close)),
        close=close,
        volume=volume,
    )


def u_shaped_profile(tau: FloatArray, strength: float) -> FloatArray:
    """Intraday volume weight of each step between knots ``tau`` (sessions, knots).

    ``1 + strength * (2 m - 1)^2`` at the step's midpoint ``m``: busy at the open and close,
    quiet at midday; ``strength`` 0 is flat (markets that never close).
    """
    middle = (tau[:, :-1] + tau[:, 1:]) / 2
    return 1.0 + strength * (2 * middle - 1) ** 2
