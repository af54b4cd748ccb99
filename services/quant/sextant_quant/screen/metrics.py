"""Screener metrics of every instrument at one date, vectorized across instruments.

Windows count each instrument's own daily bars (a "month" is 21 bars, a year 252), never
calendar days, so an instrument trading 7 days a week (crypto) has shorter calendar windows.
Returns are simple daily close-to-close returns (price returns: the lake holds no dividends).
Every metric is NaN (null in JSON) when the instrument has too few bars for its window.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sextant_quant.screen.panel import (
    Aligned,
    FloatArray,
    FloatMatrix,
    IntArray,
    Packed,
    Panel,
    trailing,
)

TRADING_DAYS = 252
"""Bars in a year; also the annualization factor of volatilities (sqrt of it)."""
MONTH = 21
"""Bars in a month."""


@dataclass(frozen=True)
class At:
    """The panel seen on one date: each instrument's last bar index on or before it, and
    (when a benchmark is given) the same on the dates it shares with the benchmark."""

    packed: Packed
    last: IntArray
    aligned: Aligned | None
    aligned_last: IntArray | None

    def close_back(self, bars: int) -> FloatArray:
        """Each instrument's close ``bars`` bars before its last one."""
        return trailing(self.packed.close, self.last, bars + 1)[0]


def _returns(closes: FloatMatrix) -> FloatMatrix:
    """Simple returns down the columns of a window of closes."""
    returns: FloatMatrix = closes[1:] / closes[:-1] - 1.0
    return returns


def last_close(at: At) -> FloatArray:
    """The last close (price units)."""
    return at.close_back(0)


def total_return(bars: int) -> Callable[[At], FloatArray]:
    """Close-to-close return over the last ``bars`` bars (a fraction)."""
    return lambda at: at.close_back(0) / at.close_back(bars) - 1.0


def momentum_12_1(at: At) -> FloatArray:
    """Return from 12 months to 1 month ago (skips the last month's reversal)."""
    return at.close_back(MONTH) / at.close_back(TRADING_DAYS) - 1.0


def volatility(bars: int) -> Callable[[At], FloatArray]:
    """Annualized standard deviation (ddof 1) of the last ``bars`` daily returns."""

    def compute(at: At) -> FloatArray:
        returns = _returns(trailing(at.packed.close, at.last, bars + 1))
        vol: FloatArray = returns.std(axis=0, ddof=1) * np.sqrt(TRADING_DAYS)
        return vol

    return compute


def beta(bars: int) -> Callable[[At], FloatArray]:
    """OLS beta to the benchmark of the last ``bars`` daily returns on the dates both have a
    bar (returns between consecutive common dates); NaN without a benchmark."""

    def compute(at: At) -> FloatArray:
        if at.aligned is None or at.aligned_last is None:
            return np.full(len(at.last), np.nan)
        own = _returns(trailing(at.aligned.packed.close, at.aligned_last, bars + 1))
        bench = _returns(trailing(at.aligned.benchmark, at.aligned_last, bars + 1))
        own = own - own.mean(axis=0)
        bench = bench - bench.mean(axis=0)
        slope: FloatArray = (own * bench).sum(axis=0) / (bench * bench).sum(axis=0)
        return slope

    return compute


def max_drawdown(bars: int) -> Callable[[At], FloatArray]:
    """Largest fall from a running peak over the last ``bars`` closes (a fraction <= 0)."""

    def compute(at: At) -> FloatArray:
        closes = trailing(at.packed.close, at.last, bars)
        drawdown: FloatArray = (closes / np.maximum.accumulate(closes, axis=0) - 1.0).min(axis=0)
        return drawdown

    return compute


def average_volume(bars: int) -> Callable[[At], FloatArray]:
    """Mean daily volume (shares or contracts) over the last ``bars`` bars."""

    def compute(at: At) -> FloatArray:
        mean: FloatArray = trailing(at.packed.volume, at.last, bars).mean(axis=0)
        return mean

    return compute


def average_dollar_volume(bars: int) -> Callable[[At], FloatArray]:
    """Mean daily close x volume (price units, e.g. USD) over the last ``bars`` bars."""

    def compute(at: At) -> FloatArray:
        closes = trailing(at.packed.close, at.last, bars)
        mean: FloatArray = (closes * trailing(at.packed.volume, at.last, bars)).mean(axis=0)
        return mean

    return compute


@dataclass(frozen=True)
class Metric:
    """One screener column: its name, what it measures (with units) and how."""

    name: str
    description: str
    compute: Callable[[At], FloatArray]


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("price", "Last close on or before as_of (price units)", last_close),
        Metric("ret_1m", "Return over the last 21 bars (fraction)", total_return(MONTH)),
        Metric("ret_3m", "Return over the last 63 bars (fraction)", total_return(3 * MONTH)),
        Metric("ret_6m", "Return over the last 126 bars (fraction)", total_return(6 * MONTH)),
        Metric("ret_12m", "Return over the last 252 bars (fraction)", total_return(TRADING_DAYS)),
        Metric("mom_12_1", "Return from 252 to 21 bars ago (fraction)", momentum_12_1),
        Metric("vol_20d", "Annualized vol of the last 20 daily returns", volatility(20)),
        Metric("vol_60d", "Annualized vol of the last 60 daily returns", volatility(60)),
        Metric("vol_1y", "Annualized vol of the last 252 daily returns", volatility(TRADING_DAYS)),
        Metric("beta_1y", "Beta to the benchmark, last 252 common daily returns", beta(252)),
        Metric(
            "max_dd_1y", "Max drawdown over the last 252 closes (fraction <= 0)", max_drawdown(252)
        ),
        Metric("adv_20d", "Mean daily volume over the last 20 bars", average_volume(20)),
        Metric("adv_60d", "Mean daily volume over the last 60 bars", average_volume(60)),
        Metric(
            "addv_20d", "Mean daily close x volume over the last 20 bars", average_dollar_volume(20)
        ),
        Metric(
            "addv_60d", "Mean daily close x volume over the last 60 bars", average_dollar_volume(60)
        ),
    )
}
"""Every metric the screener computes, filters and sorts on, by name."""


def metrics_at(panel: Panel, row: int, benchmark: int | None) -> dict[str, FloatArray]:
    """Every :data:`METRICS` value of every panel instrument using only bars on or before
    panel row ``row``; ``benchmark`` is the column betas are measured against (None: no beta).
    Also ``obs``: each instrument's bars so far (0: none, all metrics NaN)."""
    packed = panel.packed
    last = packed.last_index(row)
    aligned = panel.aligned_to(benchmark) if benchmark is not None else None
    at = At(packed, last, aligned, aligned.last_index(row) if aligned is not None else None)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = {name: metric.compute(at) for name, metric in METRICS.items()}
    return {"obs": (last + 1).astype(np.float64), **values}
