"""Strategy specs and the command-bar parser."""

from __future__ import annotations

import numpy as np
import pytest

from sextant_quant.backtest import (
    BacktestInputError,
    BuyAndHold,
    EmaCross,
    MaCross,
    MeanReversion,
    Momentum,
    SmaCross,
    crossed_above,
    ema,
    parse_command,
    parse_spec,
    sma,
)
from sextant_quant.backtest.indicators import CrossDetector, EmaIndicator, SmaIndicator


def test_parse_mixed_cross() -> None:
    spec = parse_spec("50SMA.200EMA")
    assert spec == MaCross(50, 200, "SMA", "EMA")
    assert str(spec) == "50SMA.200EMA"
    assert parse_spec("sma50.ema200") == spec


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SMA(10,30)", SmaCross(10, 30)),
        ("EMA(12, 26)", EmaCross(12, 26)),
        ("MOM(126)", Momentum(126)),
        ("MR(20,2,0.5)", MeanReversion(20, 2.0, 0.5)),
        ("MR(20)", MeanReversion(20)),
        ("BH", BuyAndHold()),
        ("10EMA.30EMA/LS", EmaCross(10, 30, allow_short=True)),
    ],
)
def test_parse_forms(text: str, expected: object) -> None:
    assert parse_spec(text) == expected


def test_parse_command() -> None:
    assert parse_command("BACKTEST spx 50SMA.200EMA") == ("SPX", MaCross(50, 200, "SMA", "EMA"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("50SMMA.200EMA", "unknown indicator 'SMMA' in '50SMMA'"),
        ("50SMA", "unknown strategy '50SMA'"),
        ("50SMA.200EMA.300SMA", "bad moving-average cross"),
        ("200SMA.50SMA", "fast must be < slow"),
        ("0SMA.50SMA", "fast must be >= 1"),
        ("FOO(3)", "unknown indicator 'FOO'"),
        ("MOM(x)", "bad number 'X'"),
        ("MR(20,0.5,1)", "z_entry must be > z_exit"),
        ("", "empty strategy"),
        ("BH/LS", "does not apply"),
    ],
)
def test_parse_errors_name_the_token(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        parse_spec(text)


def test_parse_command_errors() -> None:
    with pytest.raises(BacktestInputError, match="expected the BACKTEST command"):
        parse_command("CHART SPX")
    with pytest.raises(BacktestInputError, match="takes a symbol and a strategy"):
        parse_command("BACKTEST SPX")


def test_impossible_parameters() -> None:
    with pytest.raises(ValueError, match="fast must be < slow"):
        SmaCross(50, 50)
    with pytest.raises(ValueError, match="lookback must be >= 1"):
        Momentum(0)
    with pytest.raises(ValueError, match="window must be >= 2"):
        MeanReversion(1)
    with pytest.raises(ValueError, match="fast_kind must be one of"):
        MaCross(5, 10, "WMA", "SMA")  # type: ignore[arg-type]


def test_sma_ema_match_pandas() -> None:
    pd = pytest.importorskip("pandas")
    px = 100 + np.random.default_rng(1).normal(0, 1, 300).cumsum()
    np.testing.assert_allclose(sma(px, 20), pd.Series(px).rolling(20).mean(), rtol=1e-12)
    expected = pd.Series(px).ewm(span=20, adjust=False, min_periods=20).mean()
    np.testing.assert_allclose(ema(px, 20), expected, rtol=1e-12)


def test_incremental_indicators_are_bit_identical() -> None:
    px = 100 + np.random.default_rng(2).normal(0, 1, 500).cumsum()
    s, e = SmaIndicator(30), EmaIndicator(30)
    inc_s = np.array([s.update(p) for p in px.tolist()])
    inc_e = np.array([e.update(p) for p in px.tolist()])
    np.testing.assert_array_equal(inc_s, sma(px, 30))
    np.testing.assert_array_equal(inc_e, ema(px, 30))


def test_cross_needs_a_prior_below_state() -> None:
    fast = np.array([np.nan, 2.0, 3.0, 1.0, 1.0, 2.0, 2.0, 3.0])
    slow = np.array([np.nan, 1.0, 1.0, 2.0, 1.0, 1.0, 2.0, 1.0])
    # bar 1-2: starts above -> no entry; bar 3 below; bar 4 equal; bar 5 above -> entry;
    # bar 6 equal; bar 7 above again -> fires again (vectorbt's rule)
    assert crossed_above(fast, slow).tolist() == [False] * 5 + [True, False, True]
    det = CrossDetector()
    got = [det.update(f, s) for f, s in zip(fast, slow, strict=True)]
    assert got == [0, 0, 0, -1, 0, 1, 0, 1]


def test_target_positions() -> None:
    px = np.array([10, 9, 8, 9, 10, 11, 12, 11, 10, 9, 8.0])
    tg = SmaCross(1, 3).target_positions(px)
    assert tg.tolist() == [0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0]
    mom = Momentum(2, allow_short=True).target_positions(px)
    assert mom.tolist() == [0, 0, -1, -1, 1, 1, 1, 1, -1, -1, -1]  # equal price: unchanged
    assert BuyAndHold().target_positions(px).tolist() == [1] * 11
    mr = MeanReversion(3, 1.0, 0.0).target_positions(px)
    assert mr.dtype == np.int8 and set(mr.tolist()) <= {0, 1}


def test_spec_rejects_bad_prices() -> None:
    with pytest.raises(BacktestInputError, match="empty"):
        SmaCross(2, 3).target_positions([])
    with pytest.raises(BacktestInputError, match="first at bar 2"):
        SmaCross(2, 3).target_positions([1.0, 2.0, np.nan, 3.0])
