"""Vectorized (array) backtesting engine for research and parameter sweeps.

Conventions follow vectorbt 1.2 ``Portfolio.from_signals`` with ``size=inf`` (all-in), so results
can be checked against it to the last few bits:

* orders fill at the signal bar's close; buys pay ``close * (1 + slippage)``, sells receive
  ``close * (1 - slippage)`` (``slippage`` a fraction, e.g. 0.0005 = 5 bp);
* ``fees`` is a fraction of traded value charged on every fill; an all-in buy spends all cash:
  ``size = cash / (1 + fees) / (close * (1 + slippage))``; shorts (targets of -1) sell
  ``cash / (price * (1 + fees))`` units;
* a target change from +1 to -1 closes then reopens on the same bar; a new entry with no cash
  left (equity <= 0 after a short) is skipped;
* equity is ``cash + position * close`` on every bar (open positions are marked to the close;
  an open trade at the end is reported with the last close as its exit price and no exit fee).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numba import njit, prange
from numpy.typing import ArrayLike, NDArray

from ._validate import (
    BacktestInputError,
    FloatArray,
    check_non_negative,
    check_positive,
    check_prices,
    check_window,
)
from .indicators import MA_KINDS, MaKind, _ema_nb, _sma_nb
from .results import Trades
from .specs import StrategySpec

DEFAULT_INIT_CASH = 100.0
PERIODS_PER_YEAR = 252


@dataclass(frozen=True)
class VectorResult:
    """One backtest: per-bar ``equity`` (cash units), ``cash``, ``position`` (units held, signed)
    and the ``trades``. ``init_cash`` is the starting equity."""

    equity: FloatArray
    cash: FloatArray
    position: FloatArray
    trades: Trades
    init_cash: float

    @property
    def final_value(self) -> float:
        """Equity on the last bar."""
        return float(self.equity[-1])

    @property
    def total_return(self) -> float:
        """``final_value / init_cash - 1`` as a fraction."""
        return float(self.equity[-1] / self.init_cash - 1.0)

    @property
    def returns(self) -> FloatArray:
        """Per-bar simple returns of equity; the first is against ``init_cash``."""
        prev = np.concatenate(([self.init_cash], self.equity[:-1]))
        out: FloatArray = self.equity / prev - 1.0
        return out


@dataclass(frozen=True)
class SweepResult:
    """A grid of MA-cross backtests: rows are (fast, slow) pairs, columns instruments.

    ``total_return`` is a fraction; ``sharpe`` is annualized from per-bar equity returns
    (mean / sample std * sqrt(periods_per_year), risk-free 0; NaN with no variation).
    """

    pairs: NDArray[np.int64]
    total_return: FloatArray
    sharpe: FloatArray
    n_trades: NDArray[np.int64]


def _check_costs(init_cash: float, fees: float, slippage: float) -> tuple[float, float, float]:
    return (
        check_positive(init_cash, "init_cash"),
        check_non_negative(fees, "fees"),
        check_non_negative(slippage, "slippage"),
    )


def run_targets(
    close: ArrayLike,
    targets: ArrayLike,
    *,
    init_cash: float = DEFAULT_INIT_CASH,
    fees: float = 0.0,
    slippage: float = 0.0,
) -> VectorResult:
    """Backtest one instrument from per-bar target positions (-1, 0, +1; all-in sizing).

    ``close`` are positive prices, one per bar; ``fees`` and ``slippage`` are fractions of traded
    value / price. Orders are placed on the bars where the target differs from the position held.
    """
    px = check_prices(close)
    tg = np.asarray(targets)
    if tg.shape != px.shape:
        raise BacktestInputError(f"targets has shape {tg.shape} but close has shape {px.shape}")
    if not np.isin(tg, (-1, 0, 1)).all():
        bad = int(np.flatnonzero(~np.isin(tg, (-1, 0, 1)))[0])
        raise BacktestInputError(f"targets must be -1, 0 or +1; got {tg[bad]!r} at bar {bad}")
    cash0, fee, slip = _check_costs(init_cash, fees, slippage)
    out = _simulate_nb(px, tg.astype(np.int8), cash0, fee, slip)
    equity, cash, position, ti, tf, tn = out
    trades = Trades(
        entry_index=ti[:tn, 0],
        exit_index=ti[:tn, 1],
        entry_price=tf[:tn, 0],
        exit_price=tf[:tn, 1],
        size=tf[:tn, 2],
        entry_fees=tf[:tn, 3],
        exit_fees=tf[:tn, 4],
        pnl=tf[:tn, 5],
        returns=tf[:tn, 6],
        direction=ti[:tn, 2].astype(np.int8),
        is_open=ti[:tn, 3].astype(np.bool_),
    )
    return VectorResult(equity, cash, position, trades, cash0)


def run_signals(
    close: ArrayLike,
    entries: ArrayLike,
    exits: ArrayLike,
    *,
    init_cash: float = DEFAULT_INIT_CASH,
    fees: float = 0.0,
    slippage: float = 0.0,
) -> VectorResult:
    """Long-only backtest from entry/exit booleans, like vectorbt ``Portfolio.from_signals``.

    An entry while long and an exit while flat are ignored; a bar with both is ignored.
    """
    en = np.asarray(entries, dtype=np.bool_)
    ex = np.asarray(exits, dtype=np.bool_)
    if en.shape != ex.shape:
        raise BacktestInputError(f"entries has shape {en.shape} but exits has shape {ex.shape}")
    both = en & ex
    en, ex = en & ~both, ex & ~both
    n = en.shape[0]
    idx = np.arange(n)
    last_entry = np.maximum.accumulate(np.where(en, idx, -1))
    last_exit = np.maximum.accumulate(np.where(ex, idx, -1))
    targets = (last_entry > last_exit).astype(np.int8)
    return run_targets(close, targets, init_cash=init_cash, fees=fees, slippage=slippage)


def run_spec(
    close: ArrayLike,
    spec: StrategySpec,
    *,
    init_cash: float = DEFAULT_INIT_CASH,
    fees: float = 0.0,
    slippage: float = 0.0,
) -> VectorResult:
    """Backtest a strategy spec on one close-price series (see ``run_targets`` for costs)."""
    return run_targets(
        close, spec.target_positions(close), init_cash=init_cash, fees=fees, slippage=slippage
    )


def sweep_ma_cross(
    close: ArrayLike,
    pairs: Sequence[tuple[int, int]] | ArrayLike,
    *,
    fast_kind: MaKind = "SMA",
    slow_kind: MaKind = "SMA",
    init_cash: float = DEFAULT_INIT_CASH,
    fees: float = 0.0,
    slippage: float = 0.0,
    periods_per_year: float = PERIODS_PER_YEAR,
) -> SweepResult:
    """Long-only MA-cross backtests for every (fast, slow) pair on every instrument at once.

    ``close`` is 2-D (bars x instruments) or 1-D (one instrument). One fused loop per instrument
    (numba, parallel over instruments) computes each distinct moving average once, then detects
    crosses and runs the all-in portfolio for each pair, keeping only the totals, so memory is
    O(bars x distinct windows) per worker rather than O(pairs x instruments x bars). Results are
    those of ``run_spec(close[:, j], MaCross(fast, slow, ...))``.
    """
    px = check_prices(close, ndim=(1, 2))
    if px.ndim == 1:
        px = px[:, None]
    pr = np.asarray(pairs, dtype=np.int64)
    if pr.ndim != 2 or pr.shape[1] != 2 or pr.shape[0] == 0:
        raise BacktestInputError(
            f"pairs must be a non-empty list of (fast, slow), got shape {pr.shape}"
        )
    for k, (f, s) in enumerate(pr.tolist()):
        check_window(f, f"pairs[{k}] fast")
        check_window(s, f"pairs[{k}] slow")
        if f >= s:
            raise BacktestInputError(f"pairs[{k}]: fast must be < slow, got ({f}, {s})")
    for name, kind in (("fast_kind", fast_kind), ("slow_kind", slow_kind)):
        if kind not in MA_KINDS:
            raise BacktestInputError(f"{name} must be one of {', '.join(MA_KINDS)}, got {kind!r}")
    cash0, fee, slip = _check_costs(init_cash, fees, slippage)
    ann = check_positive(periods_per_year, "periods_per_year")
    # Distinct (window, is_ema) combinations, each computed once per instrument.
    combos = sorted(
        {(int(f), fast_kind == "EMA") for f in pr[:, 0]}
        | {(int(s), slow_kind == "EMA") for s in pr[:, 1]}
    )
    pos = {c: i for i, c in enumerate(combos)}
    ma_windows = np.array([c[0] for c in combos], dtype=np.int64)
    ma_is_ema = np.array([c[1] for c in combos], dtype=np.bool_)
    fast_idx = np.array([pos[(int(f), fast_kind == "EMA")] for f in pr[:, 0]], dtype=np.int64)
    slow_idx = np.array([pos[(int(s), slow_kind == "EMA")] for s in pr[:, 1]], dtype=np.int64)
    tr, sh, nt = _sweep_nb(
        np.ascontiguousarray(px.T), ma_windows, ma_is_ema, fast_idx, slow_idx, cash0, fee, slip, ann
    )
    return SweepResult(pr, tr, sh, nt)


# --- kernels ----------------------------------------------------------------------------------


@njit(cache=True)
def _simulate_nb(close, targets, init_cash, fees, slippage):  # pragma: no cover
    n = close.shape[0]
    equity = np.empty(n)
    cash_out = np.empty(n)
    pos_out = np.empty(n)
    # trade records: ints (entry, exit, direction, open), floats (entry px, exit px, size,
    # entry fees, exit fees, pnl, return)
    ti = np.zeros((n, 4), dtype=np.int64)
    tf = np.zeros((n, 7))
    tn = 0
    cash = init_cash
    pos = 0.0
    state = 0
    for t in range(n):
        tg = targets[t]
        p = close[t]
        if tg != state:
            if state == 1:
                adj = p * (1.0 - slippage)
                acq = pos * adj
                fee = acq * fees
                cash = cash + (acq - fee)
                _close_trade(ti, tf, tn - 1, t, adj, fee)
                pos = 0.0
                state = 0
            elif state == -1:
                adj = p * (1.0 + slippage)
                req = -pos * adj
                fee = req * fees
                cash = cash - (req + fee)
                _close_trade(ti, tf, tn - 1, t, adj, fee)
                pos = 0.0
                state = 0
            if tg == 1 and cash > 0.0:
                adj = p * (1.0 + slippage)
                max_req = cash / (1.0 + fees)
                size = max_req / adj
                fee = cash - max_req
                cash = 0.0
                pos = size
                state = 1
                _open_trade(ti, tf, tn, t, 1, adj, size, fee)
                tn += 1
            elif tg == -1 and cash > 0.0:
                adj = p * (1.0 - slippage)
                size = cash / (adj * (1.0 + fees))
                acq = size * adj
                fee = acq * fees
                cash = cash + (acq - fee)
                pos = -size
                state = -1
                _open_trade(ti, tf, tn, t, -1, adj, size, fee)
                tn += 1
        equity[t] = cash + pos * p
        cash_out[t] = cash
        pos_out[t] = pos
    if state != 0:
        ti[tn - 1, 3] = 1
        _close_trade(ti, tf, tn - 1, n - 1, close[n - 1], 0.0)
    return equity, cash_out, pos_out, ti, tf, tn


@njit(cache=True)
def _open_trade(ti, tf, k, t, direction, price, size, fee):  # pragma: no cover
    ti[k, 0] = t
    ti[k, 2] = direction
    tf[k, 0] = price
    tf[k, 2] = size
    tf[k, 3] = fee


@njit(cache=True)
def _close_trade(ti, tf, k, t, price, fee):  # pragma: no cover
    ti[k, 1] = t
    tf[k, 1] = price
    tf[k, 4] = fee
    entry_val = tf[k, 2] * tf[k, 0]
    diff = tf[k, 2] * price - entry_val
    if ti[k, 2] == -1:
        diff = -diff
    pnl = diff - tf[k, 3] - fee
    tf[k, 5] = pnl
    tf[k, 6] = pnl / entry_val


@njit(cache=True, parallel=True, nogil=True)  # nogil: the API answers while a sweep runs
def _sweep_nb(
    close_t, ma_windows, ma_is_ema, fast_idx, slow_idx, init_cash, fees, slippage, ann
):  # pragma: no cover
    n_inst = close_t.shape[0]
    n_bars = close_t.shape[1]
    n_pairs = fast_idx.shape[0]
    n_ma = ma_windows.shape[0]
    total_return = np.empty((n_pairs, n_inst))
    sharpe = np.empty((n_pairs, n_inst))
    n_trades = np.zeros((n_pairs, n_inst), dtype=np.int64)
    buy_mult = 1.0 + slippage
    sell_mult = 1.0 - slippage
    for j in prange(n_inst):
        px = close_t[j]
        mas = np.empty((n_ma, n_bars))
        for k in range(n_ma):
            if ma_is_ema[k]:
                mas[k] = _ema_nb(px, ma_windows[k])
            else:
                mas[k] = _sma_nb(px, ma_windows[k])
        for q in range(n_pairs):
            fast = mas[fast_idx[q]]
            slow = mas[slow_idx[q]]
            was_below = False
            was_above = False
            prev = 0
            cash = init_cash
            pos = 0.0
            prev_value = init_cash
            mean = 0.0
            m2 = 0.0
            trades = 0
            for t in range(n_bars):
                f = fast[t]
                s = slow[t]
                p = px[t]
                if f > s:
                    if was_below and prev != 1 and pos == 0.0:
                        adj = p * buy_mult
                        max_req = cash / (1.0 + fees)
                        pos = max_req / adj
                        cash = 0.0
                        trades += 1
                    was_above = True
                    prev = 1
                elif f < s:
                    if was_above and prev != -1 and pos != 0.0:
                        acq = pos * (p * sell_mult)
                        cash = cash + (acq - acq * fees)
                        pos = 0.0
                    was_below = True
                    prev = -1
                else:
                    if f != f or s != s:
                        was_below = False
                        was_above = False
                    prev = 0
                value = cash + pos * p
                r = value / prev_value - 1.0
                prev_value = value
                delta = r - mean
                mean += delta / (t + 1)
                m2 += delta * (r - mean)
            total_return[q, j] = prev_value / init_cash - 1.0
            n_trades[q, j] = trades
            if n_bars > 1 and m2 > 0.0:
                sharpe[q, j] = mean / np.sqrt(m2 / (n_bars - 1)) * np.sqrt(ann)
            else:
                sharpe[q, j] = np.nan
    return total_return, sharpe, n_trades
