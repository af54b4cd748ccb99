"""Live figures of one instrument, updated one bar at a time: no refit, no look-ahead.

- **EWMA volatility**: the RiskMetrics recursion on log returns,
  var_t = lambda var_t-1 + (1 - lambda) r_t^2 (lambda = 0.94 per bar), seeded with the sample
  variance of the first :data:`EWMA_SEED_BARS` returns; annualized with the asset class's bars
  per year (:func:`bars_per_year`).
- **1-day VaR**: parametric normal with zero mean, z_c x sigma_day, where sigma_day is the EWMA
  volatility scaled to one trading day; a loss as a fraction of value (0.023 = 2.3 %).
- **Rolling beta**: the OLS slope cov(r, r_b) / var(r_b) of the instrument's log returns on its
  benchmark's, over the bars of the last ``window`` that both have (matched by bar start).
- **Regime**: see :mod:`sextant_quant.live.nowcast`.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from scipy.stats import norm

from sextant_common.events import AssetClass, Interval

RISKMETRICS_LAMBDA = 0.94
"""EWMA decay per bar (J.P. Morgan RiskMetrics, 1996)."""
VAR_CONFIDENCE = 0.99
EWMA_SEED_BARS = 20
"""Returns whose sample variance starts the EWMA recursion."""
BETA_WINDOW = 60
"""Bars in the rolling beta window."""
MIN_BETA_PAIRS = 20
"""Matched bars a beta needs."""

_VAR_Z = float(norm.ppf(VAR_CONFIDENCE))
"""Standard normal quantile of :data:`VAR_CONFIDENCE`."""
_TRADING_DAYS = {AssetClass.CRYPTO: 365.0, AssetClass.FX: 260.0}
"""Trading days per year by asset class; 252 for the rest."""
_SESSION_SECONDS = {AssetClass.CRYPTO: 86_400.0, AssetClass.FX: 86_400.0}
"""Seconds of trading per day by asset class; 23,400 (the NYSE session) for the rest."""


def trading_days_per_year(asset_class: AssetClass) -> float:
    """Trading days per year of ``asset_class`` (365 crypto, 260 FX, 252 otherwise)."""
    return _TRADING_DAYS.get(asset_class, 252.0)


def bars_per_year(interval: Interval, asset_class: AssetClass) -> float:
    """Bars of ``interval`` in a year of trading of ``asset_class`` (annualizes a per-bar
    variance): trading days for daily bars, trading days x session seconds / bar seconds for
    intraday ones."""
    days = trading_days_per_year(asset_class)
    if interval is Interval.D1:
        return days
    session = _SESSION_SECONDS.get(asset_class, 23_400.0)
    return days * session / interval.duration.total_seconds()


@dataclass(frozen=True)
class Figures:
    """What one bar changed: volatility, VaR and beta (None with a reason while unknown)."""

    ewma_vol: float | None
    """annualized, decimal"""
    var_1d: float | None
    """loss as a fraction of value at :data:`VAR_CONFIDENCE`"""
    beta: float | None
    pending: dict[str, str]


@dataclass
class RiskState:
    """EWMA variance and recent returns of one instrument at one interval."""

    asset_class: AssetClass
    interval: Interval
    last_start: datetime | None = None
    last_close: float | None = None
    variance: float | None = None
    """EWMA variance of log returns, per bar"""
    seed_returns: list[float] = field(default_factory=list)
    pairs: deque[tuple[float, float | None]] = field(
        default_factory=lambda: deque(maxlen=BETA_WINDOW)
    )
    """the last returns, each with the benchmark's return over the same two bar starts (None
    when the benchmark had none when this bar came)"""
    by_start: dict[datetime, tuple[datetime, float]] = field(default_factory=dict)
    """the last :data:`BETA_WINDOW` returns by bar start, with the start of the bar each is
    measured from, for the instruments it is the benchmark of"""

    def add(
        self,
        start: datetime,
        close: float,
        benchmark: Mapping[datetime, tuple[datetime, float]] | None,
    ) -> bool:
        """Take the close of the bar starting at ``start``, pairing its return with the
        benchmark's over the same bars (from ``benchmark``, the benchmark's :attr:`by_start`;
        None: no benchmark state); a benchmark return that spans other bars (one of its bars is
        missing) is not paired. False (state unchanged) when the bar is not after the last one
        taken (a duplicate, a correction or out of order)."""
        if self.last_start is not None and start <= self.last_start:
            return False
        if self.last_start is not None and self.last_close is not None:
            value = math.log(close / self.last_close)
            self._add_return(value)
            theirs = None if benchmark is None else benchmark.get(start)
            paired = theirs[1] if theirs is not None and theirs[0] == self.last_start else None
            self.pairs.append((value, paired))
            self.by_start[start] = (self.last_start, value)
            if len(self.by_start) > BETA_WINDOW:
                del self.by_start[next(iter(self.by_start))]
        self.last_start, self.last_close = start, close
        return True

    def _add_return(self, value: float) -> None:
        if self.variance is None:
            self.seed_returns.append(value)
            if len(self.seed_returns) >= EWMA_SEED_BARS:
                self.variance = float(np.var(self.seed_returns, ddof=1))
                self.seed_returns.clear()
        else:
            self.variance = RISKMETRICS_LAMBDA * self.variance + (1 - RISKMETRICS_LAMBDA) * (
                value * value
            )

    def figures(self, benchmark_id: str) -> Figures:
        """The figures after the last bar taken."""
        pending: dict[str, str] = {}
        vol = var = None
        if self.variance is None:
            have = len(self.seed_returns)
            pending["ewma_vol"] = pending["var_1d"] = (
                f"{have} of the {EWMA_SEED_BARS} returns that seed the EWMA"
            )
        else:
            vol = math.sqrt(self.variance * bars_per_year(self.interval, self.asset_class))
            day = vol / math.sqrt(trading_days_per_year(self.asset_class))
            var = _VAR_Z * day
        beta, why = self._beta()
        if why is not None:
            pending["beta"] = why.format(benchmark=benchmark_id, interval=self.interval.value)
        return Figures(vol, var, beta, pending)

    def _beta(self) -> tuple[float | None, str | None]:
        """OLS slope on the matched pairs (sums in Python: ~60 floats, cheaper than numpy's
        per-call overhead), or None and a reason template."""
        n = 0
        sx = sy = sxx = sxy = 0.0
        for mine, theirs in self.pairs:
            if theirs is not None:
                n += 1
                sx += theirs
                sy += mine
                sxx += theirs * theirs
                sxy += theirs * mine
        if n < MIN_BETA_PAIRS:
            return None, (
                f"{n} bars matched with the benchmark {{benchmark}} ({{interval}} bars) in the "
                f"last {BETA_WINDOW}, need {MIN_BETA_PAIRS}"
            )
        spread = sxx - sx * sx / n
        if spread <= 0:
            return None, "the benchmark {benchmark} did not move in the window"
        return (sxy - sx * sy / n) / spread, None
