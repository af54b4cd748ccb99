"""Backtest engines vs vectorbt and backtrader (BENCHMARKS.md rows "SMA-cross grid" and
"event-driven backtest"). Prints one JSON object. Data are synthetic, seeded GBM prices.

(a) 100 (fast, slow) SMA pairs x 500 instruments x 2,520 daily bars, fees 0.001: our
    ``sweep_ma_cross`` on the full grid; vectorbt (``MA.run`` + ``Portfolio.from_signals`` +
    ``total_return``) on the first ``VBT_INSTRUMENTS`` instruments only (the full grid takes
    ~35 s and 7.5 GiB), its time scaled linearly to the full grid; results compared on that subset.
(b) SMA 50 / EMA 200 cross with commission and slippage on 982,800 one-minute bars (10 years):
    ``run_events`` bars/s vs backtrader on the first ``BT_BARS`` bars (same strategy, fills at the
    signal bar's close via cheat-on-close).
Timings exclude JIT compilation (each engine runs once on a tiny input first); peak memory is the
process's peak RSS (ru_maxrss) after our part, before vectorbt and backtrader run.
"""

from __future__ import annotations

import json
import resource
import time
import warnings

import numpy as np

from sextant_quant.backtest import (
    BAR_DTYPE,
    Commission,
    MaCross,
    Slippage,
    SpecStrategy,
    run_events,
    run_spec,
    sweep_ma_cross,
)

N_BARS, N_INST, FEES = 2520, 500, 0.001
PAIRS = [(f, s) for f in range(5, 55, 5) for s in range(60, 260, 20)]  # 10 x 10 = 100
VBT_INSTRUMENTS = 50
N_MINUTES, BT_BARS = 982_800, 50_000
EV_FEE, EV_SLIP = 0.0005, 0.0002


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def gbm(n: int, cols: int, sigma: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    steps = rng.normal(0.0002 * sigma / 0.015, sigma, (n, cols))
    out: np.ndarray = 100.0 * np.exp(np.cumsum(steps, axis=0))
    return out


def grid() -> dict[str, object]:
    close = gbm(N_BARS, N_INST, 0.015, seed=42)
    sweep_ma_cross(close[:300, :2], [(5, 60)], fees=FEES)  # compile
    rss0 = peak_rss_mib()
    t0 = time.perf_counter()
    ours = sweep_ma_cross(close, PAIRS, fees=FEES)
    t_ours = time.perf_counter() - t0
    out: dict[str, object] = {
        "shape": {"pairs": len(PAIRS), "instruments": N_INST, "bars": N_BARS},
        "ours_s": round(t_ours, 4),
        "ours_peak_rss_mib": round(peak_rss_mib(), 1),
        "ours_rss_before_mib": round(rss0, 1),
    }
    try:
        import vectorbt as vbt
    except ImportError:
        out["vectorbt"] = "not installed"
        return out
    warnings.filterwarnings("ignore")
    sub = close[:, :VBT_INSTRUMENTS]

    def run_vbt(px: np.ndarray) -> np.ndarray:
        fast = vbt.MA.run(px, [f for f, _ in PAIRS])
        slow = vbt.MA.run(px, [s for _, s in PAIRS])
        entries = fast.ma_crossed_above(slow.ma.to_numpy()).to_numpy()
        exits = fast.ma_crossed_below(slow.ma.to_numpy()).to_numpy()
        tiled = np.tile(px, (1, len(PAIRS)))
        pf = vbt.Portfolio.from_signals(tiled, entries, exits, fees=FEES)
        tr: np.ndarray = np.asarray(pf.total_return()).reshape(len(PAIRS), px.shape[1])
        return tr

    run_vbt(sub[:300, :2])  # warm numba caches
    t0 = time.perf_counter()
    theirs = run_vbt(sub)
    t_vbt = time.perf_counter() - t0
    scaled = t_vbt * N_INST / VBT_INSTRUMENTS
    ref = ours.total_return[:, :VBT_INSTRUMENTS]
    out.update(
        vectorbt_subset_instruments=VBT_INSTRUMENTS,
        vectorbt_subset_s=round(t_vbt, 3),
        vectorbt_scaled_full_s=round(scaled, 2),
        speedup_vs_vectorbt=round(scaled / t_ours, 1),
        max_abs_diff_total_return=float(np.max(np.abs(ref - theirs))),
        max_rel_diff_final_value=float(np.max(np.abs((1 + ref) / (1 + theirs) - 1))),
    )
    return out


def minute_bars() -> np.ndarray:
    close = gbm(N_MINUTES, 1, 0.0005, seed=7)[:, 0]
    bars = np.zeros(N_MINUTES, dtype=BAR_DTYPE)
    bars["ts"] = 1_262_304_000_000_000_000 + np.arange(N_MINUTES, dtype=np.int64) * 60_000_000_000
    bars["open"] = np.concatenate(([close[0]], close[:-1]))
    bars["high"] = np.maximum(bars["open"], close) * 1.0001
    bars["low"] = np.minimum(bars["open"], close) * 0.9999
    bars["close"] = close
    bars["volume"] = 100.0
    return bars


def event(bars: np.ndarray) -> dict[str, object]:
    spec = MaCross(50, 200, "SMA", "EMA")
    costs = {"commission": Commission(percent=EV_FEE), "slippage": Slippage(EV_SLIP)}
    t0 = time.perf_counter()
    res = run_events({"SYN": bars}, SpecStrategy(spec), init_cash=100_000.0, **costs)  # type: ignore[arg-type]
    t_ev = time.perf_counter() - t0
    vec = run_spec(bars["close"], spec, init_cash=100_000.0, fees=EV_FEE, slippage=EV_SLIP)
    out: dict[str, object] = {
        "bars": N_MINUTES,
        "ours_s": round(t_ev, 3),
        "ours_bars_per_s": round(N_MINUTES / t_ev),
        "fills": len(res.fills),
        "parity_vs_vectorized_rel": float(abs(res.final_value / vec.final_value - 1)),
        "same_trades_as_vectorized": bool(
            np.array_equal(res.trades["SYN"].entry_index, vec.trades.entry_index)
        ),
    }
    try:
        bt_rate, bt_trades = backtrader_rate(bars[:BT_BARS])
    except ImportError:
        out["backtrader"] = "not installed"
        return out
    ours_sub = run_events(
        {"SYN": bars[:BT_BARS]},
        SpecStrategy(spec),
        init_cash=100_000.0,
        **costs,  # type: ignore[arg-type]
    )
    out.update(
        backtrader_bars=BT_BARS,
        backtrader_bars_per_s=round(bt_rate),
        speedup_vs_backtrader=round(N_MINUTES / t_ev / bt_rate, 1),
        backtrader_orders=bt_trades,
        ours_fills_on_subset=len(ours_sub.fills),
    )
    return out


def backtrader_rate(bars: np.ndarray) -> tuple[float, int]:
    import backtrader as bt
    import pandas as pd

    frame = pd.DataFrame(
        {k: bars[k] for k in ("open", "high", "low", "close", "volume")},
        index=pd.to_datetime(bars["ts"], unit="ns"),
    )

    class Cross(bt.Strategy):
        def __init__(self) -> None:
            self.cross = bt.ind.CrossOver(bt.ind.SMA(period=50), bt.ind.EMA(period=200))
            self.orders = 0

        def next(self) -> None:
            if self.cross[0] > 0 and not self.position:
                self.order_target_percent(target=0.99)
                self.orders += 1
            elif self.cross[0] < 0 and self.position:
                self.close()
                self.orders += 1

    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(bt.feeds.PandasData(dataname=frame))
    cerebro.addstrategy(Cross)
    cerebro.broker.setcash(100_000.0)
    cerebro.broker.setcommission(commission=EV_FEE)
    cerebro.broker.set_slippage_perc(EV_SLIP)
    cerebro.broker.set_coc(True)
    t0 = time.perf_counter()
    (strat,) = cerebro.run()
    return len(bars) / (time.perf_counter() - t0), int(strat.orders)


def main() -> None:
    t0 = time.perf_counter()
    result: dict[str, object] = {"data": "synthetic seeded GBM"}
    result["grid"] = grid()
    result["event"] = event(minute_bars())
    result["targets"] = {
        "grid_s": 1.0,
        "grid_mem_gib": 1.0,
        "grid_vs_vectorbt_tol": 1e-9,
        "event_bars_per_s": 100_000,
    }
    result["wall_s"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
