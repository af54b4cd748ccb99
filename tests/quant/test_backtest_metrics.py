"""Metrics against empyrical (empyrical-reloaded) on the same returns."""

from __future__ import annotations

import numpy as np
import pytest

from sextant_quant.backtest import (
    BacktestInputError,
    SmaCross,
    annual_volatility,
    cagr,
    calmar,
    exposure,
    hit_rate,
    max_drawdown,
    max_drawdown_duration,
    run_spec,
    sharpe,
    sortino,
    summarize,
    turnover,
)

RETURNS = np.random.default_rng(11).normal(0.0004, 0.012, 1500)


def test_against_empyrical() -> None:
    ep = pytest.importorskip("empyrical")
    r = RETURNS
    assert cagr(r) == pytest.approx(ep.annual_return(r), rel=1e-12)
    assert annual_volatility(r) == pytest.approx(ep.annual_volatility(r), rel=1e-12)
    assert sharpe(r) == pytest.approx(ep.sharpe_ratio(r), rel=1e-12)
    assert sharpe(r, risk_free=1e-4) == pytest.approx(ep.sharpe_ratio(r, risk_free=1e-4), rel=1e-12)
    assert sortino(r) == pytest.approx(ep.sortino_ratio(r), rel=1e-12)
    assert max_drawdown(r) == pytest.approx(ep.max_drawdown(r), rel=1e-12)
    assert calmar(r) == pytest.approx(ep.calmar_ratio(r), rel=1e-12)
    assert cagr(r, 52) == pytest.approx(ep.annual_return(r, period="weekly"), rel=1e-12)


def test_hand_computed_drawdown_and_duration() -> None:
    r = np.array([0.10, -0.10, -0.10, 0.05, 0.30, -0.01])
    # wealth 1.1, 0.99, 0.891, 0.93555, 1.216215, 1.20405285; peak 1.1 until bar 4
    assert max_drawdown(r) == pytest.approx(0.891 / 1.1 - 1)
    assert max_drawdown_duration(r) == 3
    assert max_drawdown(np.array([0.01, 0.02])) == 0.0


def test_exposure_turnover_hit_rate() -> None:
    pos = np.array([0.0, 2.0, 2.0, 0.0])
    px = np.array([10.0, 10.0, 11.0, 12.0])
    eq = np.array([20.0, 20.0, 22.0, 24.0])
    assert exposure(pos) == 0.5
    # traded 20 + 24 = 44 over mean equity 21.5, 4 periods = 4/252 years
    assert turnover(pos, px, eq) == pytest.approx(44 / 21.5 / (4 / 252))
    res = run_spec(100 + np.sin(np.arange(400) / 9) * 5, SmaCross(3, 10))
    closed = res.trades.pnl[~res.trades.is_open]
    assert hit_rate(res.trades) == pytest.approx(np.mean(closed > 0))


def test_summarize_and_bad_input() -> None:
    px = 100 * np.exp(np.cumsum(RETURNS))
    res = run_spec(px, SmaCross(10, 50), fees=0.001)
    s = summarize(res.equity, res.position, px, res.trades, init_cash=res.init_cash)
    assert s.total_return == pytest.approx(res.total_return)
    assert s.sharpe == pytest.approx(sharpe(res.returns))
    assert 0 < s.exposure < 1 and s.n_trades == len(res.trades)
    with pytest.raises(BacktestInputError, match="NaN/inf value at period 1"):
        sharpe([0.01, np.nan, 0.02])
    with pytest.raises(BacktestInputError, match="empty"):
        cagr([])
