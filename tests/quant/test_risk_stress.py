"""Stress P&L hand-checked per position and factor; historical scenarios; correlation shifts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from sextant_quant.risk import (
    STANDARD_SHOCKS,
    AssetClass,
    Portfolio,
    Position,
    RiskInputError,
    Shock,
    correlation_regime_shift,
    covid_2020_03,
    equity_move,
    gfc_2008,
    normal_var,
    rates_2022,
    shock_scenario,
)

# A plain string where an AssetClass belongs, as a caller without a type checker could pass.
NOT_AN_ASSET_CLASS: Any = "stock"


@pytest.fixture
def portfolio() -> Portfolio:
    return Portfolio(
        (
            Position("stock", 1_000_000, AssetClass.EQUITY, beta=1.2),
            Position("bond", 500_000, AssetClass.FIXED_INCOME, duration=7.0, convexity=60.0),
            Position(
                "call",
                50_000,
                AssetClass.OPTION,
                delta=300_000,
                gamma=400_000,
                vega=2_000,
                implied_vol=0.20,
            ),
            Position("eu_stock", 200_000, AssetClass.EQUITY, currency="EUR"),
            Position("tsy_future", 0.0, AssetClass.FIXED_INCOME, dv01=450.0),
        )
    )


def test_standard_shocks_hand_checked(portfolio):
    results = shock_scenario(portfolio, STANDARD_SHOCKS)
    equity = results["equity -20%"]
    assert equity.by_position == pytest.approx(
        {
            "stock": 1_000_000 * 1.2 * -0.2,  # -240,000
            "bond": 0.0,
            "call": 300_000 * -0.2 + 0.5 * 400_000 * 0.04,  # delta -60,000 + gamma 8,000
            "eu_stock": 200_000 * -0.2,  # -40,000, no FX move in this shock
            "tsy_future": 0.0,
        }
    )
    assert equity.total == pytest.approx(-332_000)
    assert equity.total_return == pytest.approx(-332_000 / 1_750_000)

    rates = results["rates +100bp"]
    assert rates.by_position["bond"] == pytest.approx(
        -500_000 * 7 * 0.01 + 0.5 * 500_000 * 60 * 1e-4
    )
    assert rates.by_position["tsy_future"] == pytest.approx(-450.0 * 100)
    assert rates.total == pytest.approx(-33_500 - 45_000)

    vol = results["vol x2"]
    assert vol.by_position["call"] == pytest.approx(2_000 * 20.0)  # 20 vol points more
    assert vol.total == pytest.approx(40_000)

    fx = results["base currency +10%"]
    assert fx.by_position["eu_stock"] == pytest.approx(200_000 * (1 / 1.1 - 1))
    assert fx.by_factor == pytest.approx(
        {"equity": 0.0, "rates": 0.0, "vol": 0.0, "fx": 200_000 * (1 / 1.1 - 1)}
    )


def test_fx_converts_local_pnl_at_the_shocked_rate(portfolio):
    shock = Shock("crash + EUR -10%", equity=-0.2, fx={"EUR": -0.10})
    row = {p.position_id: p for p in shock_scenario(portfolio, shock)[shock.name].positions}
    assert row["eu_stock"].equity == pytest.approx(-40_000)
    assert row["eu_stock"].fx == pytest.approx((200_000 - 40_000) * -0.10)
    assert row["eu_stock"].total == pytest.approx(200_000 * (0.8 * 0.9 - 1))


def test_gfc_scenario_from_real_sp500_levels(portfolio):
    from arch.data import sp500

    levels = sp500.load()["Adj Close"]
    shock = gfc_2008(levels)
    # arch.data.sp500: peak 1277.579956 on 2008-09-02, trough 848.919983 on 2008-10-27.
    assert shock.equity == pytest.approx(848.919983 / 1277.579956 - 1, rel=1e-8)
    window = equity_move(levels, "2008-09-01", "2008-10-31", measure="window")
    assert window == pytest.approx(968.75 / 1277.579956 - 1, rel=1e-8)
    pnl = shock_scenario(portfolio, shock)[shock.name]
    assert pnl.by_position["stock"] == pytest.approx(1_200_000 * shock.equity)
    with pytest.raises(RiskInputError, match=r"spans 1999-01-04..2018-12-31"):
        equity_move(levels, "2020-02-19", "2020-03-23")


def test_equity_move_hand_example_on_a_utc_series():
    levels = pd.Series(
        [100.0, 120.0, 90.0, 110.0], index=pd.date_range("2024-01-01", periods=4, tz="UTC")
    )
    assert equity_move(levels, "2024-01-01", "2024-01-04") == pytest.approx(90 / 120 - 1)
    assert equity_move(levels, "2024-01-01", "2024-01-04", measure="window") == pytest.approx(0.1)
    assert equity_move(levels, "2024-01-03", "2024-01-04", measure="window") == pytest.approx(
        110 / 90 - 1
    )


def test_documented_scenarios_apply_like_any_shock(portfolio):
    covid, y2022 = covid_2020_03(), rates_2022()
    assert covid.equity == pytest.approx(-0.339, abs=1e-3)
    assert y2022.rates_bp == pytest.approx(236.0)
    results = shock_scenario(portfolio, {s.name: s for s in (covid, y2022)})
    bond = results["2022 rates"].by_position["bond"]
    dy = 0.0236
    assert bond == pytest.approx(-500_000 * 7 * dy + 0.5 * 500_000 * 60 * dy * dy)
    call = results["COVID 2020-03"].by_position["call"]
    r = covid.equity
    assert call == pytest.approx(300_000 * r + 0.5 * 400_000 * r * r + 2_000 * covid.vol_points)


def test_stress_input_errors(portfolio):
    no_vol = Portfolio((Position("opt", 10.0, AssetClass.OPTION, delta=5.0, vega=1.0),))
    with pytest.raises(RiskInputError, match="opt has vega but implied_vol=0"):
        shock_scenario(no_vol, STANDARD_SHOCKS)
    with pytest.raises(RiskInputError, match="fx move for the base currency USD"):
        shock_scenario(portfolio, Shock("usd", fx={"USD": 0.1}))
    with pytest.raises(RiskInputError, match="duplicate ids: a"):
        Portfolio((Position("a", 1.0, AssetClass.EQUITY), Position("a", 2.0, AssetClass.EQUITY)))
    with pytest.raises(RiskInputError, match="market_value must be finite"):
        Position("x", float("nan"), AssetClass.EQUITY)
    with pytest.raises(RiskInputError, match="asset_class must be one of equity"):
        Position("x", 1.0, NOT_AN_ASSET_CLASS)
    with pytest.raises(RiskInputError, match="duplicate names: s"):
        shock_scenario(portfolio, [Shock("s"), Shock("s")])


@pytest.fixture
def four_assets() -> tuple[np.ndarray, np.ndarray]:
    vols = np.array([0.01, 0.02, 0.015, 0.012])
    corr = np.array(
        [
            [1.0, 0.2, -0.1, 0.3],
            [0.2, 1.0, 0.1, 0.0],
            [-0.1, 0.1, 1.0, 0.25],
            [0.3, 0.0, 0.25, 1.0],
        ]
    )
    return np.array([0.4, 0.2, 0.2, 0.2]), corr * np.outer(vols, vols)


def test_correlation_shift_raises_var_keeps_vols_and_psd(four_assets):
    w, cov = four_assets
    shift = correlation_regime_shift(w, cov, risk_off_corr=0.8, blend=0.5)
    assert shift.after.var > shift.before.var
    assert shift.var_change == pytest.approx(shift.after.var - shift.before.var)
    np.testing.assert_allclose(np.diag(shift.cov), np.diag(cov), rtol=1e-14)
    assert np.linalg.eigvalsh(shift.cov)[0] > 0 and not shift.psd_repaired
    # Hand check: correlations are halfway to 0.8.
    vols = np.sqrt(np.diag(cov))
    corr = cov / np.outer(vols, vols)
    target = 0.5 * corr + 0.5 * np.full((4, 4), 0.8)
    np.fill_diagonal(target, 1.0)
    np.testing.assert_allclose(shift.corr, target, atol=1e-15)
    expected = normal_var(w, target * np.outer(vols, vols), confidence=0.99)
    assert shift.after.var == pytest.approx(expected.var, rel=1e-12)
    unchanged = correlation_regime_shift(w, cov, risk_off_corr=0.8, blend=0.0)
    assert unchanged.var_change == pytest.approx(0.0, abs=1e-15)


def test_correlation_shift_repairs_a_non_psd_risk_off_matrix(four_assets):
    w, cov = four_assets
    risk_off = np.array(
        [
            [1.0, 0.95, 0.95, -0.6],
            [0.95, 1.0, 0.95, 0.9],
            [0.95, 0.95, 1.0, 0.9],
            [-0.6, 0.9, 0.9, 1.0],
        ]
    )
    assert np.linalg.eigvalsh(risk_off)[0] < 0
    shift = correlation_regime_shift(w, cov, risk_off, blend=1.0)
    assert shift.psd_repaired and shift.min_eigenvalue < 0
    assert np.linalg.eigvalsh(shift.corr)[0] > -1e-12
    np.testing.assert_allclose(np.diag(shift.corr), 1.0, rtol=1e-14)
    np.testing.assert_allclose(np.diag(shift.cov), np.diag(cov), rtol=1e-14)


def test_correlation_shift_input_errors(four_assets):
    w, cov = four_assets
    with pytest.raises(RiskInputError, match="blend must be in"):
        correlation_regime_shift(w, cov, 0.8, blend=1.5)
    with pytest.raises(RiskInputError, match="risk_off_corr must be in"):
        correlation_regime_shift(w, cov, 1.2)
    with pytest.raises(RiskInputError, match="unit diagonal"):
        correlation_regime_shift(w, cov, np.full((4, 4), 0.5))
