"""Vectorized engine: hand-computed cases, the sweep, and parity with vectorbt."""

from __future__ import annotations

import numpy as np
import pytest

from sextant_quant.backtest import (
    BacktestInputError,
    MaCross,
    SmaCross,
    run_signals,
    run_spec,
    run_targets,
    sweep_ma_cross,
)

# vectorbt 1.2 calls DataFrame.rename(inplace=True), deprecated in pandas 3.1.
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword:DeprecationWarning")


def gbm(n: int, cols: int = 1, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out: np.ndarray = 100 * np.exp(np.cumsum(rng.normal(0.0002, 0.015, (n, cols)), axis=0))
    return out[:, 0] if cols == 1 else out


def test_hand_computed_round_trip() -> None:
    close = np.array([10.0, 10.0, 12.0, 15.0, 15.0])
    res = run_targets(close, [0, 1, 1, 0, 0], init_cash=100.0, fees=0.01, slippage=0.02)
    buy_px = 10.0 * 1.02
    size = 100.0 / 1.01 / buy_px
    sell_px = 15.0 * 0.98
    cash = size * sell_px * (1 - 0.01)
    assert res.trades.size[0] == pytest.approx(size, rel=1e-15)
    assert res.final_value == pytest.approx(cash, rel=1e-15)
    assert res.equity[2] == pytest.approx(size * 12.0, rel=1e-15)
    pnl = size * (sell_px - buy_px) - (100.0 - 100.0 / 1.01) - size * sell_px * 0.01
    assert res.trades.pnl[0] == pytest.approx(pnl, rel=1e-12)
    assert res.trades.entry_index.tolist() == [1] and res.trades.exit_index.tolist() == [3]
    assert res.position.tolist() == [0, size, size, 0, 0]


def test_short_and_open_trade() -> None:
    close = np.array([10.0, 8.0, 8.0, 9.0])
    res = run_targets(close, [-1, -1, 1, 1])
    assert res.trades.direction.tolist() == [-1, 1]
    # short 10 units at 10 -> cover at 8: +20, then long 120/8 = 15 units, marked at 9
    assert res.trades.pnl[0] == pytest.approx(20.0)
    assert res.trades.is_open.tolist() == [False, True]
    assert res.final_value == pytest.approx(15 * 9.0)


def test_run_signals_ignores_redundant_signals() -> None:
    close = np.array([1.0, 2.0, 3.0, 4.0])
    res = run_signals(close, [False, True, True, False], [True, False, False, True])
    assert len(res.trades) == 1 and res.trades.entry_index[0] == 1


def test_bad_inputs() -> None:
    with pytest.raises(BacktestInputError, match="fees must be >= 0"):
        run_spec(gbm(50), SmaCross(2, 5), fees=-0.001)
    with pytest.raises(BacktestInputError, match="empty"):
        run_spec(np.array([]), SmaCross(2, 5))
    with pytest.raises(BacktestInputError, match="NaN/inf/non-positive"):
        run_targets([1.0, np.nan], [0, 1])
    with pytest.raises(BacktestInputError, match="targets must be -1, 0 or \\+1"):
        run_targets([1.0, 2.0], [0, 2])
    with pytest.raises(BacktestInputError, match=r"pairs\[1\]: fast must be < slow"):
        sweep_ma_cross(gbm(50), [(2, 5), (5, 5)])


def test_sweep_equals_single_runs() -> None:
    close = gbm(600, cols=4, seed=3)
    pairs = [(5, 20), (10, 50), (20, 60)]
    sw = sweep_ma_cross(close, pairs, fast_kind="EMA", slow_kind="SMA", fees=0.001, slippage=1e-4)
    for q, (f, s) in enumerate(pairs):
        for j in range(close.shape[1]):
            one = run_spec(close[:, j], MaCross(f, s, "EMA", "SMA"), fees=0.001, slippage=1e-4)
            assert sw.total_return[q, j] == pytest.approx(one.total_return, rel=1e-12, abs=1e-14)
            r = one.returns
            expected_sharpe = r.mean() / r.std(ddof=1) * np.sqrt(252)
            assert sw.sharpe[q, j] == pytest.approx(expected_sharpe, rel=1e-9)
            assert sw.n_trades[q, j] == len(one.trades)


@pytest.mark.parametrize(
    ("fast_kind", "slow_kind"), [("SMA", "SMA"), ("EMA", "EMA"), ("SMA", "EMA")]
)
def test_parity_with_vectorbt(fast_kind: str, slow_kind: str) -> None:
    vbt = pytest.importorskip("vectorbt")
    pd = pytest.importorskip("pandas")
    close = pd.DataFrame(gbm(2520, cols=3, seed=7))
    fast = vbt.MA.run(close, 20, ewm=fast_kind == "EMA")
    slow = vbt.MA.run(close, 100, ewm=slow_kind == "EMA")
    entries = fast.ma_crossed_above(slow).to_numpy()
    exits = fast.ma_crossed_below(slow).to_numpy()
    pf = vbt.Portfolio.from_signals(close, entries, exits, fees=0.001, slippage=0.0005)
    theirs = pf.total_return().to_numpy()
    records = pf.trades.records_readable
    spec = MaCross(20, 100, fast_kind, slow_kind)  # type: ignore[arg-type]
    sw = sweep_ma_cross(
        close.to_numpy(),
        [(20, 100)],
        fast_kind=spec.fast_kind,
        slow_kind=spec.slow_kind,
        fees=0.001,
        slippage=0.0005,
    )
    np.testing.assert_allclose(sw.total_return[0], theirs, rtol=1e-9, atol=1e-12)
    for j in range(3):
        ours = run_spec(close[j].to_numpy(), spec, fees=0.001, slippage=0.0005)
        assert ours.total_return == pytest.approx(theirs[j], rel=1e-9)
        assert ours.final_value == pytest.approx(pf.final_value().iloc[j], rel=1e-9)
        t = records[records["Column"] == j]
        assert ours.trades.entry_index.tolist() == t["Entry Timestamp"].tolist()
        assert ours.trades.exit_index.tolist() == t["Exit Timestamp"].tolist()
        np.testing.assert_allclose(ours.trades.size, t["Size"], rtol=1e-12)
        np.testing.assert_allclose(ours.trades.entry_price, t["Avg Entry Price"], rtol=1e-12)
        np.testing.assert_allclose(ours.trades.pnl, t["PnL"], rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(ours.trades.returns, t["Return"], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(ours.equity, pf.value()[j].to_numpy(), rtol=1e-12)
