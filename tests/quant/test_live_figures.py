"""The live analytics' per-bar figures equal batch references: EWMA volatility (pandas ewm), VaR
(normal quantile), rolling beta (numpy least squares) and the regime nowcast (the model's batch
forward filter)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from arch.data import sp500
from scipy.stats import norm

from sextant_common.events import AssetClass, Interval
from sextant_quant.live.figures import (
    BETA_WINDOW,
    EWMA_SEED_BARS,
    MIN_BETA_PAIRS,
    RISKMETRICS_LAMBDA,
    VAR_CONFIDENCE,
    RiskState,
    bars_per_year,
)
from sextant_quant.live.nowcast import RegimeNowcast
from sextant_quant.regimes import fit_hmm_regimes

START = datetime(2024, 1, 1, tzinfo=UTC)


def _walk(n: int, seed: int, scale: float = 0.01) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 100.0 * np.exp(np.cumsum(rng.normal(0, scale, n)))


def _fill(state: RiskState, closes: np.ndarray, step: timedelta = timedelta(days=1)) -> None:
    for i, close in enumerate(closes):
        assert state.add(START + i * step, float(close), None)


def test_ewma_vol_and_var_equal_pandas_recursion() -> None:
    closes = _walk(300, seed=1)
    state = RiskState(AssetClass.EQUITY, Interval.D1)
    _fill(state, closes)
    returns = np.diff(np.log(closes))
    seeded = np.concatenate(
        [[np.var(returns[:EWMA_SEED_BARS], ddof=1)], returns[EWMA_SEED_BARS:] ** 2]
    )
    variance = pd.Series(seeded).ewm(alpha=1 - RISKMETRICS_LAMBDA, adjust=False).mean().iloc[-1]
    figures = state.figures("SPX")
    assert figures.ewma_vol == pytest.approx(math.sqrt(variance * 252), rel=1e-12)
    day = math.sqrt(variance)
    assert figures.var_1d == pytest.approx(norm.ppf(VAR_CONFIDENCE) * day, rel=1e-12)
    assert "beta" in figures.pending and "SPX" in figures.pending["beta"]


def test_figures_pending_until_seeded_and_stale_bars_ignored() -> None:
    state = RiskState(AssetClass.CRYPTO, Interval.S5)
    _fill(state, _walk(EWMA_SEED_BARS, seed=2), timedelta(seconds=5))
    figures = state.figures("NDX")
    assert figures.ewma_vol is None and figures.var_1d is None
    assert f"{EWMA_SEED_BARS - 1} of the {EWMA_SEED_BARS}" in figures.pending["ewma_vol"]
    last = state.last_start
    assert last is not None
    assert not state.add(last, 50.0, None)  # a duplicate or correction changes nothing
    assert not state.add(last - timedelta(seconds=5), 50.0, None)
    assert state.last_close != 50.0


def test_beta_equals_least_squares_on_matched_bars() -> None:
    """Bars are paired with the benchmark's bar of the same start when they arrive; a benchmark
    bar that is missing (or comes later) leaves its instrument bar unpaired."""
    market = _walk(200, seed=3)
    rng = np.random.default_rng(4)
    market_returns = np.diff(np.log(market))
    stock_returns = 1.3 * market_returns + rng.normal(0, 0.004, len(market_returns))
    stock = 50.0 * np.exp(np.concatenate([[0.0], np.cumsum(stock_returns)]))
    benchmark = RiskState(AssetClass.INDEX, Interval.D1)
    state = RiskState(AssetClass.EQUITY, Interval.D1)
    skipped = set(range(190, 200, 3))
    for i in range(200):
        start = START + timedelta(days=i)
        if i not in skipped:
            benchmark.add(start, float(market[i]), None)
        assert state.add(start, float(stock[i]), benchmark.by_start)
    figures = state.figures("SPX")
    window = range(200 - BETA_WINDOW, 200)
    # a benchmark return over a missing bar spans two bars: not paired
    kept = [i for i in window if i not in skipped and i - 1 not in skipped]
    assert sum(1 for _, theirs in state.pairs if theirs is not None) == len(kept)
    slope = np.polyfit(market_returns[np.array(kept) - 1], stock_returns[np.array(kept) - 1], 1)[0]
    assert figures.beta == pytest.approx(slope, rel=1e-10)
    assert figures.beta is not None and abs(figures.beta - 1.3) < 0.2


def test_beta_pending_with_too_few_matched_bars() -> None:
    benchmark = RiskState(AssetClass.INDEX, Interval.D1)
    state = RiskState(AssetClass.EQUITY, Interval.D1)
    closes = _walk(50, seed=5)
    for i, close in enumerate(closes):
        start = START + timedelta(days=i)
        if i < MIN_BETA_PAIRS:
            benchmark.add(start, float(close) * 2, None)
        state.add(start, float(close), benchmark.by_start)
    figures = state.figures("SPX")
    assert figures.beta is None
    assert f"{MIN_BETA_PAIRS - 1} bars matched with the benchmark SPX" in figures.pending["beta"]


def test_bars_per_year_by_asset_class() -> None:
    assert bars_per_year(Interval.D1, AssetClass.EQUITY) == 252
    assert bars_per_year(Interval.D1, AssetClass.CRYPTO) == 365
    assert bars_per_year(Interval.M1, AssetClass.EQUITY) == 252 * 390
    assert bars_per_year(Interval.H1, AssetClass.FX) == 260 * 24


def test_nowcast_equals_the_batch_forward_filter_day_by_day() -> None:
    """Each day's live close steps the filter exactly like the batch filter over all days; an
    intraday price moves only the provisional day, and the next day commits its last price."""
    close = sp500.load()["Adj Close"]
    close.index = pd.DatetimeIndex(close.index)
    fit_part, live_part = close.iloc[:3000], close.iloc[3000:3200]
    model = fit_hmm_regimes(fit_part.pct_change().dropna(), 3)
    nowcast = RegimeNowcast(model, fit_part)
    batch = model.filter(close.iloc[:3200].pct_change().dropna()).probabilities
    for moment, price in live_part.items():
        day = pd.Timestamp(moment).date()
        nowcast.update(day, float(price) * 1.05)  # an intraday price, replaced by the close
        got = nowcast.update(day, float(price))
        want = batch.loc[moment]
        np.testing.assert_allclose(
            [got[label] for label in model.labels], want.to_numpy(), rtol=0, atol=1e-10
        )
    # a bar of a day already committed leaves the probabilities unchanged
    first_day = pd.Timestamp(live_part.index[0]).date()
    assert nowcast.update(first_day, 1.0) == nowcast.update(first_day, 2.0)
