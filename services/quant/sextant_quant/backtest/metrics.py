"""Performance metrics with empyrical / quantstats conventions.

``returns`` are simple per-period returns as fractions (0.01 = 1%), one per bar; annualization
uses ``periods_per_year`` (252 for daily bars by default; 252 * 390 for US-equity minutes);
the risk-free rate is 0 unless given (as a per-period fraction). Standard deviations are sample
(ddof=1), as in empyrical. Drawdowns are negative fractions measured on the wealth index that
starts at 1 before the first return (so a loss on the first bar counts).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import ArrayLike

from ._validate import BacktestInputError, FloatArray, check_positive
from .results import Trades

PERIODS_PER_YEAR = 252


def _returns(returns: ArrayLike) -> FloatArray:
    arr: FloatArray = np.asarray(returns, dtype=np.float64)
    if arr.ndim != 1:
        raise BacktestInputError(f"returns must be 1-D (one per period), got shape {arr.shape}")
    if arr.size == 0:
        raise BacktestInputError("returns is empty")
    if not np.isfinite(arr).all():
        i = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise BacktestInputError(f"returns has a NaN/inf value at period {i}; drop or fill it")
    if (arr <= -1.0).any():
        i = int(np.flatnonzero(arr <= -1.0)[0])
        raise BacktestInputError(f"returns[{i}] = {arr[i]!r} is a total loss (<= -100%)")
    return arr


def cagr(returns: ArrayLike, periods_per_year: float = PERIODS_PER_YEAR) -> float:
    """Compound annual growth rate: ``prod(1 + r) ** (periods_per_year / n) - 1``."""
    r = _returns(returns)
    ann = check_positive(periods_per_year, "periods_per_year")
    return float(np.prod(1.0 + r) ** (ann / r.size) - 1.0)


def annual_volatility(returns: ArrayLike, periods_per_year: float = PERIODS_PER_YEAR) -> float:
    """Sample standard deviation of returns times ``sqrt(periods_per_year)``; NaN with < 2."""
    r = _returns(returns)
    if r.size < 2:
        return float("nan")
    return float(np.std(r, ddof=1) * np.sqrt(check_positive(periods_per_year, "periods_per_year")))


def sharpe(
    returns: ArrayLike, risk_free: float = 0.0, periods_per_year: float = PERIODS_PER_YEAR
) -> float:
    """Annualized Sharpe ratio ``mean(r - rf) / std(r - rf) * sqrt(periods_per_year)``.

    NaN with fewer than 2 returns or zero variation.
    """
    r = _returns(returns) - risk_free
    if r.size < 2:
        return float("nan")
    sd = np.std(r, ddof=1)
    if sd == 0:
        return float("nan")
    return float(np.mean(r) / sd * np.sqrt(check_positive(periods_per_year, "periods_per_year")))


def sortino(
    returns: ArrayLike, required_return: float = 0.0, periods_per_year: float = PERIODS_PER_YEAR
) -> float:
    """Annualized Sortino ratio: ``mean(r - req) * N / (sqrt(mean(min(r - req, 0)^2)) * sqrt(N))``.

    The downside deviation averages over all periods (empyrical); inf when there is no downside.
    """
    r = _returns(returns) - required_return
    ann = check_positive(periods_per_year, "periods_per_year")
    downside = np.sqrt(np.mean(np.square(np.minimum(r, 0.0)))) * np.sqrt(ann)
    if downside == 0:
        return float("inf") if np.mean(r) > 0 else float("nan")
    return float(np.mean(r) * ann / downside)


def drawdowns(returns: ArrayLike) -> FloatArray:
    """Drawdown per period: wealth / running peak - 1 (<= 0), peak including the start of 1."""
    r = _returns(returns)
    wealth = np.cumprod(1.0 + r)
    peak = np.maximum.accumulate(np.concatenate(([1.0], wealth)))[1:]
    out: FloatArray = wealth / peak - 1.0
    return out


def max_drawdown(returns: ArrayLike) -> float:
    """Largest peak-to-trough loss as a negative fraction (0 if wealth never fell)."""
    return float(min(drawdowns(returns).min(), 0.0))


def max_drawdown_duration(returns: ArrayLike) -> int:
    """Longest run of consecutive periods below the previous peak (to recovery or the end)."""
    under = drawdowns(returns) < 0
    best = run = 0
    for flag in under.tolist():
        run = run + 1 if flag else 0
        best = max(best, run)
    return best


def calmar(returns: ArrayLike, periods_per_year: float = PERIODS_PER_YEAR) -> float:
    """CAGR / |max drawdown|; NaN when there was no drawdown."""
    mdd = max_drawdown(returns)
    if mdd == 0:
        return float("nan")
    return cagr(returns, periods_per_year) / abs(mdd)


def exposure(position: ArrayLike) -> float:
    """Fraction of periods with a non-zero position."""
    pos = np.asarray(position, dtype=np.float64)
    if pos.size == 0:
        raise BacktestInputError("position is empty")
    return float(np.count_nonzero(pos) / pos.size)


def turnover(
    position: ArrayLike,
    price: ArrayLike,
    equity: ArrayLike,
    periods_per_year: float = PERIODS_PER_YEAR,
) -> float:
    """Annualized turnover: traded value ``sum |Δposition| * price`` over mean equity, per year.

    1.0 means the portfolio's average value was traded once a year (buys and sells both count,
    so a round trip of the whole book is 2.0).
    """
    pos = np.asarray(position, dtype=np.float64)
    px = np.asarray(price, dtype=np.float64)
    eq = np.asarray(equity, dtype=np.float64)
    if not pos.shape == px.shape == eq.shape or pos.ndim != 1 or pos.size == 0:
        raise BacktestInputError(
            f"position, price and equity must be 1-D of one length, got {pos.shape}, {px.shape}, "
            f"{eq.shape}"
        )
    traded = np.abs(np.diff(np.concatenate(([0.0], pos)))) * px
    years = pos.size / check_positive(periods_per_year, "periods_per_year")
    return float(traded.sum() / np.mean(eq) / years)


def hit_rate(trades: Trades, *, include_open: bool = False) -> float:
    """Fraction of (closed) trades with pnl > 0; NaN with no trades."""
    pnl = trades.pnl if include_open else trades.pnl[~trades.is_open]
    if pnl.size == 0:
        return float("nan")
    return float(np.count_nonzero(pnl > 0) / pnl.size)


@dataclass(frozen=True)
class Summary:
    """The standard metric set of one backtest (fractions; ratios annualized)."""

    total_return: float
    cagr: float
    annual_volatility: float
    sharpe: float
    sortino: float
    max_drawdown: float
    max_drawdown_duration: int
    calmar: float
    turnover: float
    exposure: float
    hit_rate: float
    n_trades: int

    def as_dict(self) -> dict[str, float | int]:
        """Plain dict (for JSON)."""
        return asdict(self)


def summarize(
    equity: ArrayLike,
    position: ArrayLike,
    price: ArrayLike,
    trades: Trades,
    *,
    init_cash: float,
    periods_per_year: float = PERIODS_PER_YEAR,
) -> Summary:
    """All metrics from an equity curve, the position and price per bar, and the trades."""
    eq = np.asarray(equity, dtype=np.float64)
    r = eq / np.concatenate(([init_cash], eq[:-1])) - 1.0
    return Summary(
        total_return=float(eq[-1] / init_cash - 1.0),
        cagr=cagr(r, periods_per_year),
        annual_volatility=annual_volatility(r, periods_per_year),
        sharpe=sharpe(r, 0.0, periods_per_year),
        sortino=sortino(r, 0.0, periods_per_year),
        max_drawdown=max_drawdown(r),
        max_drawdown_duration=max_drawdown_duration(r),
        calmar=calmar(r, periods_per_year),
        turnover=turnover(position, price, eq, periods_per_year),
        exposure=exposure(position),
        hit_rate=hit_rate(trades),
        n_trades=len(trades),
    )
