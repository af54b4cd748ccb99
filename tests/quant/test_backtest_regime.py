"""RegimeFiltered: inner positions only in allowed causal HMM regimes; no look-ahead with
``fit_until``; the ``/REG`` text form."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sextant_quant.backtest import (
    BAR_DTYPE,
    BacktestInputError,
    BuyAndHold,
    MaCross,
    Momentum,
    RegimeFiltered,
    SmaCross,
    SpecStrategy,
    parse_spec,
    run_events,
    run_spec,
    run_targets,
)
from sextant_quant.regimes import fit_hmm_regimes


def regime_prices(seed: int = 7) -> np.ndarray:
    """Calm up-trends alternating with volatile sell-offs and flat stretches."""
    rng = np.random.default_rng(seed)
    parts = []
    for _ in range(4):
        parts.append(rng.normal(0.0015, 0.006, 160))
        parts.append(rng.normal(-0.003, 0.025, 70))
        parts.append(rng.normal(0.0, 0.012, 90))
    out: np.ndarray = 100.0 * np.exp(np.cumsum(np.concatenate(parts)))
    return out


CLOSE = regime_prices()


def test_flat_wherever_the_filtered_regime_is_not_allowed() -> None:
    spec = RegimeFiltered(SmaCross(5, 20), allowed=("bull",), n_init=2)
    labels = spec.regimes(CLOSE)
    inner = SmaCross(5, 20).target_positions(CLOSE)
    pos = spec.target_positions(CLOSE)
    allowed = labels == "bull"
    assert (labels[: spec.vol_window] == "").all()
    assert allowed.sum() > 100 and (~allowed & (inner != 0)).sum() > 20  # not trivial
    assert (pos[~allowed] == 0).all()
    np.testing.assert_array_equal(pos[allowed], inner[allowed])
    # the labels are sextant_quant.regimes' filtered states on the close-to-close returns
    returns = pd.Series(CLOSE[1:] / CLOSE[:-1] - 1, index=pd.RangeIndex(1, len(CLOSE)))
    model = fit_hmm_regimes(returns, 3, periods_per_year=252.0, n_init=2)
    states = model.filter(returns).states
    np.testing.assert_array_equal(labels[states.index], states.astype(str).to_numpy())


def test_fit_until_has_no_look_ahead() -> None:
    spec = RegimeFiltered(Momentum(10), fit_until=600, n_init=2)
    t = 800
    changed = CLOSE.copy()
    rng = np.random.default_rng(1)
    changed[t + 1 :] *= np.exp(np.cumsum(rng.normal(-0.01, 0.05, len(CLOSE) - t - 1)))
    a, b = spec.target_positions(CLOSE), spec.target_positions(changed)
    np.testing.assert_array_equal(a[: t + 1], b[: t + 1])
    np.testing.assert_array_equal(spec.regimes(CLOSE)[: t + 1], spec.regimes(changed)[: t + 1])
    assert (a[: t + 1] != 0).any() and (a[: t + 1] == 0).any()


def test_runs_on_the_vectorized_engine_only() -> None:
    spec = RegimeFiltered(BuyAndHold(), n_init=2)
    res = run_spec(CLOSE, spec, fees=0.001)
    ref = run_targets(CLOSE, spec.target_positions(CLOSE), fees=0.001)
    np.testing.assert_allclose(res.equity, ref.equity)
    bars = np.zeros(3, dtype=BAR_DTYPE)
    bars["ts"] = np.arange(3)
    bars["open"] = bars["high"] = bars["low"] = bars["close"] = CLOSE[:3]
    with pytest.raises(BacktestInputError, match="run_spec"):
        run_events({"X": bars}, SpecStrategy(spec))


def test_parse_reg_modifier() -> None:
    assert parse_spec("50SMA.200EMA/REG") == RegimeFiltered(MaCross(50, 200, "SMA", "EMA"))
    spec = parse_spec("mom(126)/ls/reg")
    assert spec == RegimeFiltered(Momentum(126, allow_short=True))
    assert str(spec) == "MOM(126)/LS/REG" and parse_spec(str(spec)) == spec
    for bad in ("BH/REG/REG", "50SMA.200EMA/XX"):
        with pytest.raises(BacktestInputError, match="bad modifier"):
            parse_spec(bad)


def test_bad_regime_parameters() -> None:
    with pytest.raises(BacktestInputError, match="non-empty subset"):
        RegimeFiltered(BuyAndHold(), allowed=("boom",))
    with pytest.raises(BacktestInputError, match="cannot wrap"):
        RegimeFiltered(RegimeFiltered(BuyAndHold()))
    with pytest.raises(BacktestInputError, match="cannot fit its HMM"):
        RegimeFiltered(BuyAndHold(), fit_until=50).target_positions(CLOSE)
